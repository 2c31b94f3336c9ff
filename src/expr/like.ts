/**
 * LIKE patterns: `%` matches any run of characters, `_` exactly one, and a backslash makes the
 * next character literal (`\%`, `\_`, `\\`). Patterns that reduce to equality, prefix, suffix or
 * infix tests become plain string calls, which is what makes `like "pre%"` fast; the rest compile
 * to an anchored regular expression matching whole code points.
 */
import type { LikeMatch } from './plan.js'

export interface LikePlan {
  readonly match: LikeMatch
  readonly operand: string
}

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

function escapeRegex(s: string): string {
  // Only syntax characters (and `/`) may be escaped under the `u` flag.
  return s.replace(/[\\^$.*+?()[\]{}|/]/g, '\\$&')
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
  let src = '^'
  for (const p of ps) src += 'lit' in p ? escapeRegex(p.lit) : 'any' in p ? '.*' : '.'
  return { match: 'pattern', operand: `${src}$` }
}

/** Regex flags for a 'pattern' operand: `s` so `%` spans newlines, `u` so `_` is one code point. */
export const LIKE_REGEX_FLAGS = 'su'

/** Reference semantics of one LIKE test; the evaluator specialises the same plan per column. */
export function likeMatches(plan: LikePlan, s: string): boolean {
  switch (plan.match) {
    case 'equal':
      return s === plan.operand
    case 'prefix':
      return s.startsWith(plan.operand)
    case 'suffix':
      return s.endsWith(plan.operand)
    case 'infix':
      return s.includes(plan.operand)
    case 'pattern':
      return new RegExp(plan.operand, LIKE_REGEX_FLAGS).test(s)
  }
}
