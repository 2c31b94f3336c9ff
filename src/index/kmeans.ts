/**
 * Seeded k-means (L2) for IVF coarse quantizers and PQ codebooks: random distinct initial centres
 * (faiss's init, deterministic from the seed), bounded Lloyd iterations accelerated with Hamerly's
 * bounds, and faiss-style empty-cluster repair (split the largest cluster).
 *
 * Hamerly keeps, per point, an upper bound on the distance to its centre and a lower bound on the
 * distance to every other centre; after centres move, the bounds are loosened by the movement and
 * a point is only re-scanned when they cross. Assignments are exactly Lloyd's (same centres, same
 * result), but later iterations touch a small fraction of the points: that is what makes training
 * 256 * nlist points in JavaScript affordable. Ties go to the lower centre index.
 */
import { DbError } from '../common/errors.js'
import { rng } from './ann-fixture.js'

export interface KMeansOptions {
  /** Lloyd iterations at most; training stops earlier once no assignment changes. */
  readonly iterations: number
  readonly seed: number
  /** Polled once per iteration; true aborts with ServiceUnavailable. */
  readonly shouldStop?: () => boolean
}

export interface KMeansResult {
  /** k x d centres, row-major. */
  readonly centroids: Float32Array
  /** Per point, the index of its nearest final centre. */
  readonly assign: Int32Array
}

/** faiss's split perturbation for empty-cluster repair. */
const SPLIT_EPS = 1 / 1024

/** Squared L2 between two float32 rows; four accumulators as the search kernels. */
export function l2sq(a: Float32Array, ao: number, b: Float32Array, bo: number, d: number): number {
  let s0 = 0
  let s1 = 0
  let s2 = 0
  let s3 = 0
  let j = 0
  for (; j + 3 < d; j += 4) {
    const d0 = a[ao + j]! - b[bo + j]!
    const d1 = a[ao + j + 1]! - b[bo + j + 1]!
    const d2 = a[ao + j + 2]! - b[bo + j + 2]!
    const d3 = a[ao + j + 3]! - b[bo + j + 3]!
    s0 += d0 * d0
    s1 += d1 * d1
    s2 += d2 * d2
    s3 += d3 * d3
  }
  for (; j < d; j++) {
    const t = a[ao + j]! - b[bo + j]!
    s0 += t * t
  }
  return s0 + s1 + (s2 + s3)
}

/**
 * Index of the nearest of k centres to point `x[xo..xo+d)` (squared L2, ties to the lower index).
 */
export function nearest(x: Float32Array, xo: number, centroids: Float32Array, k: number, d: number): number {
  let best = 0
  let bestD = Infinity
  for (let c = 0; c < k; c++) {
    const dist = l2sq(x, xo, centroids, c * d, d)
    if (dist < bestD) {
      bestD = dist
      best = c
    }
  }
  return best
}

/**
 * Clusters n points of dimension d (row-major in `points`) into k <= n centres.
 *
 * @throws DbError ServiceUnavailable when `shouldStop` aborts.
 */
export function kmeans(points: Float32Array, n: number, d: number, k: number, opts: KMeansOptions): KMeansResult {
  if (k > n) k = n
  const centroids = new Float32Array(k * d)
  const assign = new Int32Array(n)
  if (k === 0) return { centroids, assign }
  // Initial centres: k distinct points by a partial Fisher-Yates shuffle.
  const r = rng(opts.seed)
  const perm = new Int32Array(n)
  for (let i = 0; i < n; i++) perm[i] = i
  for (let c = 0; c < k; c++) {
    const j = c + Math.floor(r() * (n - c))
    const t = perm[c]!
    perm[c] = perm[j]!
    perm[j] = t
    centroids.set(points.subarray(perm[c]! * d, perm[c]! * d + d), c * d)
  }
  const upper = new Float64Array(n)
  const lower = new Float64Array(n)
  // Full first assignment: nearest and second nearest distances seed the bounds.
  for (let i = 0; i < n; i++) fullScan(points, i, d, centroids, k, assign, upper, lower)

  const sums = new Float64Array(k * d)
  const counts = new Int32Array(k)
  const old = new Float32Array(k * d)
  const move = new Float64Array(k)
  const half = new Float64Array(k)
  for (let iter = 0; iter < opts.iterations; iter++) {
    if (opts.shouldStop?.() === true) throw new DbError('ServiceUnavailable', 'index build aborted')
    old.set(centroids)
    updateCentroids(points, n, d, k, assign, centroids, sums, counts)
    // Movement of each centre loosens the bounds of the points it could affect.
    let maxMove = 0
    let maxAt = -1
    let secondMove = 0
    for (let c = 0; c < k; c++) {
      const m = Math.sqrt(l2sq(old, c * d, centroids, c * d, d))
      move[c] = m
      if (m > maxMove) {
        secondMove = maxMove
        maxMove = m
        maxAt = c
      } else if (m > secondMove) {
        secondMove = m
      }
    }
    if (maxMove === 0) break
    for (let i = 0; i < n; i++) {
      const a = assign[i]!
      upper[i]! += move[a]!
      lower[i]! -= a === maxAt ? secondMove : maxMove
    }
    // half[c]: half the distance from centre c to its nearest other centre. A point whose upper
    // bound is below it cannot be closer to any other centre (triangle inequality).
    for (let c = 0; c < k; c++) half[c] = Infinity
    for (let c = 0; c < k; c++) {
      for (let e = c + 1; e < k; e++) {
        const dist = Math.sqrt(l2sq(centroids, c * d, centroids, e * d, d)) / 2
        if (dist < half[c]!) half[c] = dist
        if (dist < half[e]!) half[e] = dist
      }
    }
    let changed = 0
    for (let i = 0; i < n; i++) {
      const a = assign[i]!
      const bound = Math.max(half[a]!, lower[i]!)
      if (upper[i]! <= bound) continue
      upper[i] = Math.sqrt(l2sq(points, i * d, centroids, a * d, d))
      if (upper[i]! <= bound) continue
      fullScan(points, i, d, centroids, k, assign, upper, lower)
      if (assign[i] !== a) changed++
    }
    if (changed === 0) break
  }
  // Points are assigned to their nearest final centre: either the loop ended right after an
  // assignment pass, or centres stopped moving (maxMove 0) and the previous pass still holds.
  // When the iteration budget ran out after an update, the pass above already reassigned.
  return { centroids, assign }
}

function fullScan(
  points: Float32Array,
  i: number,
  d: number,
  centroids: Float32Array,
  k: number,
  assign: Int32Array,
  upper: Float64Array,
  lower: Float64Array,
): void {
  let best = 0
  let bestD = Infinity
  let second = Infinity
  const xo = i * d
  for (let c = 0; c < k; c++) {
    const dist = l2sq(points, xo, centroids, c * d, d)
    if (dist < bestD) {
      second = bestD
      bestD = dist
      best = c
    } else if (dist < second) {
      second = dist
    }
  }
  assign[i] = best
  upper[i] = Math.sqrt(bestD)
  lower[i] = Math.sqrt(second)
}

/** Centres as the means of their points; an empty centre takes half of the largest cluster. */
function updateCentroids(
  points: Float32Array,
  n: number,
  d: number,
  k: number,
  assign: Int32Array,
  centroids: Float32Array,
  sums: Float64Array,
  counts: Int32Array,
): void {
  sums.fill(0)
  counts.fill(0)
  for (let i = 0; i < n; i++) {
    const a = assign[i]!
    counts[a]!++
    const so = a * d
    const xo = i * d
    for (let j = 0; j < d; j++) sums[so + j]! += points[xo + j]!
  }
  for (let c = 0; c < k; c++) {
    const cnt = counts[c]!
    if (cnt === 0) continue
    for (let j = 0; j < d; j++) centroids[c * d + j] = sums[c * d + j]! / cnt
  }
  for (let c = 0; c < k; c++) {
    if (counts[c] !== 0) continue
    // Split the largest cluster in two slightly perturbed copies (faiss's repair). The additive
    // term separates centres whose coordinates are all zero, where scaling alone would not.
    let big = 0
    for (let e = 1; e < k; e++) if (counts[e]! > counts[big]!) big = e
    if (counts[big]! < 2) break
    for (let j = 0; j < d; j++) {
      const v = centroids[big * d + j]!
      const delta = SPLIT_EPS * (Math.abs(v) + 1e-3)
      const sgn = j % 2 === 0 ? 1 : -1
      centroids[c * d + j] = v + sgn * delta
      centroids[big * d + j] = v - sgn * delta
    }
    counts[c] = counts[big]! >> 1
    counts[big]! -= counts[c]!
  }
}
