import type { Bitset } from '../common/bitset.js'
import { invalid } from '../common/errors.js'
import type { SparseRow, VectorColumn } from '../schema/columns.js'
import { columnRows } from '../schema/columns.js'
import { BF16_TABLE, FP16_TABLE } from './half-float.js'
import {
  cosineFrom,
  hamming32,
  hamming8,
  ipF32,
  ipI8,
  ipSparse,
  ipU16,
  jaccard32,
  jaccard8,
  l2F32,
  l2I8,
  l2U16,
  normF32,
  normF64,
  normI8,
  normU16,
} from './kernels.js'
import { checkMetric, higherIsBetter, type MetricType } from './metric.js'
import { TopKHeap } from './top-k-heap.js'

/** One query's results, best first; ties in score go to the lower row offset. */
export interface Hits {
  /** Row offsets into the searched column. */
  readonly rows: Int32Array
  /** Distances (L2 squared, HAMMING, JACCARD) or similarities (IP, COSINE), as float32. */
  readonly scores: Float32Array
}

export interface SearchOptions {
  readonly metric: MetricType
  /** Milvus topk / limit: at most this many hits per query; a positive integer. */
  readonly k: number
  /** Only rows whose bit is set are candidates; rows at or past `allow.size` are not. */
  readonly allow?: Bitset
  /**
   * Range search, as Milvus: with a distance metric keep `rangeFilter <= d < radius`, with a
   * similarity keep `radius < s <= rangeFilter`. Without `radius`, `rangeFilter` is ignored
   * (Milvus only range-searches when radius is given).
   */
  readonly radius?: number
  readonly rangeFilter?: number
}

/**
 * Scores rows cand[start..end) (or start..end when cand is null) against query `q` into
 * out[0..end-start). One closure per search; the per-row kernel call inside stays monomorphic.
 */
type BlockScorer = (
  q: number,
  cand: Int32Array | null,
  start: number,
  end: number,
  out: Float64Array,
) => void

/** Bytes of data scored per block before moving to the next query; sized to stay in L2. */
const BLOCK_BYTES = 256 * 1024

/**
 * Exact top-k (and range) search of every query row against every candidate row of `data`.
 * Null data rows are never returned; a null query row gets empty Hits. For sparse IP only rows
 * with a positive score are returned, as knowhere does.
 *
 * @throws DbError ParameterInvalid on vector type or dim mismatch, a metric the vector type does
 * not support, a bad k, or radius/range_filter in the wrong order.
 */
export function bruteForceSearch(
  data: VectorColumn,
  queries: VectorColumn,
  opts: SearchOptions,
): Hits[] {
  const metric = opts.metric
  checkPair(data, queries, metric)
  const k = opts.k
  if (!Number.isInteger(k) || k <= 0) throw invalid(`topk must be a positive integer, got ${k}`)
  const higher = higherIsBetter(metric)
  const [lo, hi] = keyRange(metric, data.type === 'SparseFloatVector', opts)

  const n = columnRows(data)
  const nq = columnRows(queries)
  const cand = candidates(n, opts.allow, data.valid)
  const nc = cand === null ? n : cand.length
  const score = makeScorer(data, queries, metric, nc)
  const cap = Math.min(k, nc)
  const heaps: (TopKHeap | undefined)[] = new Array(nq)
  for (let q = 0; q < nq; q++) {
    heaps[q] = cap > 0 && !isNullRow(queries, q) ? new TopKHeap(cap) : undefined
  }

  const block = Math.max(16, Math.floor(BLOCK_BYTES / rowBytes(data)))
  const out = new Float64Array(Math.min(block, Math.max(nc, 1)))
  // Similarities are negated into keys so the heap and range test only know "smaller is better".
  const sign = higher ? -1 : 1
  for (let start = 0; start < nc; start += block) {
    const end = Math.min(nc, start + block)
    for (let q = 0; q < nq; q++) {
      const heap = heaps[q]
      if (heap === undefined) continue
      score(q, cand, start, end, out)
      offer(heap, out, cand, start, end, sign, lo, hi)
    }
  }

  const result: Hits[] = new Array(nq)
  for (let q = 0; q < nq; q++) {
    const heap = heaps[q]
    if (heap === undefined) {
      result[q] = { rows: new Int32Array(0), scores: new Float32Array(0) }
      continue
    }
    const { rows, keys } = heap.drain()
    const scores = new Float32Array(keys.length)
    // 0 - key rather than -key: an IP of exactly 0 must not come out as -0.
    for (let i = 0; i < keys.length; i++) scores[i] = higher ? 0 - keys[i]! : keys[i]!
    result[q] = { rows, scores }
  }
  return result
}

/**
 * Feeds one block of scores to a query's heap. A function of its own so the per-row loop gets
 * optimized code of its own, independent of bruteForceSearch's setup.
 */
function offer(
  heap: TopKHeap,
  out: Float64Array,
  cand: Int32Array | null,
  start: number,
  end: number,
  sign: number,
  lo: number,
  hi: number,
): void {
  let worst = heap.worstKey
  let worstRow = heap.worstRow
  for (let i = start; i < end; i++) {
    // Rank on the float32 value that is reported, so ties and bounds agree with the output.
    const key = sign * Math.fround(out[i - start]!)
    if (key > worst) continue
    const row = cand === null ? i : cand[i]!
    if ((key < worst || row < worstRow) && key >= lo && key < hi) {
      heap.replaceTop(key, row)
      worst = heap.worstKey
      worstRow = heap.worstRow
    }
  }
}

/**
 * Distance or similarity between row `ai` of `a` and row `bi` of `b`, rounded to float32; exactly
 * the score bruteForceSearch reports for that pair.
 *
 * @throws DbError ParameterInvalid on type or dim mismatch or an unsupported metric.
 */
export function distance(
  metric: MetricType,
  a: VectorColumn,
  ai: number,
  b: VectorColumn,
  bi: number,
): number {
  checkPair(a, b, metric)
  checkRow(a, ai)
  checkRow(b, bi)
  return Math.fround(pairScore(metric, a, ai, b, bi))
}

/**
 * Validates a query column against a data column and metric, with the messages every index uses.
 *
 * @throws DbError ParameterInvalid on type or dim mismatch or an unsupported metric.
 */
export function checkPair(data: VectorColumn, queries: VectorColumn, metric: MetricType): void {
  if (data.type !== queries.type) {
    throw invalid(`vector type mismatch: field is ${data.type}, query is ${queries.type}`)
  }
  const sparse = data.type === 'SparseFloatVector' || queries.type === 'SparseFloatVector'
  if (!sparse && data.dim !== queries.dim) {
    throw invalid(
      `vector dimension mismatch: field dim is ${data.dim}, query dim is ${queries.dim}`,
    )
  }
  checkMetric(metric, data.type)
}

function checkRow(col: VectorColumn, row: number): void {
  if (!Number.isInteger(row) || row < 0 || row >= columnRows(col)) {
    throw invalid(`row ${row} out of range for a ${col.type} column of ${columnRows(col)} rows`)
  }
}

/**
 * [lo, hi) bounds on the heap key (negated for similarities) that a kept row must satisfy; shared
 * with the ANN indexes so range parameters are validated and applied identically.
 *
 * @throws DbError ParameterInvalid on NaN bounds or radius/range_filter in the wrong order.
 */
export function keyRange(metric: MetricType, sparse: boolean, opts: SearchOptions): [number, number] {
  const higher = higherIsBetter(metric)
  let lo = -Infinity
  let hi = Infinity
  const { radius, rangeFilter } = opts
  if (radius !== undefined) {
    if (Number.isNaN(radius)) throw invalid('radius must be a number')
    if (rangeFilter !== undefined) {
      if (Number.isNaN(rangeFilter)) throw invalid('range_filter must be a number')
      if (higher ? !(rangeFilter > radius) : !(rangeFilter < radius)) {
        throw invalid(
          `range_filter must be ${higher ? 'greater' : 'less'} than radius for ${metric}, ` +
            `got radius ${radius}, range_filter ${rangeFilter}`,
        )
      }
    }
    if (higher) {
      hi = -radius
      if (rangeFilter !== undefined) lo = -rangeFilter
    } else {
      hi = radius
      if (rangeFilter !== undefined) lo = rangeFilter
    }
  }
  // knowhere's sparse brute force keeps only rows sharing a weighted term with the query.
  if (sparse) hi = Math.min(hi, 0)
  return [lo, hi]
}

function isNullRow(col: VectorColumn, row: number): boolean {
  return col.valid !== undefined && col.valid[row] === 0
}

function rowBytes(col: VectorColumn): number {
  switch (col.type) {
    case 'FloatVector':
      return col.dim * 4
    case 'Float16Vector':
    case 'BFloat16Vector':
      return col.dim * 2
    case 'Int8Vector':
      return col.dim
    case 'BinaryVector':
      return col.dim >>> 3
    case 'SparseFloatVector':
      return 64
  }
}

/**
 * Candidate rows in ascending order, or null for "all rows". An allow set is walked word by word
 * over its set bits, so a small allow-list costs its popcount scan plus its own rows, not n.
 */
function candidates(
  n: number,
  allow: Bitset | undefined,
  valid: Uint8Array | undefined,
): Int32Array | null {
  if (allow === undefined) {
    if (valid === undefined) return null
    const out = new Int32Array(n)
    let c = 0
    for (let r = 0; r < n; r++) if (valid[r] !== 0) out[c++] = r
    return out.subarray(0, c)
  }
  const limit = Math.min(n, allow.size)
  const out = new Int32Array(Math.min(limit, allow.count()))
  const words = allow.words
  const lastWord = Math.min(words.length, (limit + 31) >>> 5)
  let c = 0
  for (let wi = 0; wi < lastWord; wi++) {
    let w = words[wi]!
    while (w !== 0) {
      const t = w & -w
      const r = (wi << 5) + 31 - Math.clz32(t)
      w ^= t
      if (r >= limit) break
      if (valid === undefined || valid[r] !== 0) out[c++] = r
    }
  }
  return out.subarray(0, c)
}

/** Per-column cosine norms. Columns never change once built, so the data array is the cache key. */
const NORMS = new WeakMap<object, Float64Array>()

/**
 * Norms of every row, built and cached once the search touches enough rows to amortize them;
 * undefined tells the scorer to compute the few norms it needs inline.
 */
function rowNorms(data: VectorColumn, n: number, touched: number): Float64Array | undefined {
  const cached = NORMS.get(data.data)
  if (cached !== undefined || touched * 8 < n) return cached
  const norms = new Float64Array(n)
  switch (data.type) {
    case 'FloatVector':
      for (let r = 0; r < n; r++) norms[r] = normF32(data.data, r * data.dim, data.dim)
      break
    case 'Float16Vector':
    case 'BFloat16Vector': {
      const table = data.type === 'Float16Vector' ? FP16_TABLE : BF16_TABLE
      for (let r = 0; r < n; r++) norms[r] = normU16(data.data, r * data.dim, data.dim, table)
      break
    }
    case 'Int8Vector':
      for (let r = 0; r < n; r++) norms[r] = normI8(data.data, r * data.dim, data.dim)
      break
    default:
      return undefined
  }
  NORMS.set(data.data, norms)
  return norms
}

/** Each dense query row widened to its own float64 view (one buffer for all of them). */
function denseQueries(queries: VectorColumn): Float64Array[] {
  if (queries.type === 'BinaryVector' || queries.type === 'SparseFloatVector') {
    throw invalid(`${queries.type} is not a dense vector type`)
  }
  const dim = queries.dim
  const nq = columnRows(queries)
  const all = new Float64Array(nq * dim)
  switch (queries.type) {
    case 'FloatVector':
    case 'Int8Vector':
      all.set(queries.data)
      break
    case 'Float16Vector':
      widenInto(queries.data, FP16_TABLE, all)
      break
    case 'BFloat16Vector':
      widenInto(queries.data, BF16_TABLE, all)
      break
  }
  const views: Float64Array[] = new Array(nq)
  for (let i = 0; i < nq; i++) views[i] = all.subarray(i * dim, (i + 1) * dim)
  return views
}

function widenInto(bits: Uint16Array, table: Float32Array, out: Float64Array): void {
  for (let i = 0; i < bits.length; i++) out[i] = table[bits[i]!]!
}

/** One row of a dense column widened to float64, for pairScore. */
function widenRow(col: VectorColumn, row: number): Float64Array {
  if (col.type === 'BinaryVector' || col.type === 'SparseFloatVector') {
    throw invalid(`${col.type} is not a dense vector type`)
  }
  const dim = col.dim
  const out = new Float64Array(dim)
  const o = row * dim
  switch (col.type) {
    case 'FloatVector':
    case 'Int8Vector':
      out.set(col.data.subarray(o, o + dim))
      break
    case 'Float16Vector':
      widenInto(col.data.subarray(o, o + dim), FP16_TABLE, out)
      break
    case 'BFloat16Vector':
      widenInto(col.data.subarray(o, o + dim), BF16_TABLE, out)
      break
  }
  return out
}

function makeScorer(
  data: VectorColumn,
  queries: VectorColumn,
  metric: MetricType,
  touched: number,
): BlockScorer {
  switch (data.type) {
    case 'FloatVector': {
      const x = data.data
      const dim = data.dim
      const qs = denseQueries(queries)
      if (metric === 'L2') {
        return (qi, c, s, e, out) => {
          const q = qs[qi]!
          for (let i = s; i < e; i++) out[i - s] = l2F32(q, x, (c === null ? i : c[i]!) * dim, dim)
        }
      }
      if (metric === 'IP') {
        return (qi, c, s, e, out) => {
          const q = qs[qi]!
          for (let i = s; i < e; i++) out[i - s] = ipF32(q, x, (c === null ? i : c[i]!) * dim, dim)
        }
      }
      const xn = rowNorms(data, columnRows(data), touched)
      return (qi, c, s, e, out) => {
        const q = qs[qi]!
        const qNorm = normF64(q)
        for (let i = s; i < e; i++) {
          const r = c === null ? i : c[i]!
          const xNorm = xn === undefined ? normF32(x, r * dim, dim) : xn[r]!
          out[i - s] = cosineFrom(ipF32(q, x, r * dim, dim), qNorm, xNorm)
        }
      }
    }
    case 'Float16Vector':
    case 'BFloat16Vector': {
      const x = data.data
      const dim = data.dim
      const table = data.type === 'Float16Vector' ? FP16_TABLE : BF16_TABLE
      const qs = denseQueries(queries)
      if (metric === 'L2') {
        return (qi, c, s, e, out) => {
          const q = qs[qi]!
          for (let i = s; i < e; i++) {
            out[i - s] = l2U16(q, x, (c === null ? i : c[i]!) * dim, dim, table)
          }
        }
      }
      if (metric === 'IP') {
        return (qi, c, s, e, out) => {
          const q = qs[qi]!
          for (let i = s; i < e; i++) {
            out[i - s] = ipU16(q, x, (c === null ? i : c[i]!) * dim, dim, table)
          }
        }
      }
      const xn = rowNorms(data, columnRows(data), touched)
      return (qi, c, s, e, out) => {
        const q = qs[qi]!
        const qNorm = normF64(q)
        for (let i = s; i < e; i++) {
          const r = c === null ? i : c[i]!
          const xNorm = xn === undefined ? normU16(x, r * dim, dim, table) : xn[r]!
          out[i - s] = cosineFrom(ipU16(q, x, r * dim, dim, table), qNorm, xNorm)
        }
      }
    }
    case 'Int8Vector': {
      const x = data.data
      const dim = data.dim
      const qs = denseQueries(queries)
      if (metric === 'L2') {
        return (qi, c, s, e, out) => {
          const q = qs[qi]!
          for (let i = s; i < e; i++) out[i - s] = l2I8(q, x, (c === null ? i : c[i]!) * dim, dim)
        }
      }
      if (metric === 'IP') {
        return (qi, c, s, e, out) => {
          const q = qs[qi]!
          for (let i = s; i < e; i++) out[i - s] = ipI8(q, x, (c === null ? i : c[i]!) * dim, dim)
        }
      }
      const xn = rowNorms(data, columnRows(data), touched)
      return (qi, c, s, e, out) => {
        const q = qs[qi]!
        const qNorm = normF64(q)
        for (let i = s; i < e; i++) {
          const r = c === null ? i : c[i]!
          const xNorm = xn === undefined ? normI8(x, r * dim, dim) : xn[r]!
          out[i - s] = cosineFrom(ipI8(q, x, r * dim, dim), qNorm, xNorm)
        }
      }
    }
    case 'BinaryVector':
      return binaryScorer(data.data, (queries as typeof data).data, data.dim >>> 3, metric)
    case 'SparseFloatVector': {
      const x = data.data
      const q = (queries as typeof data).data
      return (qi, c, s, e, out) => {
        const qr = q[qi]!
        for (let i = s; i < e; i++) {
          const xr = x[c === null ? i : c[i]!]!
          out[i - s] = ipSparse(qr.indices, qr.values, xr.indices, xr.values)
        }
      }
    }
  }
}

function binaryScorer(
  x: Uint8Array,
  q: Uint8Array,
  bytes: number,
  metric: MetricType,
): BlockScorer {
  if (bytes % 4 === 0 && x.byteOffset % 4 === 0) {
    // Word-at-a-time popcounts; the query is copied only if its own buffer is misaligned.
    const words = bytes >>> 2
    const xw = new Int32Array(x.buffer, x.byteOffset, x.length >>> 2)
    const qa = q.byteOffset % 4 === 0 ? q : q.slice()
    const qw = new Int32Array(qa.buffer, qa.byteOffset, qa.length >>> 2)
    if (metric === 'HAMMING') {
      return (qi, c, s, e, out) => {
        const qo = qi * words
        for (let i = s; i < e; i++) {
          out[i - s] = hamming32(qw, qo, xw, (c === null ? i : c[i]!) * words, words)
        }
      }
    }
    return (qi, c, s, e, out) => {
      const qo = qi * words
      for (let i = s; i < e; i++) {
          out[i - s] = jaccard32(qw, qo, xw, (c === null ? i : c[i]!) * words, words)
        }
    }
  }
  if (metric === 'HAMMING') {
    return (qi, c, s, e, out) => {
      const qo = qi * bytes
      for (let i = s; i < e; i++) {
          out[i - s] = hamming8(q, qo, x, (c === null ? i : c[i]!) * bytes, bytes)
        }
    }
  }
  return (qi, c, s, e, out) => {
    const qo = qi * bytes
    for (let i = s; i < e; i++) {
          out[i - s] = jaccard8(q, qo, x, (c === null ? i : c[i]!) * bytes, bytes)
        }
  }
}

/** One pair through the search path's kernels and summation order; b plays the query. */
function pairScore(
  metric: MetricType,
  a: VectorColumn,
  ai: number,
  b: VectorColumn,
  bi: number,
): number {
  switch (a.type) {
    case 'FloatVector':
    case 'Float16Vector':
    case 'BFloat16Vector':
    case 'Int8Vector': {
      const dim = a.dim
      const q = widenRow(b, bi)
      const xo = ai * dim
      let ip: number
      let xNorm: number
      if (a.type === 'FloatVector') {
        if (metric === 'L2') return l2F32(q, a.data, xo, dim)
        ip = ipF32(q, a.data, xo, dim)
        xNorm = metric === 'COSINE' ? normF32(a.data, xo, dim) : 0
      } else if (a.type === 'Int8Vector') {
        if (metric === 'L2') return l2I8(q, a.data, xo, dim)
        ip = ipI8(q, a.data, xo, dim)
        xNorm = metric === 'COSINE' ? normI8(a.data, xo, dim) : 0
      } else {
        const table = a.type === 'Float16Vector' ? FP16_TABLE : BF16_TABLE
        if (metric === 'L2') return l2U16(q, a.data, xo, dim, table)
        ip = ipU16(q, a.data, xo, dim, table)
        xNorm = metric === 'COSINE' ? normU16(a.data, xo, dim, table) : 0
      }
      return metric === 'IP' ? ip : cosineFrom(ip, normF64(q), xNorm)
    }
    case 'BinaryVector': {
      const bytes = a.dim >>> 3
      const q = (b as typeof a).data
      return metric === 'HAMMING'
        ? hamming8(q, bi * bytes, a.data, ai * bytes, bytes)
        : jaccard8(q, bi * bytes, a.data, ai * bytes, bytes)
    }
    case 'SparseFloatVector': {
      const x: SparseRow = a.data[ai] ?? EMPTY_SPARSE
      const q: SparseRow = (b as typeof a).data[bi] ?? EMPTY_SPARSE
      return ipSparse(q.indices, q.values, x.indices, x.values)
    }
  }
}

const EMPTY_SPARSE: SparseRow = { indices: new Uint32Array(0), values: new Float32Array(0) }
