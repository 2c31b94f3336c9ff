/**
 * Per-row distance kernels over flat typed arrays, addressed by element offset so callers never
 * slice. Search loops and `distance()` call the same functions, so a pair scores bit-identically
 * either way. Sums run in float64 over four accumulators (independent chains the CPU can overlap)
 * and are combined in a fixed order.
 *
 * The query side of the dense kernels is one query widened to a Float64Array view (exact for every
 * element type): it saves a float32 load-and-convert per element and keeps index math to `j`.
 */

export function l2F32(q: Float64Array, x: Float32Array, xo: number, dim: number): number {
  let s0 = 0
  let s1 = 0
  let s2 = 0
  let s3 = 0
  let j = 0
  for (; j + 3 < dim; j += 4) {
    const d0 = q[j]! - x[xo + j]!
    const d1 = q[j + 1]! - x[xo + j + 1]!
    const d2 = q[j + 2]! - x[xo + j + 2]!
    const d3 = q[j + 3]! - x[xo + j + 3]!
    s0 += d0 * d0
    s1 += d1 * d1
    s2 += d2 * d2
    s3 += d3 * d3
  }
  for (; j < dim; j++) {
    const d = q[j]! - x[xo + j]!
    s0 += d * d
  }
  return s0 + s1 + (s2 + s3)
}

export function ipF32(q: Float64Array, x: Float32Array, xo: number, dim: number): number {
  let s0 = 0
  let s1 = 0
  let s2 = 0
  let s3 = 0
  let j = 0
  for (; j + 3 < dim; j += 4) {
    s0 += q[j]! * x[xo + j]!
    s1 += q[j + 1]! * x[xo + j + 1]!
    s2 += q[j + 2]! * x[xo + j + 2]!
    s3 += q[j + 3]! * x[xo + j + 3]!
  }
  for (; j < dim; j++) s0 += q[j]! * x[xo + j]!
  return s0 + s1 + (s2 + s3)
}

/** x holds fp16 or bf16 bit patterns, widened through `table`. */
export function l2U16(
  q: Float64Array,
  x: Uint16Array,
  xo: number,
  dim: number,
  table: Float32Array,
): number {
  let s0 = 0
  let s1 = 0
  let s2 = 0
  let s3 = 0
  let j = 0
  for (; j + 3 < dim; j += 4) {
    const d0 = q[j]! - table[x[xo + j]!]!
    const d1 = q[j + 1]! - table[x[xo + j + 1]!]!
    const d2 = q[j + 2]! - table[x[xo + j + 2]!]!
    const d3 = q[j + 3]! - table[x[xo + j + 3]!]!
    s0 += d0 * d0
    s1 += d1 * d1
    s2 += d2 * d2
    s3 += d3 * d3
  }
  for (; j < dim; j++) {
    const d = q[j]! - table[x[xo + j]!]!
    s0 += d * d
  }
  return s0 + s1 + (s2 + s3)
}

export function ipU16(
  q: Float64Array,
  x: Uint16Array,
  xo: number,
  dim: number,
  table: Float32Array,
): number {
  let s0 = 0
  let s1 = 0
  let s2 = 0
  let s3 = 0
  let j = 0
  for (; j + 3 < dim; j += 4) {
    s0 += q[j]! * table[x[xo + j]!]!
    s1 += q[j + 1]! * table[x[xo + j + 1]!]!
    s2 += q[j + 2]! * table[x[xo + j + 2]!]!
    s3 += q[j + 3]! * table[x[xo + j + 3]!]!
  }
  for (; j < dim; j++) s0 += q[j]! * table[x[xo + j]!]!
  return s0 + s1 + (s2 + s3)
}

export function l2I8(q: Float64Array, x: Int8Array, xo: number, dim: number): number {
  let s0 = 0
  let s1 = 0
  let s2 = 0
  let s3 = 0
  let j = 0
  for (; j + 3 < dim; j += 4) {
    const d0 = q[j]! - x[xo + j]!
    const d1 = q[j + 1]! - x[xo + j + 1]!
    const d2 = q[j + 2]! - x[xo + j + 2]!
    const d3 = q[j + 3]! - x[xo + j + 3]!
    s0 += d0 * d0
    s1 += d1 * d1
    s2 += d2 * d2
    s3 += d3 * d3
  }
  for (; j < dim; j++) {
    const d = q[j]! - x[xo + j]!
    s0 += d * d
  }
  return s0 + s1 + (s2 + s3)
}

export function ipI8(q: Float64Array, x: Int8Array, xo: number, dim: number): number {
  let s0 = 0
  let s1 = 0
  let s2 = 0
  let s3 = 0
  let j = 0
  for (; j + 3 < dim; j += 4) {
    s0 += q[j]! * x[xo + j]!
    s1 += q[j + 1]! * x[xo + j + 1]!
    s2 += q[j + 2]! * x[xo + j + 2]!
    s3 += q[j + 3]! * x[xo + j + 3]!
  }
  for (; j < dim; j++) s0 += q[j]! * x[xo + j]!
  return s0 + s1 + (s2 + s3)
}

/** Cosine from a dot product and both euclidean norms; 0 when either vector is all zeros. */
export function cosineFrom(ip: number, qNorm: number, xNorm: number): number {
  const d = qNorm * xNorm
  return d === 0 ? 0 : ip / d
}

/** Popcount of every byte value, for binary rows that are not 4-byte aligned. */
export const POPCOUNT8: Uint8Array = (() => {
  const t = new Uint8Array(256)
  for (let i = 1; i < 256; i++) t[i] = (i & 1) + t[i >>> 1]!
  return t
})()

function popcount32(v: number): number {
  v -= (v >>> 1) & 0x55555555
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333)
  return Math.imul((v + (v >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24
}

/** Word-wise Hamming distance; offsets and length in 32-bit words. */
export function hamming32(q: Int32Array, qo: number, x: Int32Array, xo: number, words: number): number {
  let c = 0
  for (let j = 0; j < words; j++) c += popcount32(q[qo + j]! ^ x[xo + j]!)
  return c
}

/** Byte-wise Hamming distance; offsets and length in bytes. */
export function hamming8(q: Uint8Array, qo: number, x: Uint8Array, xo: number, bytes: number): number {
  let c = 0
  for (let j = 0; j < bytes; j++) c += POPCOUNT8[q[qo + j]! ^ x[xo + j]!]!
  return c
}

/**
 * Jaccard distance 1 - |a & b| / |a | b|. Two all-zero vectors are at distance 1, as in
 * knowhere's bvec_jaccard (not 0 or NaN).
 */
export function jaccard32(q: Int32Array, qo: number, x: Int32Array, xo: number, words: number): number {
  let inter = 0
  let union = 0
  for (let j = 0; j < words; j++) {
    const a = q[qo + j]!
    const b = x[xo + j]!
    inter += popcount32(a & b)
    union += popcount32(a | b)
  }
  return union === 0 ? 1 : (union - inter) / union
}

export function jaccard8(q: Uint8Array, qo: number, x: Uint8Array, xo: number, bytes: number): number {
  let inter = 0
  let union = 0
  for (let j = 0; j < bytes; j++) {
    const a = q[qo + j]!
    const b = x[xo + j]!
    inter += POPCOUNT8[a & b]!
    union += POPCOUNT8[a | b]!
  }
  return union === 0 ? 1 : (union - inter) / union
}

/** Sparse dot product by merging the two ascending index lists. */
export function ipSparse(
  qi: Uint32Array,
  qv: Float32Array,
  xi: Uint32Array,
  xv: Float32Array,
): number {
  const qn = qi.length
  const xn = xi.length
  let s = 0
  let a = 0
  let b = 0
  while (a < qn && b < xn) {
    const ia = qi[a]!
    const ib = xi[b]!
    if (ia === ib) {
      s += qv[a]! * xv[b]!
      a++
      b++
    } else if (ia < ib) {
      a++
    } else {
      b++
    }
  }
  return s
}

/** Norm of a widened query; same summation order as the column norms, so cosine is symmetric. */
export function normF64(q: Float64Array): number {
  const dim = q.length
  let s0 = 0
  let s1 = 0
  let s2 = 0
  let s3 = 0
  let j = 0
  for (; j + 3 < dim; j += 4) {
    s0 += q[j]! * q[j]!
    s1 += q[j + 1]! * q[j + 1]!
    s2 += q[j + 2]! * q[j + 2]!
    s3 += q[j + 3]! * q[j + 3]!
  }
  for (; j < dim; j++) s0 += q[j]! * q[j]!
  return Math.sqrt(s0 + s1 + (s2 + s3))
}

export function normF32(x: Float32Array, xo: number, dim: number): number {
  let s0 = 0
  let s1 = 0
  let s2 = 0
  let s3 = 0
  let j = 0
  for (; j + 3 < dim; j += 4) {
    const v0 = x[xo + j]!
    const v1 = x[xo + j + 1]!
    const v2 = x[xo + j + 2]!
    const v3 = x[xo + j + 3]!
    s0 += v0 * v0
    s1 += v1 * v1
    s2 += v2 * v2
    s3 += v3 * v3
  }
  for (; j < dim; j++) {
    const v = x[xo + j]!
    s0 += v * v
  }
  return Math.sqrt(s0 + s1 + (s2 + s3))
}

export function normU16(x: Uint16Array, xo: number, dim: number, table: Float32Array): number {
  let s0 = 0
  let s1 = 0
  let s2 = 0
  let s3 = 0
  let j = 0
  for (; j + 3 < dim; j += 4) {
    const v0 = table[x[xo + j]!]!
    const v1 = table[x[xo + j + 1]!]!
    const v2 = table[x[xo + j + 2]!]!
    const v3 = table[x[xo + j + 3]!]!
    s0 += v0 * v0
    s1 += v1 * v1
    s2 += v2 * v2
    s3 += v3 * v3
  }
  for (; j < dim; j++) {
    const v = table[x[xo + j]!]!
    s0 += v * v
  }
  return Math.sqrt(s0 + s1 + (s2 + s3))
}

export function normI8(x: Int8Array, xo: number, dim: number): number {
  let s = 0
  // Integer squares sum exactly in float64 (dim * 128^2 << 2^53), so order does not matter here.
  for (let j = 0; j < dim; j++) s += x[xo + j]! * x[xo + j]!
  return Math.sqrt(s)
}
