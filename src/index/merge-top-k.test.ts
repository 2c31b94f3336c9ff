import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { mergeTopK } from './merge-top-k.js'

interface Item {
  readonly score: number
  readonly list: number
  readonly pos: number
}

/** Sorted lists of small integer scores, so ties across lists are frequent. */
const lists = (higher: boolean): fc.Arbitrary<Item[][]> =>
  fc.array(fc.array(fc.integer({ min: -5, max: 5 }), { maxLength: 12 }), { maxLength: 6 }).map((ls) =>
    ls.map((scores, list) =>
      scores.sort((a, b) => (higher ? b - a : a - b)).map((score, pos) => ({ score, list, pos })),
    ),
  )

describe('mergeTopK', () => {
  for (const higher of [true, false]) {
    it(`equals a stable sort of the concatenation (higherIsBetter=${higher})`, () => {
      fc.assert(
        fc.property(lists(higher), fc.integer({ min: 0, max: 80 }), (ls, k) => {
          // Array.prototype.sort is stable: equal scores keep list order, then position.
          const want = ls.flat().sort((a, b) => (higher ? b.score - a.score : a.score - b.score)).slice(0, k)
          assert.deepEqual(mergeTopK(ls, k, higher), want)
        }),
        { numRuns: 300 },
      )
    })
  }

  it('handles no lists, empty lists and k = 0', () => {
    assert.deepEqual(mergeTopK([], 5, true), [])
    assert.deepEqual(mergeTopK([[], []], 5, false), [])
    assert.deepEqual(mergeTopK([[{ score: 1 }]], 0, false), [])
  })

  it('does not modify its input', () => {
    const a = [{ score: 3 }, { score: 1 }]
    const b = [{ score: 2 }]
    const merged = mergeTopK([a, b], 2, true)
    assert.deepEqual(merged, [{ score: 3 }, { score: 2 }])
    assert.deepEqual(a, [{ score: 3 }, { score: 1 }])
    assert.equal(merged[0], a[0])
  })
})
