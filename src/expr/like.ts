/**
 * LIKE patterns: `%` matches any run of characters, `_` exactly one code point, and a backslash
 * makes the next character literal (`\%`, `\_`, `\\`). Patterns that reduce to equality, prefix,
 * suffix or infix tests become plain string calls, which is what makes `like "pre%"` fast.
 *
 * General patterns do not become regular expressions: `%a%a%a%b` against a long string would
 * backtrack polynomially in V8's engine, a cheap way to stall a query node. The segment matcher
 * below is linear in the string for each `%`-separated segment: segments have a fixed length in
 * code points, so the leftmost match of each middle segment is always the right choice.
 */
import type { LikeMatch } from './plan.js'

export interface LikePlan {
  readonly match: LikeMatch
  /** Literal text for equal/prefix/suffix/infix; the pattern as written for 'pattern'. */
  readonly operand: string
}

/** One code point to match literally, or ONE for `_`. */
type Elem = string | typeof ONE
const ONE = 0

type Part = { readonly lit: string } | { readonly any: true } | { readonly one: true }

function parts(pattern: string): Part[] {
  const out: Part[] = []
  let lit = ''
  const flush = (): void => {
    if (lit) out.push({ lit })
    lit = ''
  }
  const chars = Array.from(pattern)
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i]!
    if (c === '\\' && i + 1 < chars.length) {
      lit += chars[++i]
    } else if (c === '%') {
      flush()
      const prev = out[out.length - 1]
      if (!(prev && 'any' in prev)) out.push({ any: true })
    } else if (c === '_') {
      flush()
      out.push({ one: true })
    } else {
      lit += c
    }
  }
  flush()
  return out
}

export function planLike(pattern: string): LikePlan {
  const ps = parts(pattern)
  const isAny = (p: Part | undefined): boolean => p !== undefined && 'any' in p
  const litOf = (p: Part | undefined): string | undefined => (p !== undefined && 'lit' in p ? p.lit : undefined)
  if (!ps.some((p) => 'one' in p)) {
    if (ps.length === 0) return { match: 'equal', operand: '' }
    if (ps.length === 1) {
      const l = litOf(ps[0])
      return l !== undefined ? { match: 'equal', operand: l } : { match: 'prefix', operand: '' }
    }
    if (ps.length === 2) {
      const [a, b] = ps
      const la = litOf(a)
      const lb = litOf(b)
      if (la !== undefined && isAny(b)) return { match: 'prefix', operand: la }
      if (isAny(a) && lb !== undefined) return { match: 'suffix', operand: lb }
    }
    if (ps.length === 3 && isAny(ps[0]) && isAny(ps[2])) {
      const l = litOf(ps[1])
      if (l !== undefined) return { match: 'infix', operand: l }
    }
  }
  return { match: 'pattern', operand: pattern }
}

function isHigh(c: number): boolean {
  return c >= 0xd800 && c <= 0xdbff
}

function isLow(c: number): boolean {
  return c >= 0xdc00 && c <= 0xdfff
}

/** Index after one code point starting at p. */
function stepCp(s: string, p: number): number {
  return isHigh(s.charCodeAt(p)) && isLow(s.charCodeAt(p + 1)) ? p + 2 : p + 1
}

/** End index when `seg` matches s at p, else -1. */
function matchAt(s: string, p: number, seg: readonly Elem[]): number {
  for (const e of seg) {
    if (e === ONE) {
      if (p >= s.length) return -1
      p = stepCp(s, p)
    } else {
      if (!s.startsWith(e, p)) return -1
      p += e.length
    }
  }
  return p
}

/** Compiles a general LIKE pattern into a linear-time matcher over code points. */
export function likeMatcher(pattern: string): (s: string) => boolean {
  const segs: Elem[][] = [[]]
  for (const p of parts(pattern)) {
    if ('any' in p) segs.push([])
    else if ('one' in p) segs[segs.length - 1]!.push(ONE)
    else segs[segs.length - 1]!.push(...Array.from(p.lit))
  }
  const first = segs[0]!
  if (segs.length === 1) return (s) => matchAt(s, 0, first) === s.length
  const middle = segs.slice(1, -1)
  const last = segs[segs.length - 1]!
  return (s) => {
    let p = matchAt(s, 0, first)
    if (p < 0) return false
    for (const seg of middle) {
      let q = p
      let e = matchAt(s, q, seg)
      while (e < 0) {
        if (q >= s.length) return false
        q = stepCp(s, q)
        e = matchAt(s, q, seg)
      }
      p = e
    }
    // The last segment is anchored at the end: walk back its length in code points.
    let q = s.length
    for (let k = 0; k < last.length; k++) {
      if (q <= p) return false
      q--
      if (q > 0 && isLow(s.charCodeAt(q)) && isHigh(s.charCodeAt(q - 1))) q--
    }
    return q >= p && matchAt(s, q, last) === s.length
  }
}

/** One LIKE test with the same plan the evaluator specialises per column. */
export function likeTest(plan: LikePlan): (s: string) => boolean {
  const op = plan.operand
  switch (plan.match) {
    case 'equal':
      return (s) => s === op
    case 'prefix':
      return (s) => s.startsWith(op)
    case 'suffix':
      return (s) => s.endsWith(op)
    case 'infix':
      return (s) => s.includes(op)
    case 'pattern':
      return likeMatcher(op)
  }
}
