/**
 * Hand-written Pratt parser for Plan.g4. Binding powers mirror the order of the ANTLR
 * alternatives (earlier = tighter), which decides the cases users trip over:
 *
 *   exists > like > ** > unary (+ - ~ not) > * / % > + - > << >> > in > range/relational > == !=
 *   > & > ^ > | > and > or
 *
 * So `not a > 1` is `(not a) > 1` and is rejected, exactly as Milvus does; `not (a > 1)` is the
 * spelling that works. `1 < a <= 5` is recognised only when the middle is a bare field or path
 * token, as in the grammar's Range rule. `and`/`or` chains come out n-ary so long chains never
 * build deep trees.
 */
import { filterError } from './diagnostics.js'
import { type Keyword, type Punct, type Token, keywordInOtherCase, tokenize } from './lexer.js'
import type { BinaryOp, ContainsFn, IdentSyntax, Syntax } from './syntax.js'

/** Nesting limit: keeps the recursive checker and evaluator far from the JS stack limit. */
export const MAX_NESTING = 300

const BP = {
  or: 1,
  and: 2,
  bor: 3,
  bxor: 4,
  band: 5,
  equality: 6,
  relational: 7,
  in: 8,
  shift: 9,
  additive: 10,
  multiplicative: 11,
  unary: 12,
  power: 13,
  like: 14,
  exists: 15,
} as const

const INFIX: ReadonlyMap<Punct, { op: BinaryOp; bp: number }> = new Map<Punct, { op: BinaryOp; bp: number }>([
  ['**', { op: '**', bp: BP.power }],
  ['*', { op: '*', bp: BP.multiplicative }],
  ['/', { op: '/', bp: BP.multiplicative }],
  ['%', { op: '%', bp: BP.multiplicative }],
  ['+', { op: '+', bp: BP.additive }],
  ['-', { op: '-', bp: BP.additive }],
  ['<<', { op: '<<', bp: BP.shift }],
  ['>>', { op: '>>', bp: BP.shift }],
  ['<', { op: '<', bp: BP.relational }],
  ['<=', { op: '<=', bp: BP.relational }],
  ['>', { op: '>', bp: BP.relational }],
  ['>=', { op: '>=', bp: BP.relational }],
  ['==', { op: '==', bp: BP.equality }],
  ['!=', { op: '!=', bp: BP.equality }],
  ['&', { op: '&', bp: BP.band }],
  ['^', { op: '^', bp: BP.bxor }],
  ['|', { op: '|', bp: BP.bor }],
])

const CONTAINS_FNS: ReadonlySet<Keyword> = new Set<Keyword>([
  'json_contains',
  'json_contains_all',
  'json_contains_any',
  'array_contains',
  'array_contains_all',
  'array_contains_any',
])

function clip(s: string): string {
  return s.length <= 40 ? s : `${s.slice(0, 40)}...`
}

export function describeToken(t: Token): string {
  switch (t.type) {
    case 'eof':
      return 'end of expression'
    case 'int':
    case 'float':
      return `number ${clip(String(t.value))}`
    case 'string':
      return `string ${JSON.stringify(clip(t.value))}`
    case 'bool':
      return `"${t.value}"`
    case 'ident':
      return `identifier "${clip(t.name + (t.path ?? []).map((p) => `[${p.quoted ? JSON.stringify(p.key) : p.key}]`).join(''))}"`
    case 'keyword':
      return `"${t.keyword}"`
    case 'isnull':
      return t.negated ? '"is not null"' : '"is null"'
    case 'punct':
      return `"${t.punct}"`
  }
}

class Parser {
  private i = 0
  private depth = 0
  private readonly depths = new WeakMap<Syntax, number>()

  constructor(
    private readonly text: string,
    private readonly toks: readonly Token[],
  ) {}

  private peek(k = 0): Token {
    const t = this.toks[Math.min(this.i + k, this.toks.length - 1)]
    if (!t) throw new Error('lexer produced no tokens')
    return t
  }

  private take(): Token {
    const t = this.peek()
    if (t.type !== 'eof') this.i++
    return t
  }

  private fail(at: number, problem: string): never {
    throw filterError(this.text, at, problem)
  }

  private unexpected(t: Token, context?: string): never {
    let problem = `unexpected ${describeToken(t)}`
    if (context) problem += ` ${context}`
    if (t.type === 'ident' && !t.path) {
      const kw = keywordInOtherCase(t.name)
      if (kw) problem += ` (keywords must be all lower-case or all upper-case: "${kw}" or "${kw.toUpperCase()}")`
    }
    this.fail(t.pos, problem)
  }

  private isPunct(t: Token, p: Punct): boolean {
    return t.type === 'punct' && t.punct === p
  }

  private isKeyword(t: Token, k: Keyword): boolean {
    return t.type === 'keyword' && t.keyword === k
  }

  private expectPunct(p: Punct, context: string): Token {
    const t = this.peek()
    if (!this.isPunct(t, p)) this.unexpected(t, `(expected "${p}" ${context})`)
    return this.take()
  }

  /** Records and bounds the height of a freshly built node. */
  private node<T extends Syntax>(n: T, children: readonly Syntax[]): T {
    let h = 0
    for (const c of children) h = Math.max(h, this.depths.get(c) ?? 0)
    if (h + 1 > MAX_NESTING) this.fail(n.pos, `expression is nested too deeply (more than ${MAX_NESTING} levels)`)
    this.depths.set(n, h + 1)
    return n
  }

  parseFilter(): Syntax {
    const e = this.expr(0)
    const t = this.peek()
    if (t.type !== 'eof') this.unexpected(t)
    return e
  }

  private expr(minBp: number): Syntax {
    if (++this.depth > MAX_NESTING) this.fail(this.peek().pos, `expression is nested too deeply (more than ${MAX_NESTING} levels)`)
    try {
      let left = this.prefix()
      for (;;) {
        const t = this.peek()
        if (t.type === 'keyword' && (t.keyword === 'and' || t.keyword === 'or')) {
          const bp = t.keyword === 'and' ? BP.and : BP.or
          if (bp < minBp) break
          left = this.logicChain(left, t.keyword, bp)
          continue
        }
        if (this.isKeyword(t, 'like')) {
          if (BP.like < minBp) break
          this.take()
          const p = this.peek()
          let pattern: Syntax
          if (p.type === 'string') {
            this.take()
            pattern = { k: 'string', value: p.value, pos: p.pos, end: p.end }
          } else if (this.isPunct(p, '{')) {
            pattern = this.template()
          } else {
            this.unexpected(p, '(LIKE needs a quoted pattern)')
          }
          left = this.node({ k: 'like', left, pattern, pos: left.pos, end: pattern.end }, [left])
          continue
        }
        if (this.isKeyword(t, 'in') || (this.isKeyword(t, 'not') && this.isKeyword(this.peek(1), 'in'))) {
          if (BP.in < minBp) break
          const negated = this.isKeyword(t, 'not')
          this.take()
          if (negated) this.take()
          const right = this.expr(BP.in + 1)
          left = this.node({ k: 'in', negated, left, right, pos: left.pos, end: right.end }, [left, right])
          continue
        }
        if (t.type !== 'punct') break
        const info = INFIX.get(t.punct)
        if (!info || info.bp < minBp) break
        this.take()
        if (info.bp === BP.relational) {
          const range = this.tryRange(left, info.op)
          if (range) {
            left = range
            continue
          }
        }
        const right = this.expr(info.bp + 1)
        left = this.node(
          { k: 'binary', op: info.op, opPos: t.pos, left, right, pos: left.pos, end: right.end },
          [left, right],
        )
      }
      return left
    } finally {
      this.depth--
    }
  }

  private logicChain(first: Syntax, op: 'and' | 'or', bp: number): Syntax {
    const items: Syntax[] = [first]
    while (this.isKeyword(this.peek(), op)) {
      this.take()
      items.push(this.expr(bp + 1))
    }
    const last = items[items.length - 1] ?? first
    return this.node({ k: 'logic', op, items, pos: first.pos, end: last.end }, items)
  }

  /** `lower < field < upper` (or all `>`): only when the middle is a single field/path token. */
  private tryRange(lower: Syntax, op1: BinaryOp): Syntax | undefined {
    const mid = this.peek()
    const op2 = this.peek(1)
    if (mid.type !== 'ident' || (mid.meta && !mid.path) || op2.type !== 'punct') return undefined
    const ascending = op1 === '<' || op1 === '<='
    const ok = ascending ? op2.punct === '<' || op2.punct === '<=' : op2.punct === '>' || op2.punct === '>='
    if (!ok) return undefined
    this.take()
    this.take()
    const ident = this.identNode(mid)
    const upper = this.expr(BP.relational + 1)
    const inc1 = op1 === '<=' || op1 === '>='
    const inc2 = op2.punct === '<=' || op2.punct === '>='
    // For `a > x > b` the written order is upper, field, lower.
    const n: Syntax = ascending
      ? { k: 'range', lower, lowerInclusive: inc1, mid: ident, upper, upperInclusive: inc2, pos: lower.pos, end: upper.end }
      : { k: 'range', lower: upper, lowerInclusive: inc2, mid: ident, upper: lower, upperInclusive: inc1, pos: lower.pos, end: upper.end }
    return this.node(n, [lower, upper])
  }

  private identNode(t: Token & { type: 'ident' }): IdentSyntax {
    return t.path
      ? { k: 'ident', name: t.name, meta: t.meta, path: t.path, pos: t.pos, end: t.end }
      : { k: 'ident', name: t.name, meta: t.meta, pos: t.pos, end: t.end }
  }

  private template(): Syntax {
    const open = this.take()
    const name = this.peek()
    if (name.type !== 'ident' || name.meta || name.path) this.unexpected(name, '(expected a template variable name after "{")')
    this.take()
    const close = this.expectPunct('}', 'to close the template variable')
    return { k: 'template', name: name.name, pos: open.pos, end: close.end }
  }

  private prefix(): Syntax {
    const t = this.peek()
    switch (t.type) {
      case 'int':
        this.take()
        return { k: 'int', value: t.value, pos: t.pos, end: t.end }
      case 'float':
        this.take()
        return { k: 'float', value: t.value, pos: t.pos, end: t.end }
      case 'string':
        this.take()
        return { k: 'string', value: t.value, pos: t.pos, end: t.end }
      case 'bool':
        this.take()
        return { k: 'bool', value: t.value, pos: t.pos, end: t.end }
      case 'ident': {
        this.take()
        const ident = this.identNode(t)
        const nx = this.peek()
        if (nx.type === 'isnull' && !(t.meta && !t.path)) {
          this.take()
          return { k: 'isnull', ident, negated: nx.negated, pos: t.pos, end: nx.end }
        }
        if (this.isPunct(nx, '(') && !t.meta && !t.path) return this.call(t.name, t.pos)
        return ident
      }
      case 'keyword':
        return this.keywordPrefix(t)
      case 'punct':
        switch (t.punct) {
          case '(': {
            this.take()
            const inner = this.expr(0)
            const close = this.expectPunct(')', 'to close the parenthesis')
            return this.node({ k: 'paren', inner, pos: t.pos, end: close.end }, [inner])
          }
          case '[':
            return this.list()
          case '{':
            return this.template()
          case '+':
          case '-':
          case '~': {
            this.take()
            const arg = this.expr(BP.unary)
            return this.node({ k: 'unary', op: t.punct, arg, pos: t.pos, end: arg.end }, [arg])
          }
          default:
            return this.unexpected(t)
        }
      default:
        return this.unexpected(t)
    }
  }

  private keywordPrefix(t: Token & { type: 'keyword' }): Syntax {
    switch (t.keyword) {
      case 'not': {
        this.take()
        const arg = this.expr(BP.unary)
        return this.node({ k: 'unary', op: 'not', arg, pos: t.pos, end: arg.end }, [arg])
      }
      case 'exists': {
        this.take()
        const arg = this.expr(BP.exists)
        return this.node({ k: 'exists', arg, pos: t.pos, end: arg.end }, [arg])
      }
      case 'array_length': {
        this.take()
        this.expectPunct('(', 'after array_length')
        const a = this.peek()
        if (a.type !== 'ident' || (a.meta && !a.path)) this.unexpected(a, '(array_length takes a field name or JSON path)')
        this.take()
        const close = this.expectPunct(')', 'to close array_length(')
        return { k: 'array_length', arg: this.identNode(a), pos: t.pos, end: close.end }
      }
      case 'random_sample': {
        this.take()
        this.expectPunct('(', 'after random_sample')
        const arg = this.expr(0)
        const close = this.expectPunct(')', 'to close random_sample(')
        return this.node({ k: 'random_sample', arg, pos: t.pos, end: close.end }, [arg])
      }
      case 'text_match':
      case 'phrase_match':
        return this.matchCall(t)
      default:
        if (CONTAINS_FNS.has(t.keyword)) {
          this.take()
          this.expectPunct('(', `after ${t.keyword}`)
          const a = this.expr(0)
          this.expectPunct(',', `between the arguments of ${t.keyword}`)
          const b = this.expr(0)
          const close = this.expectPunct(')', `to close ${t.keyword}(`)
          return this.node({ k: 'contains', fn: t.keyword as ContainsFn, args: [a, b], pos: t.pos, end: close.end }, [a, b])
        }
        return this.unexpected(t)
    }
  }

  private matchCall(t: Token & { type: 'keyword' }): Syntax {
    const fn = t.keyword
    this.take()
    this.expectPunct('(', `after ${fn}`)
    const f = this.peek()
    if (f.type !== 'ident' || f.meta || f.path) this.unexpected(f, `(${fn} takes a VarChar field name first)`)
    this.take()
    this.expectPunct(',', `after the field of ${fn}`)
    const q = this.peek()
    if (q.type !== 'string') this.unexpected(q, `(${fn} takes a quoted query string)`)
    this.take()
    if (fn === 'text_match') {
      let minShouldMatch: bigint | undefined
      if (this.isPunct(this.peek(), ',')) {
        this.take()
        const opt = this.peek()
        if (opt.type !== 'ident' || (opt.name !== 'minimum_should_match' && opt.name !== 'MINIMUM_SHOULD_MATCH') || opt.path) {
          this.unexpected(opt, '(the only text_match option is minimum_should_match=N)')
        }
        this.take()
        this.expectPunct('=', 'after minimum_should_match')
        const v = this.peek()
        if (v.type !== 'int') this.unexpected(v, '(minimum_should_match takes an integer)')
        this.take()
        minShouldMatch = v.value
      }
      const close = this.expectPunct(')', 'to close text_match(')
      const base = { k: 'text_match' as const, field: this.identNode(f), query: q.value, pos: t.pos, end: close.end }
      return minShouldMatch === undefined ? base : { ...base, minShouldMatch }
    }
    let slop: Syntax | undefined
    if (this.isPunct(this.peek(), ',')) {
      this.take()
      slop = this.expr(0)
    }
    const close = this.expectPunct(')', 'to close phrase_match(')
    const base = { k: 'phrase_match' as const, field: this.identNode(f), query: q.value, pos: t.pos, end: close.end }
    return slop ? { ...base, slop } : base
  }

  private call(name: string, pos: number): Syntax {
    this.take()
    const args: Syntax[] = []
    while (!this.isPunct(this.peek(), ')')) {
      args.push(this.expr(0))
      if (!this.isPunct(this.peek(), ',')) break
      this.take()
    }
    const close = this.expectPunct(')', `to close ${name}(`)
    return this.node({ k: 'call', name, args, pos, end: close.end }, args)
  }

  private list(): Syntax {
    const open = this.take()
    const items: Syntax[] = []
    while (!this.isPunct(this.peek(), ']')) {
      items.push(this.expr(0))
      if (!this.isPunct(this.peek(), ',')) break
      this.take()
    }
    const close = this.expectPunct(']', 'to close the list')
    return this.node({ k: 'array', items, pos: open.pos, end: close.end }, items)
  }
}

/** Parses filter text into an untyped syntax tree; throws ParameterInvalid with a position. */
export function parseSyntax(text: string): Syntax {
  return new Parser(text, tokenize(text)).parseFilter()
}
