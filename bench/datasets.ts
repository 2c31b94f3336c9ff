/**
 * The search benchmark's data sets, generated from fixed seeds so every run sees the same vectors.
 *
 * - `128`: src/index/ann-fixture's isotropic Gaussian mixture (100 clusters), L2 - the set the
 *   bench has always used, so older results stay comparable.
 * - `768`: text-embedding-like vectors, the recipe of the ANN library study's t768 set
 *   (shared/design/ann-libs.md, gen.mjs): 200 clusters, each a random rank-32 subspace with a
 *   1/sqrt(j) spectrum plus isotropic noise and a shared mean direction, L2-normalised and searched
 *   with COSINE. Low intrinsic dimension per cluster is what makes HNSW's recall/ef curve look like
 *   real embeddings'; isotropic noise at 768-d would make every neighbour about equally far.
 */
import { gaussianMixture, rng } from '../src/index/ann-fixture.js'

export type BenchMetric = 'L2' | 'COSINE'

export interface BenchSet {
  readonly name: string
  readonly rows: number
  readonly dim: number
  readonly metric: BenchMetric
  /** Short description for the report's heading. */
  readonly label: string
  readonly base: Float32Array
  readonly queries: Float32Array
}

/** Polar Box-Muller on mulberry32 (the t768 recipe's generator). */
function gaussStream(seed: number): () => number {
  const u = rng(seed)
  let spare: number | null = null
  return () => {
    if (spare !== null) {
      const s = spare
      spare = null
      return s
    }
    let x: number
    let y: number
    let r: number
    do {
      x = 2 * u() - 1
      y = 2 * u() - 1
      r = x * x + y * y
    } while (r === 0 || r >= 1)
    const m = Math.sqrt((-2 * Math.log(r)) / r)
    spare = y * m
    return x * m
  }
}

interface LowRankOptions {
  readonly rows: number
  readonly queries: number
  readonly dim: number
  readonly clusters: number
  readonly rank: number
  readonly centerScale: number
  readonly subScale: number
  readonly noise: number
  readonly shared: number
  readonly seed: number
}

/** x = shared + c_k + A_k z + noise, normalised; queries come from the same mixture. */
function lowRankMixture(o: LowRankOptions): { base: Float32Array; queries: Float32Array } {
  const g = gaussStream(o.seed)
  const u = rng(o.seed ^ 0x9e3779b9)
  const { dim, rank, clusters } = o
  const common = Float32Array.from({ length: dim }, () => o.shared * g())
  const centers = Float32Array.from({ length: clusters * dim }, () => o.centerScale * g())
  const bases = new Float32Array(clusters * rank * dim)
  for (let c = 0; c < clusters; c++) {
    for (let j = 0; j < rank; j++) {
      const s = o.subScale / Math.sqrt(j + 1) / Math.sqrt(dim)
      for (let d = 0; d < dim; d++) bases[(c * rank + j) * dim + d] = s * g()
    }
  }
  // Mildly skewed (Zipf-ish) cluster weights.
  const cdf: number[] = []
  let acc = 0
  const wsum = Array.from({ length: clusters }, (_, i) => 1 / Math.sqrt(i + 1)).reduce((a, b) => a + b, 0)
  for (let i = 0; i < clusters; i++) cdf.push((acc += 1 / Math.sqrt(i + 1) / wsum))
  const pick = () => {
    const x = u()
    let lo = 0
    let hi = clusters - 1
    while (lo < hi) {
      const m = (lo + hi) >> 1
      if (cdf[m]! < x) lo = m + 1
      else hi = m
    }
    return lo
  }
  const z = new Float64Array(rank)
  const v = new Float64Array(dim)
  const sample = (out: Float32Array, off: number) => {
    const c = pick()
    for (let j = 0; j < rank; j++) z[j] = g()
    for (let d = 0; d < dim; d++) v[d] = common[d]! + centers[c * dim + d]! + o.noise * g()
    for (let j = 0; j < rank; j++) {
      const b = (c * rank + j) * dim
      const zj = z[j]!
      for (let d = 0; d < dim; d++) v[d] = v[d]! + bases[b + d]! * zj
    }
    let norm = 0
    for (let d = 0; d < dim; d++) norm += v[d]! * v[d]!
    const inv = 1 / Math.sqrt(norm)
    for (let d = 0; d < dim; d++) out[off + d] = v[d]! * inv
  }
  const base = new Float32Array(o.rows * dim)
  for (let i = 0; i < o.rows; i++) sample(base, i * dim)
  const queries = new Float32Array(o.queries * dim)
  for (let i = 0; i < o.queries; i++) sample(queries, i * dim)
  return { base, queries }
}

export function benchSet(name: string, rows: number, dim: number, queries: number): BenchSet {
  if (name === '768') {
    const d = lowRankMixture({ rows, queries, dim, clusters: 200, rank: 32, centerScale: 1, subScale: 12, noise: 0.35, shared: 1, seed: 768 })
    return { name, rows, dim, metric: 'COSINE', label: 'normalised low-rank Gaussian mixture, COSINE', base: d.base, queries: d.queries }
  }
  return {
    name,
    rows,
    dim,
    metric: 'L2',
    label: 'Gaussian mixture, L2',
    base: gaussianMixture({ rows, dim, seed: 1, clusters: 100 }),
    queries: gaussianMixture({ rows: queries, dim, seed: 2, clusters: 100 }),
  }
}
