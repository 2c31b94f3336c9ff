import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { likeMatcher, likeTest, planLike } from './like.js'

/** Backtracking reference over code points, written independently of the segment matcher. */
function reference(pattern: string, s: string): boolean {
  const p = Array.from(pattern)
  const toks: Array<{ lit: string } | '%' | '_'> = []
  for (let i = 0; i < p.length; i++) {
    if (p[i] === '\\' && i + 1 < p.length) toks.push({ lit: p[++i]! })
    else if (p[i] === '%' || p[i] === '_') toks.push(p[i] as '%' | '_')
    else toks.push({ lit: p[i]! })
  }
  const cs = Array.from(s)
  const go = (i: number, j: number): boolean => {
    if (j === toks.length) return i === cs.length
    const t = toks[j]!
    if (t === '%') return go(i, j + 1) || (i < cs.length && go(i + 1, j))
    if (t === '_') return i < cs.length && go(i + 1, j + 1)
    return i < cs.length && cs[i] === t.lit && go(i + 1, j + 1)
  }
  return go(0, 0)
}

describe('LIKE', () => {
  it('classifies patterns into fast string tests', () => {
    assert.deepEqual(planLike('abc'), { match: 'equal', operand: 'abc' })
    assert.deepEqual(planLike('abc%'), { match: 'prefix', operand: 'abc' })
    assert.deepEqual(planLike('%abc'), { match: 'suffix', operand: 'abc' })
    assert.deepEqual(planLike('%abc%'), { match: 'infix', operand: 'abc' })
    assert.deepEqual(planLike('%%abc%%%'), { match: 'infix', operand: 'abc' })
    assert.deepEqual(planLike('%'), { match: 'prefix', operand: '' })
    assert.deepEqual(planLike('a\\%b%'), { match: 'prefix', operand: 'a%b' })
    assert.deepEqual(planLike('a_b'), { match: 'pattern', operand: 'a_b' })
    assert.deepEqual(planLike('a%b%c'), { match: 'pattern', operand: 'a%b%c' })
  })

  it('matches like a backtracking reference, surrogate pairs counted as one character', () => {
    const ch = fc.constantFrom('a', 'b', '%', '_', '\\', '😀', 'é')
    const str = fc.array(fc.constantFrom('a', 'b', '😀', 'é', '%', '_', '\\'), { maxLength: 8 }).map((a) => a.join(''))
    fc.assert(
      fc.property(fc.array(ch, { maxLength: 7 }).map((a) => a.join('')), str, (pattern, s) => {
        assert.equal(likeTest(planLike(pattern))(s), reference(pattern, s), `${JSON.stringify(pattern)} ~ ${JSON.stringify(s)}`)
        assert.equal(likeMatcher(pattern)(s), reference(pattern, s))
      }),
      { numRuns: 3000 },
    )
  })

  it('stays linear on patterns that make regex engines backtrack', () => {
    const m = likeMatcher(`${'%a'.repeat(40)}%b`)
    const s = 'a'.repeat(20_000)
    const t0 = performance.now()
    assert.equal(m(s), false)
    // Backtracking would take minutes here; the loose bound only guards against that.
    assert.ok(performance.now() - t0 < 3000)
  })
})
