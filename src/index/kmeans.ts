/**
 * Seeded k-means (L2) for IVF coarse quantizers and PQ codebooks: random distinct initial centres
 * (faiss's init, deterministic from the seed), bounded Lloyd iterations accelerated with Hamerly's
 * bounds, and faiss-style empty-cluster repair (split the largest cluster).
 *
 * Hamerly keeps, per point, an upper bound on the distance to its centre and a lower bound on the
 * distance to every other centre; after centres move, the bounds are loosened by the movement and
 * a point is only re-scanned when they cross. A re-scan (and the first assignment) is itself
 * pruned by the triangle inequality (CentroidSearch) when 16 <= d and k <= 1024, else a blocked
 * full scan. Assignments are Lloyd's (same centres, same result up to exact distance ties), but
 * most distances are never computed: on clustered 128-d data ~10 per point per pass instead of
 * k. That is what makes training 256 * nlist points in JavaScript (~0.5-1 GFLOP/s) affordable.
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
 * Exact nearest-centre search that skips centres by the triangle inequality. For a starting
 * centre g at distance dg from x, any centre c with |g - c| >= dg + best cannot beat the best
 * found so far, so g's other centres are scanned in ascending |g - c| and the scan stops at the
 * first that far. On clustered data only the centres around x's own cluster are scored; on data
 * without structure it degrades to a full scan plus the bookkeeping.
 *
 * A starting centre is a point's current centre during training, else a guess: centres are
 * grouped by a small k-means of their own (sqrt(k) groups), and the guess is the nearest member
 * of the nearest group (2 sqrt(k) distances). A guess in the wrong cluster costs only speed.
 */
export class CentroidSearch {
  readonly k: number
  readonly d: number
  readonly centroids: Float32Array
  /** Per centre, the other centres by ascending distance (k - 1 each), and those distances. */
  readonly #nbr: Int32Array
  readonly #nbrDist: Float64Array
  #groups: CentreGroups | null = null

  constructor(centroids: Float32Array, k: number, d: number) {
    if (k > PRUNED_MAX_K) throw new DbError('ServiceInternal', `CentroidSearch supports at most ${PRUNED_MAX_K} centres`)
    this.k = k
    this.d = d
    this.centroids = centroids
    const w = Math.max(0, k - 1)
    const pair = new Float64Array(k * k)
    for (let a = 0; a < k; a++) {
      for (let b = a + 1; b < k; b++) {
        const dist = Math.sqrt(l2sq(centroids, a * d, centroids, b * d, d))
        pair[a * k + b] = dist
        pair[b * k + a] = dist
      }
    }
    this.#nbr = new Int32Array(k * w)
    this.#nbrDist = new Float64Array(k * w)
    // Sorting by a comparator costs ~100x a native typed-array sort, and this runs k times per
    // Lloyd iteration. The neighbour's index rides in the low 11 mantissa bits of its distance
    // (non-negative doubles order like their bit patterns), which perturbs the order by at most
    // 2^-41 relative: nearestFrom's stopping test carries a 1e-9 margin, so it stays exact.
    const keys = new Float64Array(w)
    const bits = new Uint32Array(keys.buffer)
    for (let a = 0; a < k; a++) {
      let c = 0
      for (let b = 0; b < k; b++) {
        if (b === a) continue
        keys[c] = pair[a * k + b]!
        bits[2 * c] = (bits[2 * c]! & ~INDEX_MASK) | b
        c++
      }
      keys.sort()
      for (let i = 0; i < w; i++) {
        const b = bits[2 * i]! & INDEX_MASK
        this.#nbr[a * w + i] = b
        this.#nbrDist[a * w + i] = pair[a * k + b]!
      }
    }
  }

  /** Half the distance from centre c to its nearest other centre (Hamerly's s(c)). */
  halfGap(c: number): number {
    return this.k < 2 ? Infinity : this.#nbrDist[c * (this.k - 1)]! / 2
  }

  /** A starting centre for x: the nearest member of the nearest group (see the class comment). */
  guess(x: Float32Array, xo: number): number {
    const { centroids, d } = this
    const g = this.#groups ?? this.#buildGroups()
    const ng = g.offsets.length - 1
    let group = 0
    let best = Infinity
    for (let i = 0; i < ng; i++) {
      const dist = l2sq(x, xo, g.centres, i * d, d)
      if (dist < best) {
        best = dist
        group = i
      }
    }
    let c = 0
    best = Infinity
    for (let i = g.offsets[group]!; i < g.offsets[group + 1]!; i++) {
      const m = g.members[i]!
      const dist = l2sq(x, xo, centroids, m * d, d)
      if (dist < best) {
        best = dist
        c = m
      }
    }
    return c
  }

  #buildGroups(): CentreGroups {
    const { k, d } = this
    const ng = Math.max(1, Math.ceil(Math.sqrt(k)))
    // Few centres: every centre is its own group, and the guess is the exact nearest.
    const km = k <= GROUPS_FROM_K ? null : kmeans(this.centroids, k, d, ng, { iterations: 5, seed: 1 })
    const centres = km === null ? this.centroids : km.centroids
    const n = km === null ? k : km.centroids.length / d
    const offsets = new Int32Array(n + 1)
    const members = new Int32Array(k)
    if (km === null) {
      for (let c = 0; c < k; c++) {
        offsets[c + 1] = c + 1
        members[c] = c
      }
    } else {
      for (let c = 0; c < k; c++) offsets[km.assign[c]! + 1]!++
      for (let i = 0; i < n; i++) offsets[i + 1]! += offsets[i]!
      const at = offsets.slice(0, n)
      for (let c = 0; c < k; c++) members[at[km.assign[c]!]!++] = c
    }
    this.#groups = { centres, offsets, members }
    return this.#groups
  }

  /**
   * Nearest centre to x starting from centre g; writes [best, distance, lower bound on the
   * distance to every other centre] (Euclidean, not squared) into out.
   */
  nearestFrom(x: Float32Array, xo: number, g: number, out: Float64Array): void {
    const { centroids, d } = this
    const w = this.k - 1
    const dg = Math.sqrt(l2sq(x, xo, centroids, g * d, d))
    let best = g
    let bestD = dg
    let second = Infinity
    let rest = Infinity
    const base = g * w
    for (let i = 0; i < w; i++) {
      const gap = this.#nbrDist[base + i]!
      // A relative margin keeps the test conservative under rounding (and the packed sort).
      if (gap * (1 - 1e-9) >= dg + bestD) {
        rest = gap - dg
        break
      }
      const c = this.#nbr[base + i]!
      const dist = Math.sqrt(l2sq(x, xo, centroids, c * d, d))
      if (dist < bestD || (dist === bestD && c < best)) {
        second = bestD
        bestD = dist
        best = c
      } else if (dist < second) {
        second = dist
      }
    }
    out[0] = best
    out[1] = bestD
    out[2] = Math.min(second, rest)
  }
}

/** Centres grouped for guessing: group i's members are members[offsets[i]..offsets[i+1]). */
interface CentreGroups {
  readonly centres: Float32Array
  readonly offsets: Int32Array
  readonly members: Int32Array
}

/** Low mantissa bits that carry a neighbour's index while sorting (k <= PRUNED_MAX_K <= 2048). */
const INDEX_MASK = 0x7ff
/** Up to this many centres the guess scans them all (groups would not pay off). */
const GROUPS_FROM_K = 64
/** Above this many centres the k x k neighbour lists cost more than they save: plain scans. */
export const PRUNED_MAX_K = 1024
/**
 * Below this dimension a distance costs about as much as the pruning's bookkeeping (a square root
 * and a neighbour-list step), so the blocked full scan wins (PQ subspaces are typically 4-16).
 */
const PRUNED_MIN_DIM = 16

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
  const pruned = k >= 2 && k <= PRUNED_MAX_K && d >= PRUNED_MIN_DIM
  const res = new Float64Array(3)
  let search = pruned ? new CentroidSearch(centroids, k, d) : null
  let cnorms = centreNorms(centroids, k, d)
  const scan = (i: number, from: number): void => {
    if (search === null) {
      fullScan(points, i, d, centroids, cnorms, k, assign, upper, lower, res)
      return
    }
    search.nearestFrom(points, i * d, from < 0 ? search.guess(points, i * d) : from, res)
    assign[i] = res[0]!
    upper[i] = res[1]!
    lower[i] = res[2]!
  }
  // First assignment: nearest and second nearest distances seed the bounds.
  for (let i = 0; i < n; i++) scan(i, -1)

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
    cnorms = centreNorms(centroids, k, d)
    for (let i = 0; i < n; i++) {
      const a = assign[i]!
      upper[i]! += move[a]!
      lower[i]! -= a === maxAt ? secondMove : maxMove
    }
    // half[c]: half the distance from centre c to its nearest other centre. A point whose upper
    // bound is below it cannot be closer to any other centre (triangle inequality).
    if (pruned) {
      search = new CentroidSearch(centroids, k, d)
      for (let c = 0; c < k; c++) half[c] = search.halfGap(c)
    } else {
      for (let c = 0; c < k; c++) half[c] = Infinity
      for (let c = 0; c < k; c++) {
        for (let e = c + 1; e < k; e++) {
          const dist = Math.sqrt(l2sq(centroids, c * d, centroids, e * d, d)) / 2
          if (dist < half[c]!) half[c] = dist
          if (dist < half[e]!) half[e] = dist
        }
      }
    }
    let changed = 0
    for (let i = 0; i < n; i++) {
      const a = assign[i]!
      const bound = Math.max(half[a]!, lower[i]!)
      if (upper[i]! <= bound) continue
      upper[i] = Math.sqrt(l2sq(points, i * d, centroids, a * d, d))
      if (upper[i]! <= bound) continue
      scan(i, a)
      if (assign[i] !== a) changed++
    }
    if (changed === 0) break
  }
  // Points are assigned to their nearest final centre: either the loop ended right after an
  // assignment pass, or centres stopped moving (maxMove 0) and the previous pass still holds.
  return { centroids, assign }
}

/**
 * Nearest-centre assignment of further points against fixed centres (the rows outside the
 * training sample), with the same pruning as training when k allows it.
 */
export class Assigner {
  readonly #search: CentroidSearch | null
  readonly #centroids: Float32Array
  readonly #k: number
  readonly #d: number
  readonly #norms: Float64Array
  readonly #res = new Float64Array(3)

  constructor(centroids: Float32Array, k: number, d: number) {
    this.#centroids = centroids
    this.#k = k
    this.#d = d
    this.#search = k >= 2 && k <= PRUNED_MAX_K && d >= PRUNED_MIN_DIM ? new CentroidSearch(centroids, k, d) : null
    this.#norms = centreNorms(centroids, k, d)
  }

  nearest(x: Float32Array, xo: number): number {
    const s = this.#search
    if (s === null) {
      nearestTwo(x, xo, this.#centroids, this.#norms, this.#k, this.#d, this.#res)
      return this.#res[0]!
    }
    s.nearestFrom(x, xo, s.guess(x, xo), this.#res)
    return this.#res[0]!
  }
}
/**
 * Nearest and second-nearest of k centres to point i by |x|^2 + |c|^2 - 2 x.c, four centres per
 * pass over x (2-3x faster than one at a time in V8: each x element is loaded once for four
 * products). Writes Euclidean distances into the bounds.
 */
function fullScan(
  points: Float32Array,
  i: number,
  d: number,
  centroids: Float32Array,
  cnorms: Float64Array,
  k: number,
  assign: Int32Array,
  upper: Float64Array,
  lower: Float64Array,
  out: Float64Array,
): void {
  const xo = i * d
  let xn = 0
  for (let j = 0; j < d; j++) xn += points[xo + j]! * points[xo + j]!
  nearestTwo(points, xo, centroids, cnorms, k, d, out)
  assign[i] = out[0]!
  upper[i] = Math.sqrt(Math.max(0, xn + out[1]!))
  lower[i] = Math.sqrt(Math.max(0, xn + out[2]!))
}

/**
 * Best and second-best c by |c|^2 - 2 x.c (that is, squared L2 minus |x|^2) into
 * out = [best, best value, second value]; ties to the lower centre.
 */
export function nearestTwo(
  x: Float32Array,
  xo: number,
  centroids: Float32Array,
  cnorms: Float64Array,
  k: number,
  d: number,
  out: Float64Array,
): void {
  let best = 0
  let bestV = Infinity
  let second = Infinity
  let c = 0
  for (; c + 3 < k; c += 4) {
    const o0 = c * d
    const o1 = o0 + d
    const o2 = o1 + d
    const o3 = o2 + d
    let s0 = 0
    let s1 = 0
    let s2 = 0
    let s3 = 0
    for (let j = 0; j < d; j++) {
      const v = x[xo + j]!
      s0 += v * centroids[o0 + j]!
      s1 += v * centroids[o1 + j]!
      s2 += v * centroids[o2 + j]!
      s3 += v * centroids[o3 + j]!
    }
    const v0 = cnorms[c]! - 2 * s0
    const v1 = cnorms[c + 1]! - 2 * s1
    const v2 = cnorms[c + 2]! - 2 * s2
    const v3 = cnorms[c + 3]! - 2 * s3
    if (v0 < bestV) {
      second = bestV
      bestV = v0
      best = c
    } else if (v0 < second) second = v0
    if (v1 < bestV) {
      second = bestV
      bestV = v1
      best = c + 1
    } else if (v1 < second) second = v1
    if (v2 < bestV) {
      second = bestV
      bestV = v2
      best = c + 2
    } else if (v2 < second) second = v2
    if (v3 < bestV) {
      second = bestV
      bestV = v3
      best = c + 3
    } else if (v3 < second) second = v3
  }
  for (; c < k; c++) {
    const o = c * d
    let s = 0
    for (let j = 0; j < d; j++) s += x[xo + j]! * centroids[o + j]!
    const v = cnorms[c]! - 2 * s
    if (v < bestV) {
      second = bestV
      bestV = v
      best = c
    } else if (v < second) second = v
  }
  out[0] = best
  out[1] = bestV
  out[2] = second
}

/** |c|^2 of every centre. */
export function centreNorms(centroids: Float32Array, k: number, d: number): Float64Array {
  const out = new Float64Array(k)
  for (let c = 0; c < k; c++) {
    let s = 0
    for (let j = 0; j < d; j++) s += centroids[c * d + j]! * centroids[c * d + j]!
    out[c] = s
  }
  return out
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
