/**
 * Row access shared by the approximate indexes (HNSW, IVF): which rows are indexed, rows widened
 * to float32 / float64, exact per-row scorers on the brute-force kernels (so an index's reported
 * scores equal bruteForceSearch's and `distance()`'s bit for bit), allow-set counting, and the raw
 * column's file form.
 */
import type { Bitset } from '../common/bitset.js'
import { type DbError, invalid } from '../common/errors.js'
import type { VectorColumn } from '../schema/columns.js'
import { columnRows } from '../schema/columns.js'
import type { Hits } from './brute-force.js'
import { BF16_TABLE, FP16_TABLE } from './half-float.js'
import {
  cosineFrom,
  hamming32,
  hamming8,
  ipF32,
  ipI8,
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
import type { MetricType } from './metric.js'

export type DenseOrBinary = Exclude<VectorColumn, { type: 'SparseFloatVector' }>
export type DenseColumn = Exclude<DenseOrBinary, { type: 'BinaryVector' }>

/** Scores one data row against a fixed query, exactly as bruteForceSearch would. */
export type RowScorer = (row: number) => number

export const EMPTY_HITS: Hits = { rows: new Int32Array(0), scores: new Float32Array(0) }

/** Row offsets of non-null rows, or null when every row is present. */
export function nonNullRows(valid: Uint8Array | undefined, rows: number): Int32Array | null {
  if (valid === undefined) return null
  const out = new Int32Array(rows)
  let c = 0
  for (let r = 0; r < rows; r++) if (valid[r] !== 0) out[c++] = r
  return c === rows ? null : out.subarray(0, c)
}

/** One row as float32 values: widened halves/ints, unpacked bits (MSB first, 0/1). */
export function rowToF32(col: DenseOrBinary, row: number, out: Float32Array, o: number): void {
  const dim = col.dim
  switch (col.type) {
    case 'FloatVector':
      out.set(col.data.subarray(row * dim, (row + 1) * dim), o)
      return
    case 'Float16Vector':
    case 'BFloat16Vector': {
      const t = col.type === 'Float16Vector' ? FP16_TABLE : BF16_TABLE
      const x = col.data
      const xo = row * dim
      for (let j = 0; j < dim; j++) out[o + j] = t[x[xo + j]!]!
      return
    }
    case 'Int8Vector': {
      const x = col.data
      const xo = row * dim
      for (let j = 0; j < dim; j++) out[o + j] = x[xo + j]!
      return
    }
    case 'BinaryVector': {
      // Bit order within a byte is irrelevant to HAMMING and JACCARD as long as rows and queries
      // agree; MSB first matches usearch's own b1 layout.
      const bytes = dim >>> 3
      const x = col.data
      const xo = row * bytes
      for (let b = 0; b < bytes; b++) {
        const v = x[xo + b]!
        for (let j = 0; j < 8; j++) out[o + b * 8 + j] = (v >>> (7 - j)) & 1
      }
      return
    }
  }
}

/** Query row qi widened to float64 (exact for every dense element type). */
export function widen(q: DenseOrBinary, qi: number): Float64Array {
  const dim = q.dim
  const out = new Float64Array(dim)
  const o = qi * dim
  switch (q.type) {
    case 'FloatVector':
    case 'Int8Vector':
      out.set(q.data.subarray(o, o + dim))
      break
    case 'Float16Vector':
    case 'BFloat16Vector': {
      const t = q.type === 'Float16Vector' ? FP16_TABLE : BF16_TABLE
      for (let j = 0; j < dim; j++) out[j] = t[q.data[o + j]!]!
      break
    }
    case 'BinaryVector':
      throw invalid('BinaryVector is not a dense vector type')
  }
  return out
}

export function popcount(x: number): number {
  x -= (x >>> 1) & 0x55555555
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333)
  return Math.imul((x + (x >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24
}

/** Allowed non-null rows among the first `rows` (every non-null row when allow is undefined). */
export function countAllowed(allow: Bitset | undefined, rows: number, valid: Uint8Array | undefined, indexed: number): number {
  if (allow === undefined) return indexed
  const limit = Math.min(rows, allow.size)
  const words = allow.words
  const full = limit >>> 5
  let c = 0
  if (valid === undefined) {
    for (let i = 0; i < full; i++) c += popcount(words[i]!)
    const rem = limit & 31
    if (rem !== 0) c += popcount(words[full]! & ((1 << rem) - 1))
    return c
  }
  const last = Math.min(words.length, (limit + 31) >>> 5)
  for (let wi = 0; wi < last; wi++) {
    let w = words[wi]!
    while (w !== 0) {
      const t = w & -w
      const r = (wi << 5) + 31 - Math.clz32(t)
      w ^= t
      if (r < limit && valid[r] !== 0) c++
    }
  }
  return c
}

/**
 * Euclidean norm of every row through the same kernels bruteForceSearch uses for COSINE, so a
 * scorer handed these norms computes identical cosines without recomputing a norm per row.
 */
export function rowNorms(data: DenseColumn): Float64Array {
  const n = columnRows(data)
  const dim = data.dim
  const norms = new Float64Array(n)
  switch (data.type) {
    case 'FloatVector':
      for (let r = 0; r < n; r++) norms[r] = normF32(data.data, r * dim, dim)
      break
    case 'Float16Vector':
    case 'BFloat16Vector': {
      const t = data.type === 'Float16Vector' ? FP16_TABLE : BF16_TABLE
      for (let r = 0; r < n; r++) norms[r] = normU16(data.data, r * dim, dim, t)
      break
    }
    case 'Int8Vector':
      for (let r = 0; r < n; r++) norms[r] = normI8(data.data, r * dim, dim)
      break
  }
  return norms
}

/**
 * An exact scorer for query row qi against `data`, on the same kernels and summation order as
 * brute force. `norms` (from rowNorms) spares COSINE a norm per scored row.
 */
export function exactScorer(
  data: DenseOrBinary,
  metric: MetricType,
  q: DenseOrBinary,
  qi: number,
  norms?: Float64Array,
): RowScorer {
  if (data.type === 'BinaryVector') {
    const bytes = data.dim >>> 3
    const x = data.data
    const qd = q.data as Uint8Array
    if (bytes % 4 === 0 && x.byteOffset % 4 === 0 && qd.byteOffset % 4 === 0) {
      // Word-wise popcounts, as brute force does on aligned rows (same integer results either way).
      const words = bytes >>> 2
      const xw = new Int32Array(x.buffer, x.byteOffset, x.length >>> 2)
      const qw = new Int32Array(qd.buffer, qd.byteOffset, qd.length >>> 2)
      const qo = qi * words
      return metric === 'HAMMING'
        ? (r) => hamming32(qw, qo, xw, r * words, words)
        : (r) => jaccard32(qw, qo, xw, r * words, words)
    }
    const qo = qi * bytes
    return metric === 'HAMMING'
      ? (r) => hamming8(qd, qo, x, r * bytes, bytes)
      : (r) => jaccard8(qd, qo, x, r * bytes, bytes)
  }
  const dim = data.dim
  const qv = widen(q, qi)
  const qNorm = metric === 'COSINE' ? normF64(qv) : 0
  switch (data.type) {
    case 'FloatVector': {
      const x = data.data
      if (metric === 'L2') return (r) => l2F32(qv, x, r * dim, dim)
      if (metric === 'IP') return (r) => ipF32(qv, x, r * dim, dim)
      if (norms !== undefined) return (r) => cosineFrom(ipF32(qv, x, r * dim, dim), qNorm, norms[r]!)
      return (r) => cosineFrom(ipF32(qv, x, r * dim, dim), qNorm, normF32(x, r * dim, dim))
    }
    case 'Float16Vector':
    case 'BFloat16Vector': {
      const x = data.data
      const t = data.type === 'Float16Vector' ? FP16_TABLE : BF16_TABLE
      if (metric === 'L2') return (r) => l2U16(qv, x, r * dim, dim, t)
      if (metric === 'IP') return (r) => ipU16(qv, x, r * dim, dim, t)
      if (norms !== undefined) return (r) => cosineFrom(ipU16(qv, x, r * dim, dim, t), qNorm, norms[r]!)
      return (r) => cosineFrom(ipU16(qv, x, r * dim, dim, t), qNorm, normU16(x, r * dim, dim, t))
    }
    case 'Int8Vector': {
      const x = data.data
      if (metric === 'L2') return (r) => l2I8(qv, x, r * dim, dim)
      if (metric === 'IP') return (r) => ipI8(qv, x, r * dim, dim)
      if (norms !== undefined) return (r) => cosineFrom(ipI8(qv, x, r * dim, dim), qNorm, norms[r]!)
      return (r) => cosineFrom(ipI8(qv, x, r * dim, dim), qNorm, normI8(x, r * dim, dim))
    }
  }
}

/** Query row qi of a column as a one-row column (a view, no copy). */
export function oneRow(q: DenseOrBinary, qi: number): DenseOrBinary {
  const w = q.type === 'BinaryVector' ? q.dim >>> 3 : q.dim
  return { type: q.type, dim: q.dim, data: q.data.subarray(qi * w, (qi + 1) * w) } as DenseOrBinary
}

/** A view of the array's bytes; every platform Node runs on here is little-endian. */
export function bytesOf(a: ArrayBufferView): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength)
}

/**
 * Rebuilds a dense or binary column from its raw little-endian bytes (as FLAT and HNSW store it)
 * and an optional validity file. Copies, so inputs may be unaligned slices of a larger download.
 *
 * @throws the error `corrupted` makes, on sizes that do not match the header.
 */
export function decodeDenseColumn(
  bytes: Uint8Array | undefined,
  validBytes: Uint8Array | undefined,
  vectorType: DenseOrBinary['type'],
  dim: number,
  rows: number,
  corrupted: (detail: string) => DbError,
): DenseOrBinary {
  if (bytes === undefined) throw corrupted('missing raw data')
  if (validBytes !== undefined && validBytes.length !== rows) throw corrupted('valid length mismatch')
  const v = validBytes === undefined ? {} : { valid: validBytes.slice() }
  const copy = (): ArrayBuffer => bytes.slice().buffer
  const expect = (n: number): void => {
    if (bytes.length !== n) throw corrupted(`raw data: expected ${n} bytes, got ${bytes.length}`)
  }
  switch (vectorType) {
    case 'FloatVector':
      expect(rows * dim * 4)
      return { type: 'FloatVector', dim, data: new Float32Array(copy()), ...v }
    case 'Float16Vector':
    case 'BFloat16Vector':
      expect(rows * dim * 2)
      return { type: vectorType, dim, data: new Uint16Array(copy()), ...v }
    case 'Int8Vector':
      expect(rows * dim)
      return { type: 'Int8Vector', dim, data: new Int8Array(copy()), ...v }
    case 'BinaryVector':
      if (dim % 8 !== 0) throw corrupted('binary dim is not a multiple of 8')
      expect((rows * dim) / 8)
      return { type: 'BinaryVector', dim, data: bytes.slice(), ...v }
  }
}

export function isCount(x: unknown): x is number {
  return typeof x === 'number' && Number.isSafeInteger(x) && x >= 0
}

export function isMetric(x: unknown): x is MetricType {
  return x === 'L2' || x === 'IP' || x === 'COSINE' || x === 'HAMMING' || x === 'JACCARD'
}
