/**
 * Seeded synthetic vectors for ANN tests and benchmarks: a Gaussian mixture (clustered, like real
 * embeddings, so recall figures mean something; uniform noise makes every neighbour equally far),
 * and recall against exact hits.
 */
import type { Hits } from './brute-force.js'

/** mulberry32: small, seedable, deterministic across runs. */
export function rng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

export interface MixtureOptions {
  readonly rows: number
  readonly dim: number
  readonly clusters?: number
  readonly seed?: number
  /** Spread of the cluster centres relative to the unit noise around them. */
  readonly spread?: number
}

/**
 * rows x dim float32 points: cluster centres ~ N(0, spread^2), points = centre + N(0, 1). Queries
 * drawn with another seed from the same mixture are not copies of data points. Each cluster has
 * its own mean norm, so IP neighbours differ from L2 ones.
 */
export function gaussianMixture(o: MixtureOptions): Float32Array {
  const r = rng(o.seed ?? 1)
  const clusters = o.clusters ?? 20
  const spread = o.spread ?? 3
  // Centres come from a fixed seed so data and queries (different seeds) share the mixture.
  const cr = rng(0x5eed)
  const gaussC = gaussian(cr)
  const centres = Array.from({ length: clusters }, () => Float64Array.from({ length: o.dim }, () => gaussC() * spread))
  const gauss = gaussian(r)
  const out = new Float32Array(o.rows * o.dim)
  for (let i = 0; i < o.rows; i++) {
    const c = centres[Math.floor(r() * clusters)]!
    for (let j = 0; j < o.dim; j++) out[i * o.dim + j] = c[j]! + gauss()
  }
  return out
}

/** Box-Muller standard normal samples from a uniform source. */
export function gaussian(r: () => number): () => number {
  return () => {
    const u = 1 - r()
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * r())
  }
}

/**
 * Mean recall of `got` against `truth`, per query |got ∩ truth| / |truth| (a query whose truth is
 * empty counts as 1 when got is empty too).
 */
export function recall(got: readonly Hits[], truth: readonly Hits[]): number {
  let sum = 0
  for (let q = 0; q < truth.length; q++) {
    const t = truth[q]!.rows
    const g = new Set(got[q]!.rows)
    if (t.length === 0) {
      sum += g.size === 0 ? 1 : 0
      continue
    }
    let hit = 0
    for (const row of t) if (g.has(row)) hit++
    sum += hit / t.length
  }
  return truth.length === 0 ? 1 : sum / truth.length
}
