import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { Bitset } from '../common/bitset.js'
import { DbError } from '../common/errors.js'
import type { SparseRow, VectorColumn } from '../schema/columns.js'
import { columnRows } from '../schema/columns.js'
import type { VectorTypeName } from '../schema/types.js'
import { bruteForceSearch, distance, type Hits, type SearchOptions } from './brute-force.js'
import { bfloat16ToFloat32, float16ToFloat32, float32ToBfloat16, float32ToFloat16 } from './half-float.js'
import { higherIsBetter, type MetricType, supportedMetrics } from './metric.js'

/** mulberry32: small, seedable, good enough for test data. */
function rng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

interface GenOptions {
  readonly nullEvery?: number
}

function randomColumn(type: VectorTypeName, n: number, dim: number, r: () => number, o: GenOptions = {}): VectorColumn {
  const valid = o.nullEvery === undefined ? undefined : Uint8Array.from({ length: n }, (_, i) => (i % o.nullEvery! === 1 ? 0 : 1))
  const v = valid === undefined ? {} : { valid }
  const f = (): number => r() * 2 - 1
  switch (type) {
    case 'FloatVector':
      return { type, dim, data: Float32Array.from({ length: n * dim }, f), ...v }
    case 'Float16Vector':
      return { type, dim, data: Uint16Array.from({ length: n * dim }, () => float32ToFloat16(f())), ...v }
    case 'BFloat16Vector':
      return { type, dim, data: Uint16Array.from({ length: n * dim }, () => float32ToBfloat16(f())), ...v }
    case 'Int8Vector':
      // A narrow value range makes exact score ties common, which exercises the row tie-break.
      return { type, dim, data: Int8Array.from({ length: n * dim }, () => Math.floor(r() * 7) - 3), ...v }
    case 'BinaryVector':
      return { type, dim, data: Uint8Array.from({ length: (n * dim) / 8 }, () => Math.floor(r() * 256)), ...v }
    case 'SparseFloatVector': {
      const data: SparseRow[] = []
      for (let i = 0; i < n; i++) {
        const set = new Set<number>()
        const nnz = Math.floor(r() * 6)
        while (set.size < nnz) set.add(Math.floor(r() * 30))
        const indices = Uint32Array.from([...set].sort((a, b) => a - b))
        data.push({ indices, values: Float32Array.from(indices, () => f()) })
      }
      return { type, data, ...v }
    }
  }
}

/** Element j of a dense row as a number, decoded independently of the kernels' tables. */
function elem(col: VectorColumn, row: number, j: number): number {
  switch (col.type) {
    case 'FloatVector':
    case 'Int8Vector':
      return col.data[row * col.dim + j]!
    case 'Float16Vector':
      return float16ToFloat32(col.data[row * col.dim + j]!)
    case 'BFloat16Vector':
      return bfloat16ToFloat32(col.data[row * col.dim + j]!)
    default:
      throw new Error('not dense')
  }
}

function bit(col: VectorColumn, row: number, j: number): number {
  if (col.type !== 'BinaryVector') throw new Error('not binary')
  const byte = col.data[row * (col.dim / 8) + (j >> 3)]!
  return (byte >> (7 - (j & 7))) & 1
}

/** The obvious, slow definition of each metric. */
function refScore(metric: MetricType, a: VectorColumn, ai: number, b: VectorColumn, bi: number): number {
  if (a.type === 'SparseFloatVector' && b.type === 'SparseFloatVector') {
    const x = a.data[ai]!
    const m = new Map<number, number>()
    x.indices.forEach((idx, i) => m.set(idx, x.values[i]!))
    const q = b.data[bi]!
    let s = 0
    q.indices.forEach((idx, i) => (s += (m.get(idx) ?? 0) * q.values[i]!))
    return Math.fround(s)
  }
  if (a.type === 'BinaryVector') {
    let inter = 0
    let union = 0
    let diff = 0
    for (let j = 0; j < a.dim; j++) {
      const x = bit(a, ai, j)
      const y = bit(b, bi, j)
      inter += x & y
      union += x | y
      diff += x ^ y
    }
    return metric === 'HAMMING' ? diff : Math.fround(union === 0 ? 1 : 1 - inter / union)
  }
  if (a.type === 'SparseFloatVector') throw new Error('unreachable')
  let ip = 0
  let l2 = 0
  let na = 0
  let nb = 0
  for (let j = 0; j < a.dim; j++) {
    const x = elem(a, ai, j)
    const y = elem(b, bi, j)
    ip += x * y
    l2 += (x - y) ** 2
    na += x * x
    nb += y * y
  }
  if (metric === 'L2') return Math.fround(l2)
  if (metric === 'IP') return Math.fround(ip)
  return Math.fround(na === 0 || nb === 0 ? 0 : ip / Math.sqrt(na) / Math.sqrt(nb))
}

interface RefHit {
  row: number
  score: number
}

function refSearch(data: VectorColumn, queries: VectorColumn, opts: SearchOptions): RefHit[][] {
  const hib = higherIsBetter(opts.metric)
  const out: RefHit[][] = []
  for (let q = 0; q < columnRows(queries); q++) {
    if (queries.valid?.[q] === 0) {
      out.push([])
      continue
    }
    const hits: RefHit[] = []
    for (let r = 0; r < columnRows(data); r++) {
      if (data.valid?.[r] === 0) continue
      if (opts.allow !== undefined && (r >= opts.allow.size || !opts.allow.get(r))) continue
      const s = refScore(opts.metric, data, r, queries, q)
      if (Number.isNaN(s)) continue
      if (data.type === 'SparseFloatVector' && !(s > 0)) continue
      if (opts.radius !== undefined) {
        const rf = opts.rangeFilter
        if (hib ? !(s > opts.radius && (rf === undefined || s <= rf)) : !(s < opts.radius && (rf === undefined || s >= rf))) continue
      }
      hits.push({ row: r, score: s })
    }
    hits.sort((x, y) => (x.score !== y.score ? (hib ? y.score - x.score : x.score - y.score) : x.row - y.row))
    out.push(hits.slice(0, opts.k))
  }
  return out
}

/** Integer-valued (or identically computed) metrics must match exactly, rows and ties included. */
function isExact(type: VectorTypeName, metric: MetricType): boolean {
  return type === 'BinaryVector' || (type === 'Int8Vector' && metric !== 'COSINE')
}

function assertMatches(
  data: VectorColumn,
  queries: VectorColumn,
  opts: SearchOptions,
  got: Hits[],
  label: string,
): void {
  const want = refSearch(data, queries, opts)
  assert.equal(got.length, want.length, label)
  const exact = isExact(data.type, opts.metric)
  got.forEach((h, q) => {
    const w = want[q]!
    const l = `${label} q${q}`
    assert.equal(h.rows.length, h.scores.length, l)
    if (exact) {
      assert.deepEqual([...h.rows], w.map((x) => x.row), l)
      assert.deepEqual([...h.scores], w.map((x) => x.score), l)
      return
    }
    assert.equal(h.rows.length, w.length, l)
    assert.equal(new Set(h.rows).size, h.rows.length, `${l}: duplicate rows`)
    const tol = (x: number): number => 1e-5 * Math.max(1, Math.abs(x))
    for (let i = 0; i < w.length; i++) {
      const s = h.scores[i]!
      assert.ok(Math.abs(s - w[i]!.score) <= tol(s), `${l}[${i}]: ${s} vs ${w[i]!.score}`)
      const own = refScore(opts.metric, data, h.rows[i]!, queries, q)
      assert.ok(Math.abs(s - own) <= tol(s), `${l}[${i}]: row ${h.rows[i]} scored ${s}, reference ${own}`)
      // Exact search reports the very score distance() gives for the pair.
      assert.equal(s, distance(opts.metric, data, h.rows[i]!, queries, q), l)
      if (i > 0) {
        const p = h.scores[i - 1]!
        const ordered = higherIsBetter(opts.metric) ? p >= s : p <= s
        assert.ok(ordered && (p !== s || h.rows[i - 1]! < h.rows[i]!), `${l}: order at ${i}`)
      }
    }
  })
}

const TYPES: readonly VectorTypeName[] = [
  'FloatVector',
  'Float16Vector',
  'BFloat16Vector',
  'Int8Vector',
  'BinaryVector',
  'SparseFloatVector',
]
const DIMS: Readonly<Record<VectorTypeName, number>> = {
  FloatVector: 13,
  Float16Vector: 8,
  BFloat16Vector: 6,
  Int8Vector: 5,
  BinaryVector: 32,
  SparseFloatVector: 0,
}

function allowOf(n: number, rows: readonly number[]): Bitset {
  const b = new Bitset(n)
  for (const r of rows) b.set(r)
  return b
}

describe('bruteForceSearch matches a naive reference', () => {
  const n = 150
  for (const type of TYPES) {
    for (const metric of supportedMetrics(type)) {
      it(`${type} ${metric}`, () => {
        const r = rng(type.length * 31 + metric.length)
        const dim = DIMS[type]
        const data = randomColumn(type, n, dim, r, { nullEvery: 9 })
        const queries = randomColumn(type, 3, dim, r)
        const allows: [string, Bitset | undefined][] = [
          ['no allow', undefined],
          ['one row', allowOf(n, [77])],
          ['a null row only', allowOf(n, [1])],
          ['all rows', Bitset.full(n)],
          ['none', new Bitset(n)],
          ['small list', allowOf(n, [0, 3, 64, 65, 100, 149, 31, 32])],
          ['random half', allowOf(n, Array.from({ length: n }, (_, i) => i).filter(() => r() < 0.5))],
          ['shorter than the column', Bitset.full(40)],
        ]
        for (const [name, allow] of allows) {
          for (const k of [1, 7, n + 5]) {
            const opts = { metric, k, ...(allow ? { allow } : {}) }
            assertMatches(data, queries, opts, bruteForceSearch(data, queries, opts), `${name} k=${k}`)
          }
        }
      })
    }
  }
})

describe('bruteForceSearch ordering', () => {
  it('breaks exact score ties by lower row offset', () => {
    const dim = 4
    const row = [0.25, -0.5, 1, 2]
    const data: VectorColumn = { type: 'FloatVector', dim, data: Float32Array.from({ length: 50 * dim }, (_, i) => row[i % dim]!) }
    const q: VectorColumn = { type: 'FloatVector', dim, data: Float32Array.from([1, 1, 1, 1]) }
    for (const metric of ['L2', 'IP', 'COSINE'] as const) {
      const [h] = bruteForceSearch(data, q, { metric, k: 10 })
      assert.deepEqual([...h!.rows], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], metric)
      const allow = allowOf(50, [49, 7, 30, 2])
      const [a] = bruteForceSearch(data, q, { metric, k: 3, allow })
      assert.deepEqual([...a!.rows], [2, 7, 30], metric)
    }
  })

  it('sorts best first for distances and similarities', () => {
    const data: VectorColumn = { type: 'FloatVector', dim: 1, data: Float32Array.from([3, -1, 2, 0, 5]) }
    const q: VectorColumn = { type: 'FloatVector', dim: 1, data: Float32Array.from([1]) }
    const [l2] = bruteForceSearch(data, q, { metric: 'L2', k: 5 })
    assert.deepEqual([...l2!.rows], [2, 3, 0, 1, 4])
    assert.deepEqual([...l2!.scores], [1, 1, 4, 4, 16])
    const [ip] = bruteForceSearch(data, q, { metric: 'IP', k: 3 })
    assert.deepEqual([...ip!.rows], [4, 0, 2])
    assert.deepEqual([...ip!.scores], [5, 3, 2])
  })

  it('reports a zero inner product as +0', () => {
    const data: VectorColumn = { type: 'FloatVector', dim: 2, data: Float32Array.from([0, 1]) }
    const q: VectorColumn = { type: 'FloatVector', dim: 2, data: Float32Array.from([1, 0]) }
    const [h] = bruteForceSearch(data, q, { metric: 'IP', k: 1 })
    assert.ok(Object.is(h!.scores[0], 0))
  })
})

describe('bruteForceSearch nulls and edge rows', () => {
  it('never returns null rows and gives a null query no hits', () => {
    const data: VectorColumn = { type: 'Int8Vector', dim: 2, data: Int8Array.from([1, 1, 2, 2, 3, 3]), valid: Uint8Array.from([1, 0, 1]) }
    const queries: VectorColumn = { type: 'Int8Vector', dim: 2, data: Int8Array.from([2, 2, 0, 0]), valid: Uint8Array.from([1, 0]) }
    const [a, b] = bruteForceSearch(data, queries, { metric: 'L2', k: 10 })
    assert.deepEqual([...a!.rows], [0, 2]) // both at distance 2: the lower row first
    assert.equal(b!.rows.length, 0)
  })

  it('handles an empty column', () => {
    const data: VectorColumn = { type: 'FloatVector', dim: 3, data: new Float32Array(0) }
    const q: VectorColumn = { type: 'FloatVector', dim: 3, data: new Float32Array(3) }
    const [h] = bruteForceSearch(data, q, { metric: 'COSINE', k: 4 })
    assert.equal(h!.rows.length, 0)
  })

  it('gives the same COSINE results with and without cached norms', () => {
    const r = rng(3)
    for (const type of ['FloatVector', 'Float16Vector', 'BFloat16Vector', 'Int8Vector'] as const) {
      // A fresh column and a small allow-list: norms are computed inline, not cached.
      const data = randomColumn(type, 400, 9, r)
      const q = randomColumn(type, 2, 9, r)
      const opts = { metric: 'COSINE' as const, k: 5, allow: allowOf(400, [5, 50, 150, 151, 399]) }
      const inline = bruteForceSearch(data, q, opts)
      assertMatches(data, q, opts, inline, `${type} inline norms`)
      bruteForceSearch(data, q, { metric: 'COSINE', k: 1 }) // builds the cache
      assert.deepEqual(bruteForceSearch(data, q, opts), inline, type)
    }
  })

  it('scores COSINE with an all-zero vector as 0', () => {
    const data: VectorColumn = { type: 'FloatVector', dim: 2, data: Float32Array.from([0, 0, 1, 0, -1, 0]) }
    const q: VectorColumn = { type: 'FloatVector', dim: 2, data: Float32Array.from([1, 0]) }
    const [h] = bruteForceSearch(data, q, { metric: 'COSINE', k: 3 })
    assert.deepEqual([...h!.rows], [1, 0, 2])
    assert.deepEqual([...h!.scores], [1, 0, -1])
  })

  it('puts two all-zero binary vectors at JACCARD distance 1, as knowhere does', () => {
    const data: VectorColumn = { type: 'BinaryVector', dim: 8, data: Uint8Array.from([0, 0b11110000, 0b10000000]) }
    const q: VectorColumn = { type: 'BinaryVector', dim: 8, data: Uint8Array.from([0b10000000]) }
    const zero: VectorColumn = { type: 'BinaryVector', dim: 8, data: Uint8Array.from([0]) }
    assert.equal(distance('JACCARD', data, 0, zero, 0), 1)
    const [h] = bruteForceSearch(data, q, { metric: 'JACCARD', k: 3 })
    assert.deepEqual([...h!.rows], [2, 1, 0])
    assert.deepEqual([...h!.scores], [0, 0.75, 1])
  })

  it('uses the byte path for unaligned binary data and odd widths', () => {
    const r = rng(7)
    for (const [dim, offset] of [[32, 1], [24, 0], [8, 3], [64, 0]] as const) {
      const n = 60
      const bytes = (n * dim) / 8
      const buf = new Uint8Array(bytes + offset)
      for (let i = 0; i < buf.length; i++) buf[i] = Math.floor(r() * 256)
      const data: VectorColumn = { type: 'BinaryVector', dim, data: new Uint8Array(buf.buffer, offset, bytes) }
      const qbuf = Uint8Array.from({ length: (2 * dim) / 8 + 1 }, () => Math.floor(r() * 256))
      const queries: VectorColumn = { type: 'BinaryVector', dim, data: qbuf.subarray(1) }
      for (const metric of ['HAMMING', 'JACCARD'] as const) {
        const opts = { metric, k: 9 }
        assertMatches(data, queries, opts, bruteForceSearch(data, queries, opts), `dim ${dim} offset ${offset} ${metric}`)
      }
    }
  })

  it('returns only positive sparse inner products, as knowhere does', () => {
    const row = (ix: number[], vs: number[]): SparseRow => ({ indices: Uint32Array.from(ix), values: Float32Array.from(vs) })
    const data: VectorColumn = {
      type: 'SparseFloatVector',
      data: [row([1, 5], [1, 1]), row([2], [3]), row([1], [-1]), row([], []), row([5, 9], [0.5, 7])],
    }
    const q: VectorColumn = { type: 'SparseFloatVector', data: [row([1, 5], [2, 1]), row([], [])] }
    const [a, b] = bruteForceSearch(data, q, { metric: 'IP', k: 10 })
    assert.deepEqual([...a!.rows], [0, 4])
    assert.deepEqual([...a!.scores], [3, 0.5])
    assert.equal(b!.rows.length, 0)
    assert.equal(distance('IP', data, 2, q, 0), -2)
  })
})

describe('bruteForceSearch range search', () => {
  const r = rng(99)
  const bin = randomColumn('BinaryVector', 300, 16, r)
  const bq = randomColumn('BinaryVector', 2, 16, r)

  it('keeps range_filter <= distance < radius for HAMMING', () => {
    const [h] = bruteForceSearch(bin, bq, { metric: 'HAMMING', k: 1000, radius: 8, rangeFilter: 5 })
    assert.ok(h!.rows.length > 0)
    for (const s of h!.scores) assert.ok(s >= 5 && s < 8, String(s))
    const all = refSearch(bin, bq, { metric: 'HAMMING', k: 1000 })[0]!
    assert.equal(h!.rows.length, all.filter((x) => x.score >= 5 && x.score < 8).length)
    const opts = { metric: 'HAMMING' as const, k: 10, radius: 8, rangeFilter: 5 }
    assertMatches(bin, bq, opts, bruteForceSearch(bin, bq, opts), 'hamming range top-10')
  })

  it('keeps radius < score <= range_filter for IP and COSINE', () => {
    const data = randomColumn('Int8Vector', 300, 6, r)
    const q = randomColumn('Int8Vector', 2, 6, r)
    const opts = { metric: 'IP' as const, k: 1000, radius: 2, rangeFilter: 10 }
    const [h] = bruteForceSearch(data, q, opts)
    assert.ok(h!.rows.length > 0)
    for (const s of h!.scores) assert.ok(s > 2 && s <= 10, String(s))
    assertMatches(data, q, opts, bruteForceSearch(data, q, opts), 'ip range')
    const f = randomColumn('FloatVector', 200, 8, r)
    const fq = randomColumn('FloatVector', 2, 8, r)
    for (const o of [
      { metric: 'COSINE' as const, k: 500, radius: 0.2, rangeFilter: 0.6 },
      { metric: 'COSINE' as const, k: 5, radius: -0.1 },
      { metric: 'L2' as const, k: 500, radius: 4, rangeFilter: 1 },
      { metric: 'L2' as const, k: 500, radius: 3 },
    ]) {
      const got = bruteForceSearch(f, fq, o)
      assertMatches(f, fq, o, got, JSON.stringify(o))
    }
  })

  it('includes the range_filter bound and excludes the radius bound', () => {
    const data: VectorColumn = { type: 'Int8Vector', dim: 1, data: Int8Array.from([1, 2, 3, 4, 5]) }
    const q: VectorColumn = { type: 'Int8Vector', dim: 1, data: Int8Array.from([1]) }
    const [ip] = bruteForceSearch(data, q, { metric: 'IP', k: 10, radius: 2, rangeFilter: 4 })
    assert.deepEqual([...ip!.scores], [4, 3])
    const [l2] = bruteForceSearch(data, q, { metric: 'L2', k: 10, radius: 9, rangeFilter: 1 })
    assert.deepEqual([...l2!.scores], [1, 4])
  })

  it('ignores range_filter without radius, as Milvus does', () => {
    const data: VectorColumn = { type: 'Int8Vector', dim: 1, data: Int8Array.from([1, 2, 3]) }
    const q: VectorColumn = { type: 'Int8Vector', dim: 1, data: Int8Array.from([1]) }
    const [h] = bruteForceSearch(data, q, { metric: 'IP', k: 10, rangeFilter: 2 })
    assert.equal(h!.rows.length, 3)
  })

  it('rejects radius and range_filter in the wrong order', () => {
    assert.throws(() => bruteForceSearch(bin, bq, { metric: 'HAMMING', k: 1, radius: 3, rangeFilter: 5 }), /range_filter must be less than radius/)
    assert.throws(() => bruteForceSearch(bin, bq, { metric: 'HAMMING', k: 1, radius: 3, rangeFilter: 3 }), DbError)
    const f = randomColumn('FloatVector', 3, 2, r)
    assert.throws(() => bruteForceSearch(f, f, { metric: 'IP', k: 1, radius: 0.5, rangeFilter: 0.1 }), /range_filter must be greater than radius/)
  })
})

describe('bruteForceSearch validation', () => {
  const r = rng(5)
  function invalid(fn: () => unknown, message: RegExp): void {
    assert.throws(fn, (e: unknown) => {
      assert.ok(e instanceof DbError, String(e))
      assert.equal(e.kind, 'ParameterInvalid')
      assert.match(e.message, message)
      return true
    })
  }

  it('rejects dim and type mismatches', () => {
    const a = randomColumn('FloatVector', 4, 8, r)
    const b = randomColumn('FloatVector', 1, 4, r)
    const c = randomColumn('Float16Vector', 1, 8, r)
    invalid(() => bruteForceSearch(a, b, { metric: 'L2', k: 1 }), /dimension mismatch: field dim is 8, query dim is 4/)
    invalid(() => bruteForceSearch(a, c, { metric: 'L2', k: 1 }), /vector type mismatch: field is FloatVector, query is Float16Vector/)
    invalid(() => distance('L2', a, 0, b, 0), /dimension mismatch/)
    invalid(() => distance('L2', a, 4, a, 0), /row 4 out of range/)
  })

  it('rejects a metric the vector type does not support', () => {
    const bin = randomColumn('BinaryVector', 4, 8, r)
    invalid(() => bruteForceSearch(bin, bin, { metric: 'L2', k: 1 }), /metric type L2 is not valid for BinaryVector, supported: HAMMING, JACCARD/)
    const sp = randomColumn('SparseFloatVector', 4, 0, r)
    invalid(() => bruteForceSearch(sp, sp, { metric: 'COSINE', k: 1 }), /COSINE is not valid for SparseFloatVector/)
    const f = randomColumn('FloatVector', 4, 8, r)
    invalid(() => distance('JACCARD', f, 0, f, 1), /JACCARD is not valid for FloatVector/)
  })

  it('rejects a non-positive or fractional k', () => {
    const f = randomColumn('FloatVector', 4, 8, r)
    invalid(() => bruteForceSearch(f, f, { metric: 'L2', k: 0 }), /topk/)
    invalid(() => bruteForceSearch(f, f, { metric: 'L2', k: 2.5 }), /topk/)
  })
})

describe('distance', () => {
  it('agrees with the reference for every type and metric, in both argument orders', () => {
    const r = rng(11)
    for (const type of TYPES) {
      const a = randomColumn(type, 20, DIMS[type], r)
      const b = randomColumn(type, 5, DIMS[type], r)
      for (const metric of supportedMetrics(type)) {
        for (let i = 0; i < 20; i++) {
          const d = distance(metric, a, i, b, i % 5)
          const want = refScore(metric, a, i, b, i % 5)
          assert.ok(Math.abs(d - want) <= 1e-5 * Math.max(1, Math.abs(want)), `${type} ${metric}: ${d} vs ${want}`)
          assert.equal(distance(metric, b, i % 5, a, i), d, `${type} ${metric} symmetric`)
        }
      }
    }
  })
})
