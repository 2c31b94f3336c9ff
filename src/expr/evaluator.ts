/**
 * Plan -> columnar evaluator. A plan is compiled once into a tree of leaf functions with every
 * constant pre-digested (intervals, sets, LIKE matchers, JSON path steps); running it on a chunk picks
 * the kernel for each column's concrete type and fills bitsets 32 rows per word.
 *
 * Three-valued logic travels as two bitsets per node: `t` (TRUE rows) and `n` (UNKNOWN rows, from
 * nulls; undefined when there are none). `and`, `or` and `not` combine them with Kleene rules,
 * the way Milvus's ThreeValuedLogicOp does, and a row passes the filter only if it is TRUE.
 *
 * Numeric comparisons are normalised to closed intervals first: for integers `a < 5` is
 * `a <= 4`, for floats `a < c` is `a <= nextDown(c)`, so one kernel per element type serves every
 * operator. Float (float32) columns compare against the constant rounded to float32, as Milvus
 * does when it casts a literal to the field type. Out-of-range constants on narrow integer columns
 * simply produce empty or full intervals instead of wrapping.
 */
import { Bitset } from '../common/bitset.js'
import type { Column, ColumnChunk, JsonValue } from '../schema/columns.js'
import * as K from './kernels.js'
import { likeMatcher, likeTest } from './like.js'
import type { CmpOp, FieldRef, PlanNode } from './plan.js'
import { INT64_MAX, INT64_MIN, type Value, nextDown, nextUp } from './values.js'

/** TRUE rows and UNKNOWN rows of one node; both bitsets are owned by the receiver. */
interface Tri {
  readonly t: Bitset
  readonly n: Bitset | undefined
}

type Ev = (chunk: ColumnChunk) => Tri
type Test = (x: unknown) => boolean

/** Compiles a plan into a function from chunk to the bitset of passing rows. */
export function compilePlan(root: PlanNode): (chunk: ColumnChunk) => Bitset {
  const ev = compileNode(root)
  return (chunk) => ev(chunk).t
}

function compileNode(node: PlanNode): Ev {
  switch (node.kind) {
    case 'const':
      return (c) => ({ t: node.value ? Bitset.full(c.numRows) : new Bitset(c.numRows), n: undefined })
    case 'and':
      return compileAnd(node.children.map(compileNode))
    case 'or':
      return compileOr(node.children.map(compileNode))
    case 'not': {
      const child = compileNode(node.child)
      return (c) => not(child(c))
    }
    case 'compare':
      return compileCompare(node.target, node.op, node.value)
    case 'range':
      return compileRange(node)
    case 'in':
      return compileIn(node.target, node.values)
    case 'like':
      return compileLike(node)
    case 'arith':
      return compileArith(node)
    case 'arrayLength':
      return compileArrayLength(node)
    case 'fieldCompare':
      return compileFieldCompare(node.left, node.op, node.right)
    case 'null':
      return compileNull(node.target, node.isNull)
    case 'exists':
      return jsonLeaf(node.target, (v) => v !== undefined && v !== null)
    case 'contains':
      return compileContains(node)
    case 'randomSample':
      return compileSample(node.factor, node.predicate ? compileNode(node.predicate) : undefined)
  }
}

// ---- three-valued combinators ----------------------------------------------------------------

function not(r: Tri): Tri {
  const t = r.t.words
  const size = r.t.size
  if (!r.n) return { t: r.t.not(), n: undefined }
  const nw = r.n.words
  for (let w = 0; w < t.length; w++) t[w] = ~(t[w]! | nw[w]!)
  // `~` also sets the bits past the last row; clear them so counts and iteration stay right.
  clearTail(r.t, size)
  return { t: r.t, n: r.n }
}

function clearTail(b: Bitset, size: number): void {
  const r = size & 31
  if (r !== 0 && b.words.length > 0) b.words[b.words.length - 1]! &= (1 << r) - 1
}

function isEmpty(r: Tri): boolean {
  const w = r.t.words
  for (let i = 0; i < w.length; i++) if (w[i] !== 0) return false
  if (r.n) {
    const n = r.n.words
    for (let i = 0; i < n.length; i++) if (n[i] !== 0) return false
  }
  return true
}

function compileAnd(children: readonly Ev[]): Ev {
  return (c) => {
    let acc: Tri | undefined
    for (const ch of children) {
      const r = ch(c)
      acc = acc ? and2(acc, r) : r
      // Everything is already FALSE: later children cannot change that.
      if (isEmpty(acc)) break
    }
    return acc ?? { t: Bitset.full(c.numRows), n: undefined }
  }
}

function and2(a: Tri, b: Tri): Tri {
  if (!a.n && !b.n) return { t: a.t.and(b.t), n: undefined }
  const at = a.t.words
  const bt = b.t.words
  const an = a.n?.words
  const bn = b.n?.words
  const n = a.n ?? new Bitset(a.t.size)
  const nw = n.words
  for (let w = 0; w < at.length; w++) {
    const t1 = at[w]!
    const n1 = an ? an[w]! : 0
    const t2 = bt[w]!
    const n2 = bn ? bn[w]! : 0
    // UNKNOWN unless one side is FALSE (neither TRUE nor UNKNOWN) or both are TRUE.
    nw[w] = (n1 | n2) & (t1 | n1) & (t2 | n2)
    at[w] = t1 & t2
  }
  return { t: a.t, n }
}

function compileOr(children: readonly Ev[]): Ev {
  return (c) => {
    let acc: Tri | undefined
    for (const ch of children) {
      const r = ch(c)
      acc = acc ? or2(acc, r) : r
    }
    return acc ?? { t: new Bitset(c.numRows), n: undefined }
  }
}

function or2(a: Tri, b: Tri): Tri {
  if (!a.n && !b.n) return { t: a.t.or(b.t), n: undefined }
  const at = a.t.words
  const bt = b.t.words
  const an = a.n?.words
  const bn = b.n?.words
  const n = a.n ?? new Bitset(a.t.size)
  const nw = n.words
  for (let w = 0; w < at.length; w++) {
    const t = at[w]! | bt[w]!
    nw[w] = ((an ? an[w]! : 0) | (bn ? bn[w]! : 0)) & ~t
    at[w] = t
  }
  return { t: a.t, n }
}

// ---- column plumbing -------------------------------------------------------------------------

function nullsOf(col: Column, n: number): Bitset | undefined {
  if (!col.valid) return undefined
  const b = new Bitset(n)
  K.nullBits(col.valid, b.words, n)
  return b
}

function leafDone(t: Bitset, nulls: Bitset | undefined): Tri {
  if (nulls) t.andNot(nulls)
  return { t, n: nulls }
}

/** A field missing from a chunk (added after the chunk was written) reads as all-null. */
function allUnknown(n: number): Tri {
  return { t: new Bitset(n), n: Bitset.full(n) }
}

function columnOf(chunk: ColumnChunk, ref: FieldRef): Column | undefined {
  return chunk.columns.get(ref.field)
}

// ---- per-row tests for JSON values and array elements ----------------------------------------

/** Deep equality with numbers compared by value across int/float (1 == 1.0), as JSON is untyped. */
function looseEquals(x: unknown, c: Value): boolean {
  if (typeof c === 'bigint' || typeof c === 'number') {
    if (typeof x === 'number') return typeof c === 'bigint' ? Number.isInteger(x) && BigInt(x) === c : x === c
    if (typeof x === 'bigint') return typeof c === 'bigint' ? x === c : Number.isInteger(c) && x === BigInt(c)
    return false
  }
  if (Array.isArray(c)) {
    if (!Array.isArray(x) || x.length !== c.length) return false
    for (let i = 0; i < c.length; i++) if (!looseEquals(x[i], c[i] as Value)) return false
    return true
  }
  return x === c
}

/**
 * `x op c` for one JSON value or array element. Values of another type compare FALSE for every
 * operator except `!=` (TRUE): Milvus's UnaryRangeJSONCompare/NotEqual rule.
 */
function makeTest(op: CmpOp, c: Value, f32: boolean): Test {
  let order: ((x: unknown) => number) | undefined
  if (typeof c === 'bigint' || typeof c === 'number') {
    const cn = f32 ? Math.fround(Number(c)) : Number(c)
    const cb = typeof c === 'bigint' ? c : undefined
    order = (x) => {
      if (typeof x === 'number') return x < cn ? -1 : x > cn ? 1 : x === cn ? 0 : Number.NaN
      if (typeof x === 'bigint') {
        if (cb !== undefined) return x < cb ? -1 : x > cb ? 1 : 0
        return compareBigNumber(x, cn)
      }
      return Number.NaN
    }
    if (op === '==' || op === '!=') {
      const eq = (x: unknown): boolean => order!(x) === 0
      return op === '==' ? eq : (x) => !eq(x)
    }
  } else if (typeof c === 'string') {
    order = (x) => (typeof x === 'string' ? (x < c ? -1 : x > c ? 1 : 0) : Number.NaN)
  } else if (typeof c === 'boolean') {
    const cv = Number(c)
    order = (x) => (typeof x === 'boolean' ? Number(x) - cv : Number.NaN)
  }
  switch (op) {
    case '==':
      return (x) => looseEquals(x, c)
    case '!=':
      return (x) => !looseEquals(x, c)
    default: {
      if (!order) return () => false
      const o = order
      if (op === '<') return (x) => o(x) < 0
      if (op === '<=') return (x) => o(x) <= 0
      if (op === '>') return (x) => o(x) > 0
      return (x) => o(x) >= 0
    }
  }
}

/** Exact order of an int64 and a double (no rounding of the bigint); NaN when unordered. */
function compareBigNumber(b: bigint, f: number): number {
  if (Number.isNaN(f)) return Number.NaN
  if (f === Infinity) return -1
  if (f === -Infinity) return 1
  const fl = Math.floor(f)
  const bf = BigInt(fl)
  if (b < bf) return -1
  if (b > bf) return 1
  return fl === f ? 0 : -1
}

interface PathStep {
  readonly key: string
  readonly idx: number
  /** Plain property read is safe: the key names nothing on Object/Array/String prototypes. */
  readonly plain: boolean
}

function stepOf(key: string): PathStep {
  const idx = /^(0|[1-9]\d{0,8})$/.test(key) ? Number(key) : -1
  const plain = idx < 0 && key !== '__proto__' && !(key in Object.prototype) && !(key in Array.prototype) && !(key in String.prototype)
  return { key, idx, plain }
}

function walk(v: unknown, s: PathStep): JsonValue | undefined {
  if (v === null || typeof v !== 'object') return undefined
  if (Array.isArray(v)) return s.idx >= 0 ? (v[s.idx] as JsonValue | undefined) : undefined
  const o = v as Record<string, JsonValue>
  return s.plain || Object.hasOwn(o, s.key) ? o[s.key] : undefined
}

/** Accessor for a JSON path in one column; the one-plain-key case (dynamic fields) is inlined. */
function jsonAccessor(cells: readonly JsonValue[], path: readonly string[]): (i: number) => JsonValue | undefined {
  const steps = path.map(stepOf)
  if (steps.length === 0) return (i) => cells[i]
  const [s0] = steps
  if (steps.length === 1 && s0!.plain) {
    const k = s0!.key
    return (i) => {
      const o = cells[i]
      return o === null || o === undefined ? undefined : (o as Record<string, JsonValue>)[k]
    }
  }
  return (i) => {
    let v: JsonValue | undefined = cells[i]
    for (const s of steps) {
      v = walk(v, s)
      if (v === undefined) return undefined
    }
    return v
  }
}

/** Evaluates `test` on the JSON value at ref's path for every row. */
function jsonLeaf(ref: FieldRef, test: (v: JsonValue | undefined) => boolean): Ev {
  return (chunk) => {
    const n = chunk.numRows
    const col = columnOf(chunk, ref)
    if (!col && !ref.isDynamic) return allUnknown(n)
    // A chunk without `$meta` simply has no dynamic keys.
    const cells: readonly JsonValue[] = col && col.type === 'JSON' ? col.data : new Array<JsonValue>(n).fill({})
    if (col && col.type !== 'JSON') return allUnknown(n)
    const get = jsonAccessor(cells, ref.path)
    const t = new Bitset(n)
    K.fillByRow(n, t.words, (i) => test(get(i)))
    return leafDone(t, col ? nullsOf(col, n) : undefined)
  }
}

type ArrayCol = Extract<Column, { type: 'Array' }>

/** `test` on element `ref.path[0]` of each array cell; a missing element is FALSE for every op. */
function arrayElemLeaf(ref: FieldRef, test: Test): Ev {
  const idx = Number(ref.path[0])
  return arrayCellLeaf(ref, (cell) => idx < cell.length && test(cell[idx]))
}

function arrayCellLeaf(ref: FieldRef, test: (cell: ArrayCol['data'][number]) => boolean): Ev {
  return (chunk) => {
    const n = chunk.numRows
    const col = columnOf(chunk, ref)
    if (!col || col.type !== 'Array') return allUnknown(n)
    const cells = col.data
    const t = new Bitset(n)
    K.fillByRow(n, t.words, (i) => {
      const cell = cells[i]
      return cell !== undefined && test(cell)
    })
    return leafDone(t, nullsOf(col, n))
  }
}

function isF32(ref: FieldRef): boolean {
  return ref.dataType === 'Float' || (ref.dataType === 'Array' && ref.elementType === 'Float')
}

// ---- comparisons -----------------------------------------------------------------------------

/** Closed interval over integers; undefined = unbounded. */
interface IntInterval {
  readonly lo: bigint | undefined
  readonly hi: bigint | undefined
}

function intInterval(op: Exclude<CmpOp, '!='>, c: bigint): IntInterval {
  switch (op) {
    case '==':
      return { lo: c, hi: c }
    case '<':
      return { lo: undefined, hi: c - 1n }
    case '<=':
      return { lo: undefined, hi: c }
    case '>':
      return { lo: c + 1n, hi: undefined }
    case '>=':
      return { lo: c, hi: undefined }
  }
}

function floatInterval(op: Exclude<CmpOp, '!='>, c: number): { lo: number; hi: number } {
  switch (op) {
    case '==':
      return { lo: c, hi: c }
    case '<':
      return { lo: -Infinity, hi: nextDown(c) }
    case '<=':
      return { lo: -Infinity, hi: c }
    case '>':
      return { lo: nextUp(c), hi: Infinity }
    case '>=':
      return { lo: c, hi: Infinity }
  }
}

function asBigInt(v: Value): bigint {
  if (typeof v === 'bigint') return v
  if (typeof v === 'boolean') return v ? 1n : 0n
  throw new TypeError(`expected an integer constant, got ${String(v)}`)
}

function asNumber(v: Value): number {
  if (typeof v === 'number') return v
  if (typeof v === 'bigint') return Number(v)
  if (typeof v === 'boolean') return v ? 1 : 0
  throw new TypeError(`expected a numeric constant, got ${String(v)}`)
}

/**
 * Runs a numeric interval over a scalar column. Integer bounds arrive exact (bigint); float
 * bounds arrive already adjusted for strictness.
 */
function numericInterval(col: Column, ints: IntInterval | undefined, floats: { lo: number; hi: number } | undefined, out: Uint32Array, n: number): boolean {
  const lo = ints ? (ints.lo === undefined ? -Infinity : Number(ints.lo)) : floats!.lo
  const hi = ints ? (ints.hi === undefined ? Infinity : Number(ints.hi)) : floats!.hi
  switch (col.type) {
    case 'Int8':
      K.rangeI8(col.data, lo, hi, out, n)
      return true
    case 'Int16':
      K.rangeI16(col.data, lo, hi, out, n)
      return true
    case 'Int32':
      K.rangeI32(col.data, lo, hi, out, n)
      return true
    case 'Bool':
      K.rangeU8(col.data, lo, hi, out, n)
      return true
    case 'Float':
      K.rangeF32(col.data, lo, hi, out, n)
      return true
    case 'Double':
      K.rangeF64(col.data, lo, hi, out, n)
      return true
    case 'Int64': {
      if (!ints) return false
      const l = ints.lo === undefined || ints.lo < INT64_MIN ? INT64_MIN : ints.lo
      const h = ints.hi === undefined || ints.hi > INT64_MAX ? INT64_MAX : ints.hi
      if (l > h) return true
      K.rangeI64(col.data, l, h, out, n)
      return true
    }
    default:
      return false
  }
}

function isScalarNumeric(ref: FieldRef): boolean {
  switch (ref.dataType) {
    case 'Bool':
    case 'Int8':
    case 'Int16':
    case 'Int32':
    case 'Int64':
    case 'Float':
    case 'Double':
      return true
    default:
      return false
  }
}

function isIntType(t: string | undefined): boolean {
  return t === 'Int8' || t === 'Int16' || t === 'Int32' || t === 'Int64' || t === 'Bool'
}

/** A numeric-column leaf that fills `t` from an interval, optionally complemented (for `!=`). */
function intervalLeaf(ref: FieldRef, ints: IntInterval | undefined, floats: { lo: number; hi: number } | undefined, negate: boolean): Ev {
  return (chunk) => {
    const n = chunk.numRows
    const col = columnOf(chunk, ref)
    if (!col) return allUnknown(n)
    const t = new Bitset(n)
    if (!numericInterval(col, ints, floats, t.words, n)) return allUnknown(n)
    if (negate) t.not()
    return leafDone(t, nullsOf(col, n))
  }
}

function compileCompare(ref: FieldRef, op: CmpOp, value: Value): Ev {
  if (ref.dataType === 'JSON') return jsonLeaf(ref, makeTest(op, value, false))
  if (ref.dataType === 'Array') {
    if (ref.path.length > 0) return arrayElemLeaf(ref, makeTest(op, value, isF32(ref)))
    const eq = makeTest('==', value, isF32(ref))
    return arrayCellLeaf(ref, op === '==' ? eq : (cell) => !eq(cell))
  }
  if (ref.dataType === 'VarChar') {
    const c = String(value)
    return stringLeaf(ref, (d, out, n) => {
      if (op === '==' || op === '!=') K.eqString(d, c, out, n)
      else if (op === '<') K.rangeString(d, undefined, false, c, false, out, n)
      else if (op === '<=') K.rangeString(d, undefined, false, c, true, out, n)
      else if (op === '>') K.rangeString(d, c, false, undefined, false, out, n)
      else K.rangeString(d, c, true, undefined, false, out, n)
    }, op === '!=')
  }
  if (!isScalarNumeric(ref)) return (c) => allUnknown(c.numRows)
  const base: Exclude<CmpOp, '!='> = op === '!=' ? '==' : op
  if (isIntType(ref.dataType)) return intervalLeaf(ref, intInterval(base, asBigInt(value)), undefined, op === '!=')
  const c = ref.dataType === 'Float' ? Math.fround(asNumber(value)) : asNumber(value)
  return intervalLeaf(ref, undefined, floatInterval(base, c), op === '!=')
}

function stringLeaf(ref: FieldRef, fill: (d: readonly string[], out: Uint32Array, n: number) => void, negate: boolean): Ev {
  return (chunk) => {
    const n = chunk.numRows
    const col = columnOf(chunk, ref)
    if (!col || col.type !== 'VarChar') return allUnknown(n)
    const t = new Bitset(n)
    fill(col.data, t.words, n)
    if (negate) t.not()
    return leafDone(t, nullsOf(col, n))
  }
}

function compileRange(node: Extract<PlanNode, { kind: 'range' }>): Ev {
  const { target: ref, lower, upper, lowerInclusive: li, upperInclusive: ui } = node
  if (ref.dataType === 'JSON' || ref.dataType === 'Array') {
    const f32 = isF32(ref)
    const lt = makeTest(li ? '>=' : '>', lower, f32)
    const ut = makeTest(ui ? '<=' : '<', upper, f32)
    const test: Test = (x) => lt(x) && ut(x)
    return ref.dataType === 'JSON' ? jsonLeaf(ref, test) : arrayElemLeaf(ref, test)
  }
  if (ref.dataType === 'VarChar') {
    const l = String(lower)
    const u = String(upper)
    return stringLeaf(ref, (d, out, n) => K.rangeString(d, l, li, u, ui, out, n), false)
  }
  if (isIntType(ref.dataType)) {
    const lo = asBigInt(lower) + (li ? 0n : 1n)
    const hi = asBigInt(upper) - (ui ? 0n : 1n)
    return intervalLeaf(ref, { lo, hi }, undefined, false)
  }
  const f = (v: Value): number => (ref.dataType === 'Float' ? Math.fround(asNumber(v)) : asNumber(v))
  const lo = li ? f(lower) : nextUp(f(lower))
  const hi = ui ? f(upper) : nextDown(f(upper))
  return intervalLeaf(ref, undefined, { lo, hi }, false)
}

// ---- membership ------------------------------------------------------------------------------

/** Per-row membership for JSON values and array elements, with sets per primitive type. */
function makeInTest(values: readonly Value[], f32: boolean): Test {
  const nums = new Set<number>()
  const bigs = new Set<bigint>()
  const strs = new Set<string>()
  const bools = new Set<boolean>()
  const lists: Value[] = []
  for (const v of values) {
    if (typeof v === 'bigint') {
      bigs.add(v)
      nums.add(Number(v))
    } else if (typeof v === 'number') nums.add(f32 ? Math.fround(v) : v)
    else if (typeof v === 'string') strs.add(v)
    else if (typeof v === 'boolean') bools.add(v)
    else lists.push(v)
  }
  return (x) => {
    switch (typeof x) {
      case 'number':
        return nums.has(x)
      case 'bigint':
        return bigs.has(x) || nums.has(Number(x))
      case 'string':
        return strs.has(x)
      case 'boolean':
        return bools.has(x)
      default:
        return Array.isArray(x) && lists.some((l) => looseEquals(x, l))
    }
  }
}

function compileIn(ref: FieldRef, values: readonly Value[]): Ev {
  if (ref.dataType === 'JSON') return jsonLeaf(ref, makeInTest(values, false))
  if (ref.dataType === 'Array') {
    if (ref.path.length > 0) return arrayElemLeaf(ref, makeInTest(values, isF32(ref)))
    return arrayCellLeaf(ref, (cell) => values.some((v) => looseEquals(cell, v)))
  }
  if (ref.dataType === 'VarChar') {
    const set = new Set(values.map(String))
    return stringLeaf(ref, (d, out, n) => K.inStrings(d, set, out, n), false)
  }
  if (ref.dataType === 'Int64') {
    const keys = BigInt64Array.from(new Set(values.map(asBigInt))).sort()
    const limit = 2n ** 53n
    const numbers = keys.length > 16 && keys.every((k) => k < limit && k > -limit) ? new Set(Array.from(keys, Number)) : undefined
    return (chunk) => {
      const n = chunk.numRows
      const col = columnOf(chunk, ref)
      if (!col || col.type !== 'Int64') return allUnknown(n)
      const t = new Bitset(n)
      if (numbers) K.inInt64Safe(col.data, numbers, t.words, n)
      else if (keys.length > 0) K.inInt64(col.data, keys, t.words, n)
      return leafDone(t, nullsOf(col, n))
    }
  }
  if (!isScalarNumeric(ref)) return (c) => allUnknown(c.numRows)
  const set = new Set(values.map((v) => (ref.dataType === 'Float' ? Math.fround(asNumber(v)) : asNumber(v))))
  return (chunk) => {
    const n = chunk.numRows
    const col = columnOf(chunk, ref)
    if (!col) return allUnknown(n)
    const t = new Bitset(n)
    switch (col.type) {
      case 'Int8':
      case 'Int16':
      case 'Int32':
      case 'Float':
      case 'Double':
      case 'Bool':
        K.inNumbers(col.data, set, t.words, n)
        break
      default:
        return allUnknown(n)
    }
    return leafDone(t, nullsOf(col, n))
  }
}

// ---- like ------------------------------------------------------------------------------------

function compileLike(node: Extract<PlanNode, { kind: 'like' }>): Ev {
  const { target: ref, match, operand } = node
  const general = match === 'pattern' ? likeMatcher(operand) : undefined
  const test = likeTest({ match, operand })
  const anyTest: Test = (x) => typeof x === 'string' && test(x)
  if (ref.dataType === 'JSON') return jsonLeaf(ref, anyTest)
  if (ref.dataType === 'Array') return arrayElemLeaf(ref, anyTest)
  return stringLeaf(ref, (d, out, n) => {
    switch (match) {
      case 'equal':
        K.eqString(d, operand, out, n)
        return
      case 'prefix':
        K.prefixString(d, operand, out, n)
        return
      case 'suffix':
        K.suffixString(d, operand, out, n)
        return
      case 'infix':
        K.infixString(d, operand, out, n)
        return
      case 'pattern':
        K.testString(d, general!, out, n)
    }
  }, false)
}

// ---- arithmetic ------------------------------------------------------------------------------

type ArithNode = Extract<PlanNode, { kind: 'arith' }>

function applyNum(op: ArithNode['arithOp'], x: number, k: number, intDiv: boolean): number {
  switch (op) {
    case '+':
      return x + k
    case '-':
      return x - k
    case '*':
      return x * k
    case '/':
      return intDiv ? Math.trunc(x / k) : x / k
    case '%':
      return x % k
  }
}

function applyBig(op: ArithNode['arithOp'], x: bigint, k: bigint): bigint {
  switch (op) {
    case '+':
      return BigInt.asIntN(64, x + k)
    case '-':
      return BigInt.asIntN(64, x - k)
    case '*':
      return BigInt.asIntN(64, x * k)
    case '/':
      return BigInt.asIntN(64, x / k)
    case '%':
      return x % k
  }
}

function cmpNum(op: CmpOp, a: number, b: number): boolean {
  switch (op) {
    case '==':
      return a === b
    case '!=':
      return a !== b
    case '<':
      return a < b
    case '<=':
      return a <= b
    case '>':
      return a > b
    case '>=':
      return a >= b
  }
}

function cmpBig(op: CmpOp, a: bigint, b: bigint): boolean {
  switch (op) {
    case '==':
      return a === b
    case '!=':
      return a !== b
    case '<':
      return a < b
    case '<=':
      return a <= b
    case '>':
      return a > b
    case '>=':
      return a >= b
  }
}

/** (d[i] op k) cmp v over a narrow numeric column, in float64 (exact for the integer cases allowed). */
function arithNumbers(d: ArrayLike<number>, op: ArithNode['arithOp'], k: number, intDiv: boolean, cmp: CmpOp, v: number, out: Uint32Array, n: number): void {
  let i = 0
  for (let w = 0; i < n; w++) {
    const end = Math.min(n, i + 32)
    let bits = 0
    for (let j = 0; i < end; j++, i++) bits |= +cmpNum(cmp, applyNum(op, d[i]!, k, intDiv), v) << j
    out[w] = bits
  }
}

/** Int64 arithmetic wraps like C++/Go int64; the BigInt ops stay on V8's int64 fast path. */
function arithInt64(d: BigInt64Array, op: ArithNode['arithOp'], k: bigint, cmp: CmpOp, v: bigint, out: Uint32Array, n: number): void {
  let i = 0
  for (let w = 0; i < n; w++) {
    const end = Math.min(n, i + 32)
    let bits = 0
    for (let j = 0; i < end; j++, i++) bits |= +cmpBig(cmp, applyBig(op, d[i]!, k), v) << j
    out[w] = bits
  }
}

/** Whether (x op k) stays an exact integer in float64 for every 32-bit x. */
function safeFor32(op: ArithNode['arithOp'], k: bigint): boolean {
  const a = k < 0n ? -k : k
  if (op === '*') return a <= 2n ** 21n
  if (op === '+' || op === '-') return a < 2n ** 52n
  return true
}

function compileArith(node: ArithNode): Ev {
  const { target: ref, arithOp: op, operand, op: cmp, value } = node
  const intArith = typeof operand === 'bigint'
  const perValue: Test = (x) => {
    let r: number | bigint
    if (typeof x === 'bigint') {
      if (!intArith) return cmpNum(cmp, applyNum(op, Number(x), Number(operand), false), asNumber(value))
      r = applyBig(op, x, operand as bigint)
      return cmpBig(cmp, r, asBigInt(value))
    }
    if (typeof x !== 'number') return false
    if (intArith) {
      if (!Number.isInteger(x)) return false
      if (Math.abs(x) < 2 ** 31 && safeFor32(op, operand as bigint)) {
        return cmpNum(cmp, applyNum(op, x, Number(operand), true), Number(value))
      }
      if (!Number.isSafeInteger(x)) return false
      return cmpBig(cmp, applyBig(op, BigInt(x), operand as bigint), asBigInt(value))
    }
    return cmpNum(cmp, applyNum(op, x, Number(operand), false), asNumber(value))
  }
  if (ref.dataType === 'JSON') return jsonLeaf(ref, perValue)
  if (ref.dataType === 'Array') return arrayElemLeaf(ref, perValue)
  return (chunk) => {
    const n = chunk.numRows
    const col = columnOf(chunk, ref)
    if (!col) return allUnknown(n)
    const t = new Bitset(n)
    switch (col.type) {
      case 'Int64':
        arithInt64(col.data, op, asBigInt(operand), cmp, asBigInt(value), t.words, n)
        break
      case 'Int8':
      case 'Int16':
      case 'Int32':
        if (safeFor32(op, asBigInt(operand))) {
          arithNumbers(col.data, op, Number(operand), true, cmp, Number(value), t.words, n)
        } else {
          const d = col.data
          K.fillByRow(n, t.words, (i) => cmpBig(cmp, applyBig(op, BigInt(d[i]!), asBigInt(operand)), asBigInt(value)))
        }
        break
      case 'Float':
      case 'Double':
        arithNumbers(col.data, op, asNumber(operand), false, cmp, asNumber(value), t.words, n)
        break
      default:
        return allUnknown(n)
    }
    return leafDone(t, nullsOf(col, n))
  }
}

function compileArrayLength(node: Extract<PlanNode, { kind: 'arrayLength' }>): Ev {
  const { target: ref, op, value } = node
  const v = Number(value)
  if (ref.dataType === 'JSON') return jsonLeaf(ref, (x) => Array.isArray(x) && cmpNum(op, x.length, v))
  return arrayCellLeaf(ref, (cell) => cmpNum(op, cell.length, v))
}

// ---- field vs field --------------------------------------------------------------------------

function compareFieldsNum(a: ArrayLike<number>, b: ArrayLike<number>, op: CmpOp, out: Uint32Array, n: number): void {
  let i = 0
  for (let w = 0; i < n; w++) {
    const end = Math.min(n, i + 32)
    let bits = 0
    for (let j = 0; i < end; j++, i++) bits |= +cmpNum(op, a[i]!, b[i]!) << j
    out[w] = bits
  }
}

function compareFieldsI64(a: BigInt64Array, b: BigInt64Array, op: CmpOp, out: Uint32Array, n: number): void {
  let i = 0
  for (let w = 0; i < n; w++) {
    const end = Math.min(n, i + 32)
    let bits = 0
    for (let j = 0; i < end; j++, i++) bits |= +cmpBig(op, a[i]!, b[i]!) << j
    out[w] = bits
  }
}

const ORDER_OK: Record<CmpOp, (o: number) => boolean> = {
  '==': (o) => o === 0,
  '!=': (o) => !(o === 0),
  '<': (o) => o < 0,
  '<=': (o) => o <= 0,
  '>': (o) => o > 0,
  '>=': (o) => o >= 0,
}

function compileFieldCompare(left: FieldRef, op: CmpOp, right: FieldRef): Ev {
  const ok = ORDER_OK[op]
  return (chunk) => {
    const n = chunk.numRows
    const a = columnOf(chunk, left)
    const b = columnOf(chunk, right)
    if (!a || !b) return allUnknown(n)
    const t = new Bitset(n)
    if (a.type === 'Int64' && b.type === 'Int64') compareFieldsI64(a.data, b.data, op, t.words, n)
    else if (a.type === 'VarChar' && b.type === 'VarChar') {
      const x = a.data
      const y = b.data
      K.fillByRow(n, t.words, (i) => ok(x[i]! < y[i]! ? -1 : x[i]! > y[i]! ? 1 : 0))
    } else if (a.type === 'Int64' || b.type === 'Int64') {
      // int64 against a float: compare exactly rather than rounding the int64.
      const big = (a.type === 'Int64' ? a.data : (b as Extract<Column, { type: 'Int64' }>).data) as BigInt64Array
      const other = (a.type === 'Int64' ? b.data : a.data) as ArrayLike<number>
      const flip = a.type !== 'Int64'
      K.fillByRow(n, t.words, (i) => {
        const o = compareBigNumber(big[i]!, other[i]!)
        return ok(flip ? -o : o)
      })
    } else {
      const x = a.data as ArrayLike<number>
      const y = b.data as ArrayLike<number>
      compareFieldsNum(x, y, op, t.words, n)
    }
    const na = nullsOf(a, n)
    const nb = nullsOf(b, n)
    const nulls = na && nb ? na.or(nb) : (na ?? nb)
    return leafDone(t, nulls)
  }
}

// ---- null / contains / sample ----------------------------------------------------------------

function compileNull(ref: FieldRef, isNull: boolean): Ev {
  return (chunk) => {
    const n = chunk.numRows
    const col = columnOf(chunk, ref)
    // IS NULL is never UNKNOWN; a column the chunk lacks is null in every row.
    const nulls = col ? (nullsOf(col, n) ?? new Bitset(n)) : Bitset.full(n)
    return { t: isNull ? nulls : nulls.not(), n: undefined }
  }
}

/** Maps a constant into an array's element domain; undefined when no element can equal it. */
function toElement(v: Value, elementType: string | undefined): unknown {
  switch (elementType) {
    case 'Int64':
      if (typeof v === 'bigint') return v
      return typeof v === 'number' && Number.isInteger(v) ? BigInt(v) : undefined
    case 'Int8':
    case 'Int16':
    case 'Int32':
      if (typeof v === 'bigint') return Number(v)
      return typeof v === 'number' && Number.isInteger(v) ? v : undefined
    case 'Float':
      return typeof v === 'number' || typeof v === 'bigint' ? Math.fround(Number(v)) : undefined
    case 'Double':
      return typeof v === 'number' || typeof v === 'bigint' ? Number(v) : undefined
    default:
      return v
  }
}

function compileContains(node: Extract<PlanNode, { kind: 'contains' }>): Ev {
  const { target: ref, mode, values } = node
  if (ref.dataType === 'Array') {
    const elems = values.map((v) => toElement(v, ref.elementType))
    const present = elems.filter((e) => e !== undefined) as (string | number | bigint | boolean)[]
    const has = (cell: readonly unknown[], e: unknown): boolean => cell.includes(e)
    if (mode === 'containsAny') return arrayCellLeaf(ref, (cell) => present.some((e) => has(cell, e)))
    if (elems.length !== present.length) return arrayCellLeaf(ref, () => false)
    if (present.length === 1) {
      const only = present[0]
      return arrayCellLeaf(ref, (cell) => (cell as readonly unknown[]).includes(only))
    }
    return arrayCellLeaf(ref, (cell) => present.every((e) => has(cell, e)))
  }
  const has = (x: readonly JsonValue[], c: Value): boolean => x.some((e) => looseEquals(e, c))
  if (mode === 'containsAny') return jsonLeaf(ref, (x) => Array.isArray(x) && values.some((c) => has(x, c)))
  return jsonLeaf(ref, (x) => Array.isArray(x) && values.every((c) => has(x, c)))
}

function compileSample(factor: number, predicate: Ev | undefined): Ev {
  return (chunk) => {
    const n = chunk.numRows
    const base = predicate ? predicate(chunk).t : Bitset.full(n)
    const rows: number[] = []
    base.forEach((i) => rows.push(i))
    const k = Math.round(rows.length * factor)
    const t = new Bitset(n)
    // Partial Fisher-Yates: the first k slots end up a uniform sample without replacement.
    for (let i = 0; i < k; i++) {
      const j = i + Math.floor(Math.random() * (rows.length - i))
      const picked = rows[j]!
      rows[j] = rows[i]!
      rows[i] = picked
      t.set(picked)
    }
    return { t, n: undefined }
  }
}
