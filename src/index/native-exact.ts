/**
 * Exact top-k and range search over a float32 column on the native threads (column-graph.cc's
 * exactSearchAsync): what growing segments and other unindexed chunks run, so that a scan of a
 * large chunk neither blocks the event loop nor runs at JS speed.
 *
 * The addon ranks with its own SIMD kernels; its candidates (the best k + CANDIDATE_MARGIN of
 * each part of the rows, within range bounds widened by a rounding margin) are re-scored here
 * with bruteForceSearch's kernels and summation order, and the exact bounds applied. Reported
 * scores are therefore bruteForceSearch's bit for bit, and so is the order (ties to the lower row).
 * Where the candidates cannot settle the answer (a part came back full but short of k after the
 * exact bounds, or a flood of ties at the k-th place) that query is scanned by bruteForceSearch.
 */
import { DbError } from '../common/errors.js'
import type { VectorColumn } from '../schema/columns.js'
import { columnRows } from '../schema/columns.js'
import { bruteForceSearch, checkPair, type Hits, keyRange } from './brute-force.js'
import { columnGraphAddon, filterWords } from './column-graph.js'
import { EMPTY_HITS, exactScorer, oneRow } from './dense-rows.js'
import { higherIsBetter, type MetricType } from './metric.js'
import type { Bitset } from '../common/bitset.js'

/** Extra candidates per part beyond k, to absorb ranking differences from rounding. */
const CANDIDATE_MARGIN = 16
/** Below this many multiply-adds (rows x dim x queries) the JS scan is cheaper than a thread hop. */
const MIN_WORK = 1 << 18
/**
 * Relative widening of range bounds for the native pass: its float32 sums differ from the JS
 * kernels' by far less, so no row the exact bounds keep is lost there.
 */
const BOUND_MARGIN = 1e-3

export interface NativeExactOptions {
  readonly metric: MetricType
  readonly k: number
  readonly allow?: Bitset
  /** Range search, as bruteForceSearch's options. */
  readonly radius?: number
  readonly rangeFilter?: number
}

/**
 * Whether nativeExactSearch takes this search: float32 rows, L2/IP/COSINE, enough work to pay
 * for the hop, few enough candidates to re-score, and the addon built.
 */
export function nativeExactApplies(
  data: VectorColumn,
  queries: VectorColumn,
  metric: MetricType,
  k: number,
  allow?: Bitset,
): boolean {
  if (data.type !== 'FloatVector' || queries.type !== 'FloatVector' || data.dim !== queries.dim) return false
  if (metric !== 'L2' && metric !== 'IP' && metric !== 'COSINE') return false
  const addon = columnGraphAddon()
  if (addon === null) return false
  const rows = columnRows(data)
  // The JS scan walks only allowed rows; a selective filter leaves it little to do.
  const scanned = allow === undefined ? rows : Math.min(rows, allow.count())
  if (scanned * data.dim * columnRows(queries) < MIN_WORK) return false
  // Each part hands back up to k + margin rows that are re-scored (and sorted) here: past a
  // quarter of the rows that is more event-loop work than the scan it replaces.
  const parts = Math.max(1, Math.min(addon.searchThreads, Math.floor(rows / 4096)))
  return parts * (k + CANDIDATE_MARGIN) * 4 <= scanned
}

/**
 * bruteForceSearch's answer, from the native scan where nativeExactApplies says it pays and from
 * bruteForceSearch itself otherwise: what every exact scan that may leave the event loop calls.
 */
export async function exactSearch(data: VectorColumn, queries: VectorColumn, opts: NativeExactOptions): Promise<Hits[]> {
  return nativeExactApplies(data, queries, opts.metric, opts.k, opts.allow) ? nativeExactSearch(data, queries, opts) : bruteForceSearch(data, queries, opts)
}

/**
 * bruteForceSearch's top-k for float32 columns, scanned on the native threads.
 *
 * @throws DbError ParameterInvalid as bruteForceSearch does; ServiceInternal if the addon fails.
 */
export async function nativeExactSearch(data: VectorColumn, queries: VectorColumn, opts: NativeExactOptions): Promise<Hits[]> {
  const { metric, k } = opts
  checkPair(data, queries, metric)
  if (!Number.isInteger(k) || k <= 0) throw new DbError('ParameterInvalid', `topk must be a positive integer, got ${k}`)
  const [lo, hi] = keyRange(metric, false, opts)
  const addon = columnGraphAddon()
  if (addon === null || data.type !== 'FloatVector' || queries.type !== 'FloatVector') {
    throw new DbError('ServiceInternal', 'native exact search is not available for this column')
  }
  const nq = columnRows(queries)
  const dim = data.dim
  const result: Hits[] = new Array(nq)
  const live: number[] = []
  for (let i = 0; i < nq; i++) {
    if (queries.valid !== undefined && queries.valid[i] === 0) result[i] = EMPTY_HITS
    else live.push(i)
  }
  if (live.length === 0) return result
  const matrix = new Float32Array(live.length * dim)
  live.forEach((qi, i) => matrix.set(queries.data.subarray(qi * dim, (qi + 1) * dim), i * dim))
  const wanted = Math.min(columnRows(data), k + CANDIDATE_MARGIN)
  const kind = metric === 'L2' ? 'l2' : metric === 'IP' ? 'ip' : 'cos'
  let m
  try {
    const widen = (b: number) => Math.abs(b) * BOUND_MARGIN + 1e-6
    const [words, size] = filterWords(opts.allow)
    m = await addon.exactSearchAsync(data.data, dim, kind, data.valid ?? null, matrix, live.length, Math.max(1, wanted), words, size, lo - widen(lo), hi + widen(hi))
  } catch (e) {
    throw new DbError('ServiceInternal', 'native exact search failed', { cause: e })
  }
  const higher = higherIsBetter(metric)
  const stride = Math.max(1, wanted)
  live.forEach((qi, i) => {
    const score = exactScorer(data, metric, queries, qi)
    const rows: number[] = []
    const keys: number[] = []
    // Parts that came back full: rows they left out rank no better natively than their worst.
    const full: { worst: number; kept: number }[] = []
    for (let p = 0; p < m.parts; p++) {
      const slot = p * live.length + i
      const n = m.counts[slot]!
      let worst = -Infinity
      let kept = 0
      for (let j = 0; j < n; j++) {
        const row = m.keys[slot * stride + j]!
        const key = (higher ? -1 : 1) * Math.fround(score(row))
        // The exact bounds, as bruteForceSearch applies them (hi is +Infinity without a range: a
        // float32 overflow is not a hit either).
        if (!(key >= lo && key < hi)) continue
        rows.push(row)
        keys.push(key)
        kept++
        if (key > worst) worst = key
      }
      if (n === stride && wanted < columnRows(data)) full.push({ worst, kept })
    }
    const order = Array.from(rows.keys()).sort((a, b) => keys[a]! - keys[b]! || rows[a]! - rows[b]!)
    const n = Math.min(k, order.length)
    // A full part may have left out rows the answer needs: when the exact bounds cut its list
    // below k, or when none of its candidates is worse than the k-th (more ties than
    // CANDIDATE_MARGIN, e.g. scaled copies under COSINE). Only a full scan settles those.
    const kth = n > 0 ? keys[order[n - 1]!]! : Infinity
    if (full.some((f) => f.kept < k || f.worst <= kth)) {
      result[qi] = bruteForceSearch(data, oneRow(queries, qi), opts)[0]!
      return
    }
    const out = { rows: new Int32Array(n), scores: new Float32Array(n) }
    for (let j = 0; j < n; j++) {
      out.rows[j] = rows[order[j]!]!
      // 0 - key rather than -key: an IP of exactly 0 must not come out as -0.
      out.scores[j] = higher ? 0 - keys[order[j]!]! : keys[order[j]!]!
    }
    result[qi] = out
  })
  return result
}
