/**
 * Property test: random rows, random well-typed filters. Each filter is generated as a small
 * model tree, rendered to filter text, parsed and evaluated columnar; a row-at-a-time reference
 * interpreter written here (independently of the evaluator: its own LIKE matcher, exact BigInt
 * arithmetic, Kleene logic on true/false/null) must agree on every row.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { type Row, chunkFromRows, fixtureSchema } from './fixture-schema.js'
import { evaluateFilter, parseFilter } from './index.js'

type Tri = boolean | null
type Op = '==' | '!=' | '<' | '<=' | '>' | '>='
type Lit = bigint | number | string | boolean

type IntField = 'i8' | 'i32' | 'i64' | 'n_i64' | 'id'
type FloatField = 'f32' | 'f64' | 'n_f64'
type StrField = 's' | 'n_s'
type JsonKey = 'meta["a"]' | 'meta["o"]["x"]' | 'dk' | '$meta["dk"]' | 'meta["l"][0]'

type LikeTok = { lit: string } | '%' | '_'

type F =
  | { k: 'cmp'; field: IntField | FloatField | StrField | 'b'; op: Op; v: Lit; flip: boolean }
  | { k: 'range'; field: IntField | FloatField | StrField; lo: Lit; loInc: boolean; hi: Lit; hiInc: boolean; desc: boolean }
  | { k: 'in'; field: IntField | FloatField | StrField | 'b'; vs: Lit[]; neg: boolean }
  | { k: 'like'; field: StrField | 'meta["a"]'; pat: LikeTok[] }
  | { k: 'isnull'; field: 'n_i64' | 'n_s' | 'i64' | 'n_arr'; neg: boolean }
  | { k: 'json'; key: JsonKey; op: Op; v: Lit }
  | { k: 'exists'; key: JsonKey }
  | { k: 'contains'; field: 'arr_i64' | 'arr_s' | 'n_arr' | 'meta["l"]'; mode: 'one' | 'all' | 'any'; vs: Lit[] }
  | { k: 'arrlen'; field: 'arr_i64' | 'n_arr' | 'meta["l"]'; op: Op; n: bigint }
  | { k: 'elem'; field: 'arr_i64' | 'arr_s'; idx: number; op: Op; v: Lit }
  | { k: 'arith'; field: 'i32' | 'i64' | 'f64' | 'dk'; aop: '+' | '-' | '*' | '/' | '%'; c: bigint | number; op: Op; v: bigint | number }
  | { k: 'fcmp'; a: 'i32' | 'i64' | 'f64' | 'n_i64'; op: Op; b: 'i32' | 'i64' | 'f64' | 'n_i64' }
  | { k: 'and' | 'or'; a: F; b: F }
  | { k: 'not'; a: F }

// ---- value domains (small, so comparisons hit) -----------------------------------------------

const SMALL_INTS = [-5n, -2n, -1n, 0n, 1n, 2n, 3n, 5n, 7n]
const BIG_INTS = [-(2n ** 63n), 2n ** 63n - 1n, 2n ** 53n + 1n, -(2n ** 53n) - 1n, 1000n]
const FLOATS = [-1.5, -1, 0, 0.1, 0.5, 1, 2.5, 3, 1e10]
const STRS = ['', 'a', 'ab', 'abc', 'b', 'a%b', 'a_b', 'x\\y', '中文', 'A', 'ba']

const smallInt = fc.constantFrom(...SMALL_INTS)
const anyInt = fc.oneof({ weight: 5, arbitrary: smallInt }, { weight: 1, arbitrary: fc.constantFrom(...BIG_INTS) })
const float = fc.constantFrom(...FLOATS)
const str = fc.constantFrom(...STRS)
const op = fc.constantFrom<Op>('==', '!=', '<', '<=', '>', '>=')

const jsonScalar = fc.oneof(
  smallInt.map((v) => Number(v)),
  float,
  str,
  fc.boolean(),
  fc.constant(null),
)

const rowArb: fc.Arbitrary<Row> = fc
  .record({
    id: anyInt,
    i8: fc.integer({ min: -128, max: 127 }).map((v) => (v % 3 === 0 ? v : v % 8)),
    i32: fc.oneof(smallInt.map(Number), fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 })),
    i64: anyInt,
    f32: float.map(Math.fround),
    f64: float,
    b: fc.boolean(),
    s: str,
    n_i64: fc.option(anyInt, { nil: null }),
    n_f64: fc.option(float, { nil: null }),
    n_s: fc.option(str, { nil: null }),
    meta: fc.record(
      {
        a: jsonScalar,
        o: fc.oneof(fc.record({ x: jsonScalar }, { requiredKeys: [] }), jsonScalar),
        l: fc.oneof(fc.array(smallInt.map(Number), { maxLength: 4 }), jsonScalar),
      },
      { requiredKeys: [] },
    ),
    arr_i64: fc.array(smallInt, { maxLength: 4 }),
    arr_s: fc.array(str, { maxLength: 3 }),
    n_arr: fc.option(fc.array(smallInt, { maxLength: 3 }), { nil: null }),
    dk: fc.option(fc.oneof(smallInt.map(Number), float, str), { nil: undefined }),
  })
  .map((r) => {
    const row: Row = { ...r }
    if (row.dk === undefined) delete row.dk
    return row
  })

function litFor(field: string): fc.Arbitrary<Lit> {
  if (field === 'b') return fc.boolean()
  if (field === 's' || field === 'n_s') return str
  if (field === 'f32' || field === 'f64' || field === 'n_f64') return fc.oneof(float, smallInt)
  return anyInt
}

const likeTok: fc.Arbitrary<LikeTok> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom('a', 'b', 'c', '%', '_', '\\', '中').map((lit) => ({ lit })) },
  { weight: 2, arbitrary: fc.constant<'%'>('%') },
  { weight: 1, arbitrary: fc.constant<'_'>('_') },
)

const jsonKey = fc.constantFrom<JsonKey>('meta["a"]', 'meta["o"]["x"]', 'dk', '$meta["dk"]', 'meta["l"][0]')
const jsonLit: fc.Arbitrary<Lit> = fc.oneof(smallInt, float, str, fc.boolean())

const leaf: fc.Arbitrary<F> = fc.oneof(
  fc
    .constantFrom<IntField | FloatField | StrField | 'b'>('i8', 'i32', 'i64', 'n_i64', 'id', 'f32', 'f64', 'n_f64', 's', 'n_s', 'b')
    .chain((field) =>
      fc.record({
        k: fc.constant<'cmp'>('cmp'),
        field: fc.constant(field),
        op: field === 'b' ? fc.constantFrom<Op>('==', '!=') : op,
        v: litFor(field),
        flip: fc.boolean(),
      }),
    ),
  fc.constantFrom<IntField | FloatField | StrField>('i8', 'i32', 'i64', 'n_i64', 'f32', 'f64', 'n_f64', 's', 'n_s').chain((field) =>
    fc
      .record({
        k: fc.constant<'range'>('range'),
        field: fc.constant(field),
        lo: litFor(field),
        loInc: fc.boolean(),
        hi: litFor(field),
        hiInc: fc.boolean(),
        desc: fc.boolean(),
      })
      .filter((r) => rangeOk(r.lo, r.hi, r.loInc && r.hiInc)),
  ),
  fc.constantFrom<IntField | FloatField | StrField | 'b'>('i8', 'i64', 'n_i64', 'f32', 'f64', 's', 'n_s', 'b').chain((field) =>
    fc.record({ k: fc.constant<'in'>('in'), field: fc.constant(field), vs: fc.array(litFor(field), { maxLength: 5 }), neg: fc.boolean() }),
  ),
  fc.record({ k: fc.constant<'like'>('like'), field: fc.constantFrom<StrField | 'meta["a"]'>('s', 'n_s', 'meta["a"]'), pat: fc.array(likeTok, { maxLength: 5 }) }),
  fc.record({ k: fc.constant<'isnull'>('isnull'), field: fc.constantFrom<'n_i64' | 'n_s' | 'i64' | 'n_arr'>('n_i64', 'n_s', 'i64', 'n_arr'), neg: fc.boolean() }),
  fc.record({ k: fc.constant<'json'>('json'), key: jsonKey, op, v: jsonLit }),
  fc.record({ k: fc.constant<'exists'>('exists'), key: jsonKey.filter((k) => k !== 'meta["l"][0]') }),
  fc.constantFrom<'arr_i64' | 'arr_s' | 'n_arr' | 'meta["l"]'>('arr_i64', 'arr_s', 'n_arr', 'meta["l"]').chain((field) =>
    fc.record({
      k: fc.constant<'contains'>('contains'),
      field: fc.constant(field),
      mode: fc.constantFrom<'one' | 'all' | 'any'>('one', 'all', 'any'),
      vs: fc.array((field === 'arr_s' ? str : smallInt) as fc.Arbitrary<Lit>, { minLength: 1, maxLength: 3 }),
    }),
  ),
  fc.record({ k: fc.constant<'arrlen'>('arrlen'), field: fc.constantFrom<'arr_i64' | 'n_arr' | 'meta["l"]'>('arr_i64', 'n_arr', 'meta["l"]'), op, n: fc.constantFrom(0n, 1n, 2n, 3n) }),
  fc.constantFrom<'arr_i64' | 'arr_s'>('arr_i64', 'arr_s').chain((field) =>
    fc.record({ k: fc.constant<'elem'>('elem'), field: fc.constant(field), idx: fc.integer({ min: 0, max: 4 }), op, v: (field === 'arr_s' ? str : smallInt) as fc.Arbitrary<Lit> }),
  ),
  fc.constantFrom<'i32' | 'i64' | 'f64' | 'dk'>('i32', 'i64', 'f64', 'dk').chain((field) =>
    fc
      .record({
        k: fc.constant<'arith'>('arith'),
        field: fc.constant(field),
        aop: fc.constantFrom<'+' | '-' | '*' | '/' | '%'>('+', '-', '*', '/', '%'),
        c: field === 'f64' ? fc.oneof(float, smallInt) : field === 'dk' ? fc.oneof(smallInt, float) : anyInt,
        op,
        v: field === 'f64' ? fc.oneof(float, smallInt) : smallInt,
      })
      .filter((r) => arithOk(r.field, r.aop, r.c, r.v)),
  ),
  fc.record({
    k: fc.constant<'fcmp'>('fcmp'),
    a: fc.constantFrom<'i32' | 'i64' | 'f64' | 'n_i64'>('i32', 'i64', 'f64', 'n_i64'),
    op,
    b: fc.constantFrom<'i32' | 'i64' | 'f64' | 'n_i64'>('i32', 'i64', 'f64', 'n_i64'),
  }),
)

const filterArb: fc.Arbitrary<F> = fc.letrec<{ f: F }>((tie) => ({
  f: fc.oneof(
    { maxDepth: 4, depthIdentifier: 'f' },
    { weight: 4, arbitrary: leaf },
    { weight: 1, arbitrary: fc.record({ k: fc.constantFrom<'and' | 'or'>('and', 'or'), a: tie('f'), b: tie('f') }) },
    { weight: 1, arbitrary: fc.record({ k: fc.constant<'not'>('not'), a: tie('f') }) },
  ),
})).f

function rangeOk(lo: Lit, hi: Lit, bothInclusive: boolean): boolean {
  if (typeof lo === 'string' || typeof hi === 'string') {
    if (typeof lo !== typeof hi) return false
    return bothInclusive ? lo <= hi : lo < hi
  }
  const a = Number(lo)
  const b = Number(hi)
  return bothInclusive ? a <= b : a < b
}

function arithOk(field: string, aop: string, c: bigint | number, v: bigint | number): boolean {
  if ((aop === '/' || aop === '%') && Number(c) === 0) return false
  if (field === 'f64' && aop === '%') return false
  if ((field === 'i32' || field === 'i64') && typeof c === 'number') return false
  if (aop === '%' && typeof c === 'number') return false
  // Integer arithmetic compares with integers only; float arithmetic with either.
  const intArith = field !== 'f64' && typeof c === 'bigint'
  return !(intArith && typeof v === 'number')
}

// ---- rendering -------------------------------------------------------------------------------

function fmtFloat(x: number): string {
  const s = String(x)
  return /[.eE]/.test(s) ? s : `${s}.0`
}

function lit(v: Lit): string {
  if (typeof v === 'bigint') return v.toString()
  if (typeof v === 'number') return fmtFloat(v)
  if (typeof v === 'string') return JSON.stringify(v)
  return v ? 'true' : 'False'
}

const FLIP: Record<Op, Op> = { '==': '==', '!=': '!=', '<': '>', '<=': '>=', '>': '<', '>=': '<=' }

function likePattern(toks: readonly LikeTok[]): string {
  return toks.map((t) => (t === '%' || t === '_' ? t : t.lit === '%' || t.lit === '_' || t.lit === '\\' ? `\\${t.lit}` : t.lit)).join('')
}

function render(f: F): string {
  switch (f.k) {
    case 'cmp':
      return f.flip ? `${lit(f.v)} ${FLIP[f.op]} ${f.field}` : `${f.field} ${f.op} ${lit(f.v)}`
    case 'range':
      return f.desc
        ? `${lit(f.hi)} ${f.hiInc ? '>=' : '>'} ${f.field} ${f.loInc ? '>=' : '>'} ${lit(f.lo)}`
        : `${lit(f.lo)} ${f.loInc ? '<=' : '<'} ${f.field} ${f.hiInc ? '<=' : '<'} ${lit(f.hi)}`
    case 'in':
      return `${f.field} ${f.neg ? 'not in' : 'in'} [${f.vs.map(lit).join(', ')}]`
    case 'like':
      return `${f.field} like ${JSON.stringify(likePattern(f.pat))}`
    case 'isnull':
      return `${f.field} ${f.neg ? 'is not null' : 'is null'}`
    case 'json':
      return `${f.key} ${f.op} ${lit(f.v)}`
    case 'exists':
      return `exists ${f.key}`
    case 'contains': {
      const fn = f.field.startsWith('meta') ? 'json_contains' : 'array_contains'
      if (f.mode === 'one') return `${fn}(${f.field}, ${lit(f.vs[0]!)})`
      return `${fn}_${f.mode}(${f.field}, [${f.vs.map(lit).join(', ')}])`
    }
    case 'arrlen':
      return `array_length(${f.field}) ${f.op} ${f.n}`
    case 'elem':
      return `${f.field}[${f.idx}] ${f.op} ${lit(f.v)}`
    case 'arith':
      return `${f.field} ${f.aop} ${lit(f.c)} ${f.op} ${lit(f.v)}`
    case 'fcmp':
      return `${f.a} ${f.op} ${f.b}`
    case 'and':
    case 'or':
      return `(${render(f.a)}) ${f.k === 'and' ? 'AND' : '||'} (${render(f.b)})`
    case 'not':
      return `not (${render(f.a)})`
  }
}

// ---- reference interpreter -------------------------------------------------------------------

function ord(o: number, op: Op): boolean {
  switch (op) {
    case '==':
      return o === 0
    case '!=':
      return o !== 0
    case '<':
      return o < 0
    case '<=':
      return o <= 0
    case '>':
      return o > 0
    case '>=':
      return o >= 0
  }
}

/** Exact order of two numeric values of any representation; NaN when not both numeric. */
function numOrder(a: unknown, b: unknown): number {
  const isNum = (x: unknown): x is number | bigint => typeof x === 'number' || typeof x === 'bigint'
  if (!isNum(a) || !isNum(b)) return Number.NaN
  if (typeof a === 'bigint' && typeof b === 'bigint') return a < b ? -1 : a > b ? 1 : 0
  if (typeof a === 'number' && typeof b === 'number') return a < b ? -1 : a > b ? 1 : a === b ? 0 : Number.NaN
  // Mixed: compare through exact rationals of the double.
  const [big, dbl, sign] = typeof a === 'bigint' ? [a, b as number, 1] : [b as bigint, a as number, -1]
  const fl = Math.floor(dbl)
  const o = big < BigInt(fl) ? -1 : big > BigInt(fl) ? 1 : fl === dbl ? 0 : -1
  return o * sign
}

function anyOrder(a: unknown, b: Lit): number {
  if (typeof a === 'string' && typeof b === 'string') return a < b ? -1 : a > b ? 1 : 0
  if (typeof a === 'boolean' && typeof b === 'boolean') return Number(a) - Number(b)
  return numOrder(a, b)
}

/** Column value semantics: Float fields compare with the constant rounded to float32. */
function colLit(field: string, v: Lit): Lit {
  if (field === 'f32') return Math.fround(Number(v))
  return v
}

function likeMatch(s: string, toks: readonly LikeTok[]): boolean {
  const chars = Array.from(s)
  // Classic wildcard DP over code points.
  const memo = new Map<string, boolean>()
  const go = (i: number, j: number): boolean => {
    const key = `${i},${j}`
    const hit = memo.get(key)
    if (hit !== undefined) return hit
    let r: boolean
    if (j === toks.length) r = i === chars.length
    else {
      const t = toks[j]!
      if (t === '%') r = go(i, j + 1) || (i < chars.length && go(i + 1, j))
      else if (t === '_') r = i < chars.length && go(i + 1, j + 1)
      else r = i < chars.length && chars[i] === t.lit && go(i + 1, j + 1)
    }
    memo.set(key, r)
    return r
  }
  return go(0, 0)
}

function jsonGet(row: Row, key: JsonKey | 'meta["l"]'): unknown {
  const meta = row.meta as Record<string, unknown> | null
  const at = (o: unknown, k: string): unknown =>
    o !== null && typeof o === 'object' && !Array.isArray(o) && Object.hasOwn(o, k) ? (o as Record<string, unknown>)[k] : undefined
  switch (key) {
    case 'meta["a"]':
      return at(meta, 'a')
    case 'meta["o"]["x"]':
      return at(at(meta, 'o'), 'x')
    case 'meta["l"]':
      return at(meta, 'l')
    case 'meta["l"][0]': {
      const l = at(meta, 'l')
      return Array.isArray(l) ? l[0] : undefined
    }
    case 'dk':
    case '$meta["dk"]':
      return row.dk
  }
}

function looseEq(a: unknown, b: Lit): boolean {
  if (typeof b === 'bigint' || typeof b === 'number') return numOrder(a, b) === 0
  return a === b
}

function ref(f: F, row: Row): Tri {
  switch (f.k) {
    case 'cmp': {
      const v = row[f.field]
      if (v === null || v === undefined) return null
      return ord(anyOrder(v, colLit(f.field, f.v)), f.op)
    }
    case 'range': {
      const v = row[f.field]
      if (v === null || v === undefined) return null
      const lo = anyOrder(v, colLit(f.field, f.lo))
      const hi = anyOrder(v, colLit(f.field, f.hi))
      return (f.loInc ? lo >= 0 : lo > 0) && (f.hiInc ? hi <= 0 : hi < 0)
    }
    case 'in': {
      const v = row[f.field]
      if (v === null || v === undefined) return null
      const hit = f.vs.some((c) => anyOrder(v, colLit(f.field, c)) === 0)
      return f.neg ? !hit : hit
    }
    case 'like': {
      const v = f.field === 'meta["a"]' ? jsonGet(row, 'meta["a"]') : row[f.field]
      if (v === null && f.field !== 'meta["a"]') return null
      return typeof v === 'string' && likeMatch(v, f.pat.map((t) => t))
    }
    case 'isnull': {
      const isNull = row[f.field] === null || row[f.field] === undefined
      return f.neg ? !isNull : isNull
    }
    case 'json': {
      const v = jsonGet(row, f.key)
      if (f.op === '==') return looseEq(v, f.v)
      if (f.op === '!=') return !looseEq(v, f.v)
      const o = anyOrder(v, f.v)
      return ord(o, f.op) && !Number.isNaN(o)
    }
    case 'exists': {
      const v = jsonGet(row, f.key)
      return v !== undefined && v !== null
    }
    case 'contains': {
      const cell = f.field === 'meta["l"]' ? jsonGet(row, 'meta["l"]') : row[f.field]
      if (cell === null && f.field === 'n_arr') return null
      if (!Array.isArray(cell)) return false
      const has = (c: Lit): boolean => cell.some((x) => looseEq(x, c))
      if (f.mode === 'one') return has(f.vs[0]!)
      return f.mode === 'all' ? f.vs.every(has) : f.vs.some(has)
    }
    case 'arrlen': {
      const cell = f.field === 'meta["l"]' ? jsonGet(row, 'meta["l"]') : row[f.field]
      if (cell === null && f.field === 'n_arr') return null
      if (!Array.isArray(cell)) return false
      return ord(numOrder(BigInt(cell.length), f.n), f.op)
    }
    case 'elem': {
      const cell = row[f.field] as unknown[]
      if (f.idx >= cell.length) return false
      return ord(anyOrder(cell[f.idx], f.v), f.op)
    }
    case 'arith': {
      const x = row[f.field]
      if (f.field === 'dk' && typeof x !== 'number') return false
      if (x === undefined) return false
      let r: bigint | number
      if (typeof f.c === 'bigint' && f.field !== 'f64') {
        if (typeof x === 'number' && !Number.isInteger(x)) return false
        const a = BigInt(x as number | bigint)
        const c = f.c
        const raw = f.aop === '+' ? a + c : f.aop === '-' ? a - c : f.aop === '*' ? a * c : f.aop === '/' ? a / c : a % c
        r = BigInt.asIntN(64, raw)
      } else {
        const a = Number(x)
        const c = Number(f.c)
        r = f.aop === '+' ? a + c : f.aop === '-' ? a - c : f.aop === '*' ? a * c : f.aop === '/' ? a / c : a % c
      }
      return ord(numOrder(r, f.v), f.op)
    }
    case 'fcmp': {
      const a = row[f.a]
      const b = row[f.b]
      if (a === null || b === null) return null
      return ord(numOrder(a, b), f.op)
    }
    case 'and': {
      const a = ref(f.a, row)
      const b = ref(f.b, row)
      if (a === false || b === false) return false
      return a === null || b === null ? null : true
    }
    case 'or': {
      const a = ref(f.a, row)
      const b = ref(f.b, row)
      if (a === true || b === true) return true
      return a === null || b === null ? null : false
    }
    case 'not': {
      const a = ref(f.a, row)
      return a === null ? null : !a
    }
  }
}

describe('columnar evaluator vs row-at-a-time reference', () => {
  const schema = fixtureSchema()

  it('agrees on random rows and random filters', () => {
    fc.assert(
      fc.property(fc.array(rowArb, { minLength: 1, maxLength: 70 }), fc.array(filterArb, { minLength: 1, maxLength: 8 }), (rows, filters) => {
        const chunk = chunkFromRows(schema, rows)
        for (const f of filters) {
          const text = render(f)
          const plan = parseFilter(text, schema)
          const bits = evaluateFilter(plan, chunk)
          assert.equal(bits.size, rows.length)
          for (let i = 0; i < rows.length; i++) {
            const want = ref(f, rows[i]!) === true
            if (bits.get(i) !== want) {
              assert.fail(`row ${i} of ${text}: columnar ${bits.get(i)}, reference ${want}\nrow: ${JSON.stringify(rows[i], (_k, v) => (typeof v === 'bigint' ? `${v}n` : v))}`)
            }
          }
        }
      }),
      { numRuns: Number(process.env.EXPR_PROP_RUNS ?? 250) },
    )
  })
})
