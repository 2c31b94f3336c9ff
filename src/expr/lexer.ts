/**
 * Tokenizer for Milvus's filter language (Plan.g4 lexer rules). Faithful where users can tell:
 * keywords match only all-lower or all-upper spellings, `x["a"][0]` is a single token (no spaces
 * inside brackets, as in the ANTLR JSONIdentifier rule), `is null` needs exactly one space, and
 * integers follow Go's `ParseInt(s, 0, 64)` prefixes (0x, 0b, leading 0 = octal).
 */
import { filterError } from './diagnostics.js'

export type Keyword =
  | 'and'
  | 'or'
  | 'not'
  | 'in'
  | 'like'
  | 'exists'
  | 'json_contains'
  | 'json_contains_all'
  | 'json_contains_any'
  | 'array_contains'
  | 'array_contains_all'
  | 'array_contains_any'
  | 'array_length'
  | 'text_match'
  | 'phrase_match'
  | 'random_sample'

export type Punct =
  | '('
  | ')'
  | '['
  | ']'
  | '{'
  | '}'
  | ','
  | '='
  | '=='
  | '!='
  | '<'
  | '<='
  | '>'
  | '>='
  | '+'
  | '-'
  | '*'
  | '/'
  | '%'
  | '**'
  | '<<'
  | '>>'
  | '&'
  | '|'
  | '^'
  | '~'

/** One `[...]` step of a JSON/array path; `quoted` tells `a["0"]` from `a[0]`. */
export interface PathStep {
  readonly key: string
  readonly quoted: boolean
}

interface Span {
  /** 0-based offset of the first character. */
  readonly pos: number
  /** Offset just past the token. */
  readonly end: number
}

export type Token = Span &
  (
    | { readonly type: 'int'; readonly value: bigint }
    | { readonly type: 'float'; readonly value: number }
    | { readonly type: 'string'; readonly value: string }
    | { readonly type: 'bool'; readonly value: boolean }
    /** A field name, `$meta`, or either followed by `[...]` steps. */
    | { readonly type: 'ident'; readonly name: string; readonly meta: boolean; readonly path?: readonly PathStep[] }
    | { readonly type: 'keyword'; readonly keyword: Keyword }
    | { readonly type: 'isnull'; readonly negated: boolean }
    | { readonly type: 'punct'; readonly punct: Punct }
    | { readonly type: 'eof' }
  )

const KEYWORDS: ReadonlyMap<string, Keyword> = (() => {
  const words: Keyword[] = [
    'and',
    'or',
    'not',
    'in',
    'like',
    'exists',
    'json_contains',
    'json_contains_all',
    'json_contains_any',
    'array_contains',
    'array_contains_all',
    'array_contains_any',
    'array_length',
    'text_match',
    'phrase_match',
    'random_sample',
  ]
  const m = new Map<string, Keyword>()
  for (const w of words) {
    m.set(w, w)
    m.set(w.toUpperCase(), w)
  }
  return m
})()

const BOOLEANS: ReadonlyMap<string, boolean> = new Map([
  ['true', true],
  ['True', true],
  ['TRUE', true],
  ['false', false],
  ['False', false],
  ['FALSE', false],
])

/** Spellings that would be keywords in another case; used only to make error messages helpful. */
export function keywordInOtherCase(word: string): string | undefined {
  const lower = word.toLowerCase()
  if (KEYWORDS.has(lower) && !KEYWORDS.has(word)) return lower
  if (BOOLEANS.has(lower) && !BOOLEANS.has(word)) return lower
  return undefined
}

function isIdentStart(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 95
}

function isIdentPart(c: number): boolean {
  return isIdentStart(c) || isDigit(c)
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57
}

function isHexDigit(c: number): boolean {
  return isDigit(c) || (c >= 97 && c <= 102) || (c >= 65 && c <= 70)
}

const PUNCTS: readonly Punct[] = [
  '**',
  '==',
  '!=',
  '<=',
  '>=',
  '<<',
  '>>',
  '(',
  ')',
  '[',
  ']',
  '{',
  '}',
  ',',
  '=',
  '<',
  '>',
  '+',
  '-',
  '*',
  '/',
  '%',
  '&',
  '|',
  '^',
  '~',
]

export class Lexer {
  private pos = 0

  constructor(private readonly text: string) {}

  /** Whole input at once: filters are small and the parser needs two tokens of lookahead. */
  tokenize(): Token[] {
    const out: Token[] = []
    for (;;) {
      const t = this.next()
      out.push(t)
      if (t.type === 'eof') return out
    }
  }

  private fail(at: number, problem: string): never {
    throw filterError(this.text, at, problem)
  }

  private next(): Token {
    const s = this.text
    while (this.pos < s.length) {
      const c = s.charCodeAt(this.pos)
      if (c === 32 || c === 9 || c === 10 || c === 13) this.pos++
      else break
    }
    const start = this.pos
    if (start >= s.length) return { type: 'eof', pos: start, end: start }
    const c = s.charCodeAt(start)

    if (isIdentStart(c)) return this.word(start)
    if (c === 36 /* $ */) {
      if (s.startsWith('$meta', start) && !isIdentPart(s.charCodeAt(start + 5))) {
        this.pos = start + 5
        return this.identTail(start, '$meta', true)
      }
      this.fail(start, 'unexpected character "$" (only $meta may start with "$")')
    }
    if (isDigit(c) || (c === 46 && isDigit(s.charCodeAt(start + 1)))) return this.number(start)
    if (c === 34 || c === 39) {
      const value = this.string(start)
      return { type: 'string', value, pos: start, end: this.pos }
    }
    // `&&`, `||` and `!` are spellings of and/or/not; `!=` wins over `!` by longest match.
    if (s.startsWith('&&', start)) {
      this.pos = start + 2
      return { type: 'keyword', keyword: 'and', pos: start, end: this.pos }
    }
    if (s.startsWith('||', start)) {
      this.pos = start + 2
      return { type: 'keyword', keyword: 'or', pos: start, end: this.pos }
    }
    if (c === 33 /* ! */ && s.charCodeAt(start + 1) !== 61 /* = */) {
      this.pos = start + 1
      return { type: 'keyword', keyword: 'not', pos: start, end: this.pos }
    }
    for (const p of PUNCTS) {
      if (s.startsWith(p, start)) {
        this.pos = start + p.length
        return { type: 'punct', punct: p, pos: start, end: this.pos }
      }
    }
    const ch = String.fromCodePoint(s.codePointAt(start) ?? c)
    return this.fail(start, `unexpected character ${JSON.stringify(ch)}`)
  }

  private word(start: number): Token {
    const s = this.text
    let i = start + 1
    while (i < s.length && isIdentPart(s.charCodeAt(i))) i++
    const w = s.slice(start, i)
    this.pos = i
    // ISNULL / ISNOTNULL are single lexer tokens with exactly one space between the words.
    if (w === 'is' || w === 'IS') {
      const rest = w === 'is' ? [' null', ' not null'] : [' NULL', ' NOT NULL']
      for (const [k, r] of rest.entries()) {
        if (s.startsWith(r, i) && !isIdentPart(s.charCodeAt(i + r.length))) {
          this.pos = i + r.length
          return { type: 'isnull', negated: k === 1, pos: start, end: this.pos }
        }
      }
    }
    const kw = KEYWORDS.get(w)
    if (kw !== undefined) return { type: 'keyword', keyword: kw, pos: start, end: i }
    const b = BOOLEANS.get(w)
    if (b !== undefined) return { type: 'bool', value: b, pos: start, end: i }
    return this.identTail(start, w, false)
  }

  /** Greedily attaches `[...]` steps written without whitespace, as the JSONIdentifier token does. */
  private identTail(start: number, name: string, meta: boolean): Token {
    const s = this.text
    const path: PathStep[] = []
    for (;;) {
      const save = this.pos
      if (s.charCodeAt(save) !== 91 /* [ */) break
      const q = s.charCodeAt(save + 1)
      let step: PathStep | undefined
      if (q === 34 || q === 39) {
        this.pos = save + 1
        const key = this.string(save + 1)
        step = { key, quoted: true }
      } else {
        let j = save + 1
        while (j < s.length && isDigit(s.charCodeAt(j))) j++
        const digits = s.slice(save + 1, j)
        // DecimalConstant: `0` or a run without a leading zero.
        if (digits.length > 0 && (digits === '0' || digits.charCodeAt(0) !== 48)) {
          this.pos = j
          step = { key: digits, quoted: false }
        }
      }
      if (step === undefined || s.charCodeAt(this.pos) !== 93 /* ] */) {
        this.pos = save
        break
      }
      this.pos++
      path.push(step)
    }
    return path.length > 0
      ? { type: 'ident', name, meta, path, pos: start, end: this.pos }
      : { type: 'ident', name, meta, pos: start, end: this.pos }
  }

  private number(start: number): Token {
    const s = this.text
    const c1 = s.charCodeAt(start + 1)
    if (s.charCodeAt(start) === 48 && (c1 === 120 || c1 === 88) && isHexDigit(s.charCodeAt(start + 2))) {
      return this.hexNumber(start)
    }
    if (s.charCodeAt(start) === 48 && (c1 === 98 || c1 === 66) && (s.charCodeAt(start + 2) === 48 || s.charCodeAt(start + 2) === 49)) {
      let i = start + 2
      while (s.charCodeAt(i) === 48 || s.charCodeAt(i) === 49) i++
      this.pos = i
      return { type: 'int', value: BigInt(`0b${s.slice(start + 2, i)}`), pos: start, end: i }
    }
    let i = start
    while (isDigit(s.charCodeAt(i))) i++
    const intEnd = i
    let isFloat = false
    if (s.charCodeAt(i) === 46 /* . */) {
      isFloat = true
      i++
      while (isDigit(s.charCodeAt(i))) i++
    }
    const e = s.charCodeAt(i)
    if (e === 101 || e === 69) {
      let j = i + 1
      const sign = s.charCodeAt(j)
      if (sign === 43 || sign === 45) j++
      if (isDigit(s.charCodeAt(j))) {
        while (isDigit(s.charCodeAt(j))) j++
        i = j
        isFloat = true
      }
    }
    if (isFloat) {
      this.pos = i
      const raw = s.slice(start, i)
      const value = Number(raw)
      if (!Number.isFinite(value)) this.fail(start, `floating-point literal ${raw} is out of range`)
      return { type: 'float', value, pos: start, end: i }
    }
    const digits = s.slice(start, intEnd)
    if (digits.length > 1 && digits.charCodeAt(0) === 48) {
      // OctalConstant: the longest run of octal digits; a stray 8/9 becomes the next token.
      let j = 1
      while (j < digits.length && digits.charCodeAt(j) <= 55) j++
      this.pos = start + j
      return { type: 'int', value: BigInt(`0o${digits.slice(1, j) || '0'}`), pos: start, end: this.pos }
    }
    this.pos = intEnd
    // Anything this long overflows int64 anyway; skip the (superlinear) bigint parse.
    if (digits.length > 40) this.fail(start, `integer ${digits.slice(0, 20)}... overflows int64`)
    return { type: 'int', value: BigInt(digits), pos: start, end: intEnd }
  }

  private hexNumber(start: number): Token {
    const s = this.text
    let i = start + 2
    while (isHexDigit(s.charCodeAt(i))) i++
    const intEnd = i
    // A hexadecimal float needs a binary exponent (0x1.8p3); without one the token is the integer.
    let j = i
    let frac = ''
    if (s.charCodeAt(j) === 46) {
      j++
      const f0 = j
      while (isHexDigit(s.charCodeAt(j))) j++
      frac = s.slice(f0, j)
    }
    const p = s.charCodeAt(j)
    if (p === 112 || p === 80) {
      let k = j + 1
      let neg = false
      const sign = s.charCodeAt(k)
      if (sign === 43 || sign === 45) {
        neg = sign === 45
        k++
      }
      const e0 = k
      while (isDigit(s.charCodeAt(k))) k++
      if (k > e0) {
        this.pos = k
        const mant = s.slice(start + 2, intEnd) + frac
        const exp = Number(s.slice(e0, k)) * (neg ? -1 : 1) - 4 * frac.length
        const value = Number(BigInt(`0x${mant}`)) * 2 ** exp
        if (!Number.isFinite(value)) this.fail(start, `floating-point literal ${s.slice(start, k)} is out of range`)
        return { type: 'float', value, pos: start, end: k }
      }
    }
    this.pos = intEnd
    return { type: 'int', value: BigInt(s.slice(start, intEnd)), pos: start, end: intEnd }
  }

  /**
   * Reads a quoted literal starting at `start` and leaves `pos` after the closing quote. Escapes
   * follow Go's strconv.Unquote (which Milvus applies), plus `\%` and `\_` kept verbatim so LIKE
   * patterns can escape their wildcards.
   */
  private string(start: number): string {
    const s = this.text
    const quote = s.charCodeAt(start)
    let out = ''
    let i = start + 1
    let chunk = i
    for (;;) {
      if (i >= s.length) this.fail(start, 'unterminated string literal')
      const c = s.charCodeAt(i)
      if (c === quote) break
      if (c === 10 || c === 13) this.fail(i, 'line break inside a string literal')
      if (c !== 92 /* \ */) {
        i++
        continue
      }
      out += s.slice(chunk, i)
      const e = s.charCodeAt(i + 1)
      const esc = s[i + 1] ?? ''
      let len = 2
      switch (esc) {
        case '"':
        case "'":
        case '?':
        case '\\':
          out += esc
          break
        case 'a':
          out += '\x07'
          break
        case 'b':
          out += '\b'
          break
        case 'f':
          out += '\f'
          break
        case 'n':
          out += '\n'
          break
        case 'r':
          out += '\r'
          break
        case 't':
          out += '\t'
          break
        case 'v':
          out += '\v'
          break
        case '%':
        case '_':
          out += `\\${esc}`
          break
        case 'x': {
          const hex = s.slice(i + 2, i + 4)
          if (!/^[0-9a-fA-F]{2}$/.test(hex)) this.fail(i, 'invalid escape sequence "\\x" (needs two hex digits)')
          out += String.fromCharCode(Number.parseInt(hex, 16))
          len = 4
          break
        }
        case 'u':
        case 'U': {
          const n = esc === 'u' ? 4 : 8
          const hex = s.slice(i + 2, i + 2 + n)
          const cp = new RegExp(`^[0-9a-fA-F]{${n}}$`).test(hex) ? Number.parseInt(hex, 16) : -1
          if (cp < 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
            this.fail(i, `invalid escape sequence "\\${esc}" (needs ${n} hex digits of a valid code point)`)
          }
          out += String.fromCodePoint(cp)
          len = 2 + n
          break
        }
        default: {
          if (e >= 48 && e <= 55) {
            const oct = s.slice(i + 1, i + 4)
            if (!/^[0-7]{3}$/.test(oct) || Number.parseInt(oct, 8) > 255) {
              this.fail(i, 'invalid octal escape (needs exactly three octal digits, at most \\377)')
            }
            out += String.fromCharCode(Number.parseInt(oct, 8))
            len = 4
            break
          }
          if (i + 1 >= s.length) this.fail(start, 'unterminated string literal')
          const shown = String.fromCodePoint(s.codePointAt(i + 1) ?? e)
          this.fail(i, `invalid escape sequence ${JSON.stringify(`\\${shown}`)}`)
        }
      }
      i += len
      chunk = i
    }
    out += s.slice(chunk, i)
    this.pos = i + 1
    return out
  }
}

export function tokenize(text: string): Token[] {
  return new Lexer(text).tokenize()
}
