import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { TopKHeap } from './top-k-heap.js'

describe('TopKHeap', () => {
  it('keeps the k smallest (key, row) pairs in order, whatever the arrival order', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: -4, max: 4 }), fc.integer({ min: 0, max: 1000 })), { maxLength: 60 }),
        fc.integer({ min: 1, max: 20 }),
        (pairs, k) => {
          // Rows are unique in a search; keep the first of each.
          const seen = new Set<number>()
          const uniq = pairs.filter(([, r]) => !seen.has(r) && seen.add(r))
          const h = new TopKHeap(k)
          for (const [key, row] of uniq) if (h.admits(key, row)) h.replaceTop(key, row)
          const { rows, keys } = h.drain()
          const want = uniq.sort((a, b) => a[0] - b[0] || a[1] - b[1]).slice(0, k)
          assert.deepEqual([...keys], want.map((p) => p[0]))
          assert.deepEqual([...rows], want.map((p) => p[1]))
        },
      ),
      { numRuns: 300 },
    )
  })

  it('never admits NaN and keeps +Infinity keys over empty slots', () => {
    const h = new TopKHeap(3)
    assert.equal(h.admits(NaN, 0), false)
    assert.equal(h.admits(Infinity, 5), true)
    h.replaceTop(Infinity, 5)
    h.replaceTop(1, 9)
    const { rows, keys } = h.drain()
    assert.deepEqual([...rows], [9, 5])
    assert.deepEqual([...keys], [1, Infinity])
  })
})
