/**
 * SPARSE_INVERTED_INDEX and SPARSE_WAND (and AUTOINDEX on sparse fields): posting lists per
 * dimension (row ids ascending + values, as typed arrays) over the non-null rows, searched with the
 * query algorithm knowhere 2.6 names in `inverted_index_algo`:
 * - TAAT_NAIVE: term at a time, accumulating q_d * x_d per row over the query's dimensions;
 * - DAAT_MAXSCORE (default): document at a time with MaxScore pruning. Terms are ordered by their
 *   upper bound max(q * max x, q * min x); the prefix of terms whose bounds sum to at most the
 *   current k-th score is "non-essential": candidates are drawn only from the other lists, and the
 *   non-essential lists are probed (galloping seek) only while the candidate can still win;
 * - DAAT_WAND (SPARSE_WAND's default): document at a time with WAND pivoting: cursors sorted by
 *   row, the pivot is the first cursor where the bounds sum past the k-th score, and every cursor
 *   before it jumps to the pivot row.
 * The BLOCKMAX variants are accepted and run as their non-blockmax counterparts.
 *
 * Exactness: every algorithm sums a row's contributions in ascending dimension order in float64,
 * exactly as `ipSparse` (the brute-force kernel) does, and pruning only skips rows whose bound
 * cannot beat the k-th score, so without drop ratios results equal bruteForceSearch's bit for bit
 * (rows with a positive score only, ties to the lower row). Bounds carry a relative slack so
 * floating-point rounding never prunes a winner.
 *
 * Approximation, as knowhere: `drop_ratio_build` leaves each row's smallest-magnitude fraction of
 * values out of the posting lists (knowhere 2.6 deprecates it; it is honoured here as earlier
 * versions did, per row), `drop_ratio_search` ignores the query's smallest-magnitude fraction of
 * values while collecting candidates, and `dim_max_score_ratio` < 1 shrinks the DAAT bounds.
 * Approximate searches collect k * refine_factor candidates and re-score them exactly with the
 * full query against the raw rows, so reported scores are always exact IPs.
 *
 * Filtered search skips disallowed rows as candidates, and a query whose allowed rows are fewer
 * than the postings it would walk runs exact over them. Range search accumulates term at a time
 * (every score is needed anyway) and keeps the best k inside the range.
 *
 * Files: `sparse.meta.json` (header with sizes and CRC-32C), `sparse.postings` (dims u32, offsets
 * u32, rows i32, values f32), `sparse.data` + `sparse.offsets` (raw rows as FLAT stores them:
 * (u32 index, f32 value) pairs and rows + 1 pair offsets) and `sparse.valid` for nullable fields.
 */
import type { Bitset } from '../common/bitset.js'
import { crc32c } from '../common/crc32.js'
import { DbError, invalid } from '../common/errors.js'
import type { SparseRow, VectorColumn } from '../schema/columns.js'
import { bruteForceSearch, checkPair, type Hits, keyRange } from './brute-force.js'
import { bytesOf, countAllowed, EMPTY_HITS, isCount } from './dense-rows.js'
import {
  indexTypeSpec,
  type SparseAlgo,
  type SparseBuildParams,
  sparseBuildParams,
  type SparseSearchParams,
  sparseSearchParams,
} from './index-params.js'
import { ipSparse } from './kernels.js'
import { checkMetric, type MetricType } from './metric.js'
import { TopKHeap } from './top-k-heap.js'
import type { IndexSearchOptions, VectorIndex } from './vector-index.js'

export const SPARSE_META_FILE = 'sparse.meta.json'
const POSTINGS_FILE = 'sparse.postings'
const DATA_FILE = 'sparse.data'
const OFFSETS_FILE = 'sparse.offsets'
const VALID_FILE = 'sparse.valid'

type SparseColumn = Extract<VectorColumn, { type: 'SparseFloatVector' }>

/** Relative slack on score bounds: far above float64 rounding of short sums, far below any gap. */
const BOUND_SLACK = 1e-9
const EMPTY_ROW: SparseRow = { indices: new Uint32Array(0), values: new Float32Array(0) }

export interface SparseIndexOptions {
  /** Milvus index_type the index reports: SPARSE_INVERTED_INDEX (default), SPARSE_WAND, AUTOINDEX. */
  readonly indexType?: string
  readonly onProgress?: (fraction: number) => void
  readonly shouldStop?: () => boolean
}

interface SparseMeta {
  readonly version: 1
  readonly engine: 'SPARSE'
  readonly indexType: string
  readonly metric: 'IP'
  readonly params: Record<string, string>
  readonly rows: number
  readonly indexed: number
  readonly dims: number
  readonly postings: number
  readonly postingsCrc: number
  readonly dataBytes: number
  readonly dataCrc: number
}

/** Posting lists: list i holds dimension dims[i], entries offsets[i]..offsets[i+1]. */
interface Postings {
  readonly dims: Uint32Array
  readonly offsets: Uint32Array
  readonly rows: Int32Array
  readonly values: Float32Array
}

/** One query term: its posting list and weight; terms are kept in ascending dimension order. */
interface Term {
  readonly list: number
  readonly q: number
  /** Upper bound of q * x over the list, floored at 0 (pruning only needs an upper bound). */
  readonly ub: number
}

/**
 * Builds the inverted index over the non-null rows of a sparse column.
 *
 * @throws DbError ParameterInvalid on bad params or metric, IndexNotSupported for dense columns,
 * ServiceUnavailable when `shouldStop` aborts the build.
 */
export function buildSparseIndex(
  data: VectorColumn,
  metric: MetricType,
  params: Readonly<Record<string, string>> = {},
  opts: SparseIndexOptions = {},
): SparseInvertedIndex {
  if (data.type !== 'SparseFloatVector') {
    throw new DbError('IndexNotSupported', `sparse inverted indexes do not index ${data.type} fields`)
  }
  checkMetric(metric, data.type)
  const spec = indexTypeSpec(opts.indexType ?? 'SPARSE_INVERTED_INDEX', data.type)
  if (spec.engine !== 'SPARSE') throw invalid(`index type ${spec.indexType} is not a sparse index`)
  const bp = sparseBuildParams(spec.indexType, params)
  const postings = buildPostings(data, bp.dropRatioBuild, opts)
  opts.onProgress?.(1)
  return new SparseInvertedIndex(spec.indexType, { ...params }, bp, data, postings)
}

/**
 * Indices (into the row's entries, ascending) of the values a drop ratio keeps: the
 * floor(ratio * n) smallest |values| go (ties: the higher dimension first), as do zeros, which
 * contribute nothing to any inner product.
 */
function keptEntries(values: Float32Array, ratio: number): Int32Array {
  const n = values.length
  const drop = Math.floor(ratio * n)
  let order: Int32Array
  if (drop === 0) {
    order = new Int32Array(n)
    for (let i = 0; i < n; i++) order[i] = i
  } else {
    order = new Int32Array(n)
    for (let i = 0; i < n; i++) order[i] = i
    order.sort((a, b) => Math.abs(values[a]!) - Math.abs(values[b]!) || b - a)
    order = order.subarray(drop).sort()
  }
  let c = 0
  for (let i = 0; i < order.length; i++) if (values[order[i]!] !== 0) order[c++] = order[i]!
  return order.subarray(0, c)
}

function buildPostings(data: SparseColumn, dropRatio: number, opts: SparseIndexOptions): Postings {
  const rows = data.data.length
  const valid = data.valid
  const kept: (Int32Array | null)[] = new Array(rows)
  const count = new Map<number, number>()
  for (let r = 0; r < rows; r++) {
    if ((r & 4095) === 0 && opts.shouldStop?.() === true) throw new DbError('ServiceUnavailable', 'index build aborted')
    if (valid !== undefined && valid[r] === 0) {
      kept[r] = null
      continue
    }
    const row = data.data[r] ?? EMPTY_ROW
    const k = keptEntries(row.values, dropRatio)
    kept[r] = k
    for (let i = 0; i < k.length; i++) {
      const d = row.indices[k[i]!]!
      count.set(d, (count.get(d) ?? 0) + 1)
    }
  }
  opts.onProgress?.(0.5)
  const dims = Uint32Array.from(count.keys()).sort()
  const offsets = new Uint32Array(dims.length + 1)
  const slot = new Map<number, number>()
  for (let i = 0; i < dims.length; i++) {
    offsets[i + 1] = offsets[i]! + count.get(dims[i]!)!
    slot.set(dims[i]!, offsets[i]!)
  }
  const total = offsets[dims.length]!
  const prow = new Int32Array(total)
  const pval = new Float32Array(total)
  // Rows are visited in ascending order, so every list comes out sorted by row.
  for (let r = 0; r < rows; r++) {
    const k = kept[r]
    if (k === null || k === undefined) continue
    const row = data.data[r] ?? EMPTY_ROW
    for (let i = 0; i < k.length; i++) {
      const d = row.indices[k[i]!]!
      const s = slot.get(d)!
      prow[s] = r
      pval[s] = row.values[k[i]!]!
      slot.set(d, s + 1)
    }
  }
  return { dims, offsets, rows: prow, values: pval }
}

/** Scratch buffers of one search call (sized to the column), reused across its queries. */
interface Scratch {
  readonly acc: Float64Array
  readonly seen: Uint8Array
  touched: Int32Array
}

/** A built or loaded sparse inverted index over one immutable sparse column. */
export class SparseInvertedIndex implements VectorIndex {
  readonly indexType: string
  readonly metric: MetricType = 'IP'
  readonly params: Readonly<Record<string, string>>
  readonly buildParams: SparseBuildParams
  /** Non-null rows. */
  readonly indexed: number
  readonly #data: SparseColumn
  readonly #p: Postings
  readonly #listOf: Map<number, number>
  readonly #max: Float32Array
  readonly #min: Float32Array
  readonly #avgNnz: number

  /** @internal Use buildSparseIndex / loadSparseIndex. */
  constructor(indexType: string, params: Readonly<Record<string, string>>, bp: SparseBuildParams, data: SparseColumn, p: Postings) {
    this.indexType = indexType
    this.params = params
    this.buildParams = bp
    this.#data = data
    this.#p = p
    const rows = data.data.length
    let indexed = 0
    let nnz = 0
    for (let r = 0; r < rows; r++) {
      if (data.valid !== undefined && data.valid[r] === 0) continue
      indexed++
      nnz += data.data[r]?.indices.length ?? 0
    }
    this.indexed = indexed
    this.#avgNnz = indexed === 0 ? 0 : nnz / indexed
    this.#listOf = new Map()
    const nd = p.dims.length
    this.#max = new Float32Array(nd)
    this.#min = new Float32Array(nd)
    for (let i = 0; i < nd; i++) {
      this.#listOf.set(p.dims[i]!, i)
      let mx = -Infinity
      let mn = Infinity
      for (let j = p.offsets[i]!; j < p.offsets[i + 1]!; j++) {
        const v = p.values[j]!
        if (v > mx) mx = v
        if (v < mn) mn = v
      }
      this.#max[i] = mx
      this.#min[i] = mn
    }
  }

  /** The query algorithm the index was built for (inverted_index_algo). */
  get algo(): SparseAlgo {
    return this.buildParams.algo
  }

  /**
   * Top-k or range search by inner product; only rows with a positive score are returned, as
   * knowhere's sparse brute force.
   *
   * @throws DbError ParameterInvalid on a dense query, bad k, bad range bounds or bad search params
   * (drop_ratio_search, refine_factor, dim_max_score_ratio).
   */
  search(queries: VectorColumn, opts: IndexSearchOptions): Hits[] {
    const data = this.#data
    checkPair(data, queries, 'IP')
    const k = opts.k
    if (!Number.isInteger(k) || k <= 0) throw invalid(`topk must be a positive integer, got ${k}`)
    const [lo, hi] = keyRange('IP', true, { metric: 'IP', k, radius: opts.radius, rangeFilter: opts.rangeFilter })
    const sp = sparseSearchParams(opts.params)
    const allow = opts.allow
    const rows = data.data.length
    const allowed = countAllowed(allow, rows, data.valid, this.indexed)
    const exactOpts = { metric: 'IP' as const, k, allow, radius: opts.radius, rangeFilter: opts.rangeFilter }
    if (allowed === 0 || this.#p.rows.length === 0) return bruteForceSearch(data, queries, exactOpts)
    const q = queries as SparseColumn
    const nq = q.data.length
    const range = opts.radius !== undefined
    // Accumulators only for term-at-a-time scans, allocated on first use.
    let scratch: Scratch | undefined
    const result: Hits[] = new Array(nq)
    for (let qi = 0; qi < nq; qi++) {
      if (q.valid !== undefined && q.valid[qi] === 0) {
        result[qi] = EMPTY_HITS
        continue
      }
      const qrow = q.data[qi] ?? EMPTY_ROW
      const { terms, work } = this.#terms(qrow, sp)
      if (allow !== undefined && allowed * (qrow.indices.length + this.#avgNnz) < work) {
        // Fewer allowed rows than postings to walk: scoring them directly is cheaper (and exact).
        result[qi] = bruteForceSearch(data, { type: 'SparseFloatVector', data: [qrow] }, exactOpts)[0]!
        continue
      }
      const approximate = this.buildParams.dropRatioBuild > 0 || sp.dropRatioSearch > 0 || (sp.dimMaxScoreRatio < 1 && !range)
      // Heaps never need more slots than there are allowed rows (refine_factor may be huge).
      const cap = Math.min(k, allowed)
      const pool = approximate ? Math.min(allowed, cap * sp.refineFactor) : cap
      const ctx: QueryContext = { k: cap, lo, hi, allow, approximate, pool }
      let heap: TopKHeap
      if (range || this.buildParams.algo === 'TAAT_NAIVE') {
        scratch ??= { acc: new Float64Array(rows), seen: new Uint8Array(rows), touched: new Int32Array(64) }
        heap = this.#taat(terms, ctx, scratch, range)
      }
      else if (this.buildParams.algo === 'DAAT_WAND' || this.buildParams.algo === 'DAAT_BLOCKMAX_WAND') heap = this.#wand(terms, ctx)
      else heap = this.#maxScore(terms, ctx)
      result[qi] = approximate ? this.#rescore(heap, qrow, ctx) : drain(heap)
    }
    return result
  }

  /**
   * The query's terms in ascending dimension order after drop_ratio_search, with their bounds,
   * and the postings they would walk.
   */
  #terms(qrow: SparseRow, sp: SparseSearchParams): { terms: Term[]; work: number } {
    const keep = keptEntries(qrow.values, sp.dropRatioSearch)
    const terms: Term[] = []
    let work = 0
    const scale = sp.dimMaxScoreRatio < 1 ? sp.dimMaxScoreRatio : 1
    for (let i = 0; i < keep.length; i++) {
      const list = this.#listOf.get(qrow.indices[keep[i]!]!)
      if (list === undefined) continue
      const qv = qrow.values[keep[i]!]!
      const ub = Math.max(0, qv * this.#max[list]!, qv * this.#min[list]!) * scale
      terms.push({ list, q: qv, ub })
      work += this.#p.offsets[list + 1]! - this.#p.offsets[list]!
    }
    return { terms, work }
  }

  /** Term at a time: float64 accumulators per row, terms in ascending dimension order. */
  #taat(terms: readonly Term[], ctx: QueryContext, s: Scratch, range: boolean): TopKHeap {
    const { offsets, rows, values } = this.#p
    const { acc, seen } = s
    let touched = s.touched
    let nt = 0
    for (const t of terms) {
      const end = offsets[t.list + 1]!
      for (let j = offsets[t.list]!; j < end; j++) {
        const r = rows[j]!
        if (seen[r] === 0) {
          seen[r] = 1
          if (nt === touched.length) {
            const grown = new Int32Array(touched.length * 2)
            grown.set(touched)
            touched = grown
          }
          touched[nt++] = r
        }
        acc[r]! += t.q * values[j]!
      }
    }
    s.touched = touched
    // Approximate range search re-scores every touched row (the radius applies to exact scores).
    const cap = range && ctx.approximate ? Math.max(1, nt) : ctx.pool
    const heap = new TopKHeap(cap)
    const words = ctx.allow?.words
    const size = ctx.allow?.size ?? 0
    const lo = range && ctx.approximate ? -Infinity : ctx.lo
    const hi = range && ctx.approximate ? Infinity : ctx.hi
    for (let i = 0; i < nt; i++) {
      const r = touched[i]!
      const key = -Math.fround(acc[r]!)
      acc[r] = 0
      seen[r] = 0
      if (words !== undefined && (r >= size || (words[r >>> 5]! & (1 << (r & 31))) === 0)) continue
      if (key >= lo && key < hi && heap.admits(key, r)) heap.replaceTop(key, r)
    }
    return heap
  }

  /** DAAT with MaxScore partitioning (see the file comment). */
  #maxScore(terms: readonly Term[], ctx: QueryContext): TopKHeap {
    const { rows, values } = this.#p
    const n = terms.length
    const heap = new TopKHeap(ctx.pool)
    if (n === 0) return heap
    const c = this.#cursors(terms)
    const { pos, end, cur } = c
    // Terms by ascending bound; prefix[i] = sum of the i smallest bounds.
    const ord = Int32Array.from({ length: n }, (_, i) => i).sort((a, b) => terms[a]!.ub - terms[b]!.ub || a - b)
    const prefix = new Float64Array(n + 1)
    for (let i = 0; i < n; i++) prefix[i + 1] = prefix[i]! + terms[ord[i]!]!.ub
    const contrib = new Float64Array(n)
    const has = new Uint8Array(n)
    const touched = new Int32Array(n)
    const words = ctx.allow?.words
    const size = ctx.allow?.size ?? 0
    let theta = 0
    let ne = 0
    let doc = 0x7fffffff
    for (let t = 0; t < n; t++) if (cur[t]! < doc) doc = cur[t]!
    while (doc !== 0x7fffffff && ne < n) {
      // One pass over the essential cursors: the row's contributions and the next row together.
      let next = 0x7fffffff
      let score = 0
      let nt = 0
      const neBefore = ne
      const allowed = words === undefined || (doc < size && (words[doc >>> 5]! & (1 << (doc & 31))) !== 0)
      for (let i = ne; i < n; i++) {
        const t = ord[i]!
        if (cur[t] === doc) {
          if (allowed) {
            const v = terms[t]!.q * values[pos[t]!]!
            contrib[t] = v
            has[t] = 1
            touched[nt++] = t
            score += v
          }
          const p = ++pos[t]!
          cur[t] = p < end[t]! ? rows[p]! : 0x7fffffff
        }
        if (cur[t]! < next) next = cur[t]!
      }
      if (allowed) {
        // Non-essential terms from the largest bound down, while the row can still win.
        let i = ne - 1
        for (; i >= 0; i--) {
          if (score + prefix[i + 1]! + c.slack <= theta) break
          const t = ord[i]!
          if (cur[t]! < doc) {
            const p = seek(rows, pos[t]!, end[t]!, doc)
            pos[t] = p
            cur[t] = p < end[t]! ? rows[p]! : 0x7fffffff
          }
          if (cur[t] === doc) {
            const v = terms[t]!.q * values[pos[t]!]!
            contrib[t] = v
            has[t] = 1
            touched[nt++] = t
            score += v
          }
        }
        if (i < 0 && score + c.slack > theta) {
          // The order-independent sum only screens; the reported score is ipSparse's sum.
          const key = -Math.fround(orderedSum(contrib, has, n))
          if (key < 0 && heap.admits(key, doc)) {
            heap.replaceTop(key, doc)
            if (heap.worstRow !== SENTINEL_ROW) {
              theta = -heap.worstKey
              while (ne < n && prefix[ne + 1]! + c.slack <= theta) ne++
            }
          }
        }
        for (let k = 0; k < nt; k++) has[touched[k]!] = 0
      }
      doc = next
      // Essential lists just shrank (ne grew): the next row must come from them alone.
      if (ne !== neBefore && doc !== 0x7fffffff) {
        let m = 0x7fffffff
        for (let k = ne; k < n; k++) if (cur[ord[k]!]! < m) m = cur[ord[k]!]!
        doc = m
      }
    }
    return heap
  }

  /** DAAT with WAND pivoting (see the file comment). */
  #wand(terms: readonly Term[], ctx: QueryContext): TopKHeap {
    const { rows, values } = this.#p
    const n = terms.length
    const heap = new TopKHeap(ctx.pool)
    if (n === 0) return heap
    const c = this.#cursors(terms)
    const { pos, end, cur } = c
    // Cursors by current row, kept sorted by insertion (few terms, mostly sorted already).
    const act = Int32Array.from({ length: n }, (_, i) => i)
    const contrib = new Float64Array(n)
    const has = new Uint8Array(n)
    const words = ctx.allow?.words
    const size = ctx.allow?.size ?? 0
    let theta = 0
    for (;;) {
      for (let i = 1; i < n; i++) {
        const t = act[i]!
        const d = cur[t]!
        let j = i - 1
        while (j >= 0 && cur[act[j]!]! > d) {
          act[j + 1] = act[j]!
          j--
        }
        act[j + 1] = t
      }
      let sum = 0
      let pivot = -1
      for (let i = 0; i < n; i++) {
        const t = act[i]!
        if (cur[t] === 0x7fffffff) break
        sum += terms[t]!.ub
        if (sum + c.slack > theta) {
          pivot = i
          break
        }
      }
      if (pivot < 0) break
      const pdoc = cur[act[pivot]!]!
      if (cur[act[0]!] !== pdoc) {
        // No row before pdoc can beat theta: every cursor before the pivot jumps to it.
        for (let i = 0; i < pivot; i++) {
          const t = act[i]!
          const p = seek(rows, pos[t]!, end[t]!, pdoc)
          pos[t] = p
          cur[t] = p < end[t]! ? rows[p]! : 0x7fffffff
        }
        continue
      }
      const allowed = words === undefined || (pdoc < size && (words[pdoc >>> 5]! & (1 << (pdoc & 31))) !== 0)
      let i = 0
      for (; i < n; i++) {
        const t = act[i]!
        if (cur[t] !== pdoc) break
        if (allowed) {
          contrib[t] = terms[t]!.q * values[pos[t]!]!
          has[t] = 1
        }
        const p = ++pos[t]!
        cur[t] = p < end[t]! ? rows[p]! : 0x7fffffff
      }
      if (allowed) {
        const key = -Math.fround(orderedSum(contrib, has, n))
        if (key < 0 && heap.admits(key, pdoc)) {
          heap.replaceTop(key, pdoc)
          if (heap.worstRow !== SENTINEL_ROW) theta = -heap.worstKey
        }
        for (let k = 0; k < i; k++) has[act[k]!] = 0
      }
    }
    return heap
  }

  /**
   * Cursor state of a DAAT search: per term, position and end in the posting arrays, the row under
   * the cursor (0x7fffffff once exhausted), and the bound slack for this query.
   */
  #cursors(terms: readonly Term[]): { pos: Int32Array; end: Int32Array; cur: Int32Array; slack: number } {
    const { offsets, rows } = this.#p
    const n = terms.length
    const pos = new Int32Array(n)
    const end = new Int32Array(n)
    const cur = new Int32Array(n)
    let absSum = 0
    for (let t = 0; t < n; t++) {
      const term = terms[t]!
      pos[t] = offsets[term.list]!
      end[t] = offsets[term.list + 1]!
      cur[t] = pos[t]! < end[t]! ? rows[pos[t]!]! : 0x7fffffff
      absSum += Math.abs(term.q) * Math.max(Math.abs(this.#max[term.list]!), Math.abs(this.#min[term.list]!))
    }
    return { pos, end, cur, slack: BOUND_SLACK * absSum }
  }

  /** Exact scores of an approximate search's candidates, with the full query and raw rows. */
  #rescore(cand: TopKHeap, qrow: SparseRow, ctx: QueryContext): Hits {
    const rows = cand.drain().rows
    const heap = new TopKHeap(ctx.k)
    const data = this.#data.data
    for (let i = 0; i < rows.length; i++) {
      const r = rows[i]!
      const x = data[r] ?? EMPTY_ROW
      const key = -Math.fround(ipSparse(qrow.indices, qrow.values, x.indices, x.values))
      if (key >= ctx.lo && key < ctx.hi && heap.admits(key, r)) heap.replaceTop(key, r)
    }
    return drain(heap)
  }

  /**
   * Files: `sparse.meta.json`, `sparse.postings` (dims u32, offsets u32, rows i32, values f32),
   * `sparse.data` / `sparse.offsets` (raw rows) and `sparse.valid` for nullable fields.
   */
  serialize(): Map<string, Uint8Array> {
    const p = this.#p
    const postings = concat([bytesOf(p.dims), bytesOf(p.offsets), bytesOf(p.rows), bytesOf(p.values)])
    const { bytes, offsets } = encodeRows(this.#data)
    const raw = concat([bytes, bytesOf(offsets)])
    const meta: SparseMeta = {
      version: 1,
      engine: 'SPARSE',
      indexType: this.indexType,
      metric: 'IP',
      params: { ...this.params },
      rows: this.#data.data.length,
      indexed: this.indexed,
      dims: p.dims.length,
      postings: p.rows.length,
      postingsCrc: crc32c(postings),
      dataBytes: bytes.length,
      dataCrc: crc32c(raw),
    }
    const files = new Map<string, Uint8Array>()
    files.set(SPARSE_META_FILE, new TextEncoder().encode(JSON.stringify(meta)))
    files.set(POSTINGS_FILE, postings)
    files.set(DATA_FILE, bytes)
    files.set(OFFSETS_FILE, bytesOf(offsets))
    if (this.#data.valid !== undefined) files.set(VALID_FILE, this.#data.valid)
    return files
  }
}

interface QueryContext {
  /** Hits wanted: min(k, allowed rows). */
  readonly k: number
  readonly lo: number
  readonly hi: number
  readonly allow: Bitset | undefined
  readonly approximate: boolean
  /** Candidates collected before exact re-scoring (k when the search is exact). */
  readonly pool: number
}

/** TopKHeap's sentinel row (an unfilled slot). */
const SENTINEL_ROW = 0x7fffffff

/** A row's contributions summed in ascending dimension order, as ipSparse sums them. */
function orderedSum(contrib: Float64Array, has: Uint8Array, n: number): number {
  let s = 0
  for (let t = 0; t < n; t++) if (has[t] !== 0) s += contrib[t]!
  return s
}

/** First position in rows[pos..end) whose row is >= target (galloping, then binary search). */
function seek(rows: Int32Array, pos: number, end: number, target: number): number {
  if (pos >= end || rows[pos]! >= target) return pos
  let step = 1
  let lo = pos
  let hi = pos + 1
  while (hi < end && rows[hi]! < target) {
    lo = hi
    step *= 2
    hi = Math.min(end, hi + step)
  }
  // rows[lo] < target; answer in (lo, hi]
  let a = lo + 1
  let b = hi
  while (a < b) {
    const mid = (a + b) >>> 1
    if (rows[mid]! < target) a = mid + 1
    else b = mid
  }
  return a
}

function drain(heap: TopKHeap): Hits {
  const { rows, keys } = heap.drain()
  const scores = new Float32Array(keys.length)
  for (let i = 0; i < keys.length; i++) scores[i] = 0 - keys[i]!
  return { rows, scores }
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  let n = 0
  for (const p of parts) n += p.length
  const out = new Uint8Array(n)
  let o = 0
  for (const p of parts) {
    out.set(p, o)
    o += p.length
  }
  return out
}

/** Raw rows as FLAT stores them: (u32 index, f32 value) little-endian pairs, plus pair offsets. */
function encodeRows(data: SparseColumn): { bytes: Uint8Array; offsets: Uint32Array } {
  const rows = data.data.length
  const offsets = new Uint32Array(rows + 1)
  for (let r = 0; r < rows; r++) offsets[r + 1] = offsets[r]! + (data.data[r]?.indices.length ?? 0)
  const bytes = new Uint8Array(offsets[rows]! * 8)
  const view = new DataView(bytes.buffer)
  for (let r = 0; r < rows; r++) {
    const { indices, values } = data.data[r] ?? EMPTY_ROW
    let p = offsets[r]! * 8
    for (let i = 0; i < indices.length; i++, p += 8) {
      view.setUint32(p, indices[i]!, true)
      view.setFloat32(p + 4, values[i]!, true)
    }
  }
  return { bytes, offsets }
}

/**
 * Rebuilds a sparse index from serialize()'s files. With `data` (the segment's own column), the
 * raw rows are taken from it; it must be a sparse column of the header's row count.
 *
 * @throws DbError DataCorrupted on missing, inconsistent or damaged files, ParameterInvalid if
 * `data` does not match.
 */
export function loadSparseIndex(files: ReadonlyMap<string, Uint8Array>, data?: VectorColumn): SparseInvertedIndex {
  const metaBytes = files.get(SPARSE_META_FILE)
  if (metaBytes === undefined) throw corrupted('missing header')
  let meta: SparseMeta
  try {
    meta = JSON.parse(new TextDecoder().decode(metaBytes)) as SparseMeta
  } catch (e) {
    throw new DbError('DataCorrupted', 'sparse index header is not JSON', { cause: e })
  }
  if (
    meta === null ||
    typeof meta !== 'object' ||
    meta.version !== 1 ||
    meta.engine !== 'SPARSE' ||
    meta.metric !== 'IP' ||
    typeof meta.indexType !== 'string' ||
    ![meta.rows, meta.indexed, meta.dims, meta.postings, meta.postingsCrc, meta.dataBytes, meta.dataCrc].every(isCount) ||
    meta.indexed > meta.rows ||
    typeof meta.params !== 'object' ||
    meta.params === null
  ) {
    throw corrupted(`unsupported header ${JSON.stringify(meta)}`)
  }
  let bp: SparseBuildParams
  let indexType: string
  try {
    const spec = indexTypeSpec(meta.indexType, 'SparseFloatVector')
    if (spec.engine !== 'SPARSE') throw invalid(`${spec.indexType} is not a sparse index type`)
    indexType = spec.indexType
    bp = sparseBuildParams(indexType, meta.params)
  } catch (e) {
    throw new DbError('DataCorrupted', 'sparse index header has invalid parameters', { cause: e })
  }
  let col: SparseColumn
  if (data === undefined) {
    col = decodeRows(files, meta)
  } else {
    if (data.type !== 'SparseFloatVector' || data.data.length !== meta.rows) {
      throw invalid(`column does not match the sparse index: index has ${meta.rows} rows of SparseFloatVector`)
    }
    col = data
  }
  const bytes = files.get(POSTINGS_FILE)
  if (bytes === undefined) throw corrupted('missing postings')
  const nd = meta.dims
  const np = meta.postings
  if (bytes.length !== nd * 4 + (nd + 1) * 4 + np * 8 || crc32c(bytes) !== meta.postingsCrc) {
    throw corrupted('postings checksum mismatch')
  }
  let off = 0
  const take = (n: number): ArrayBuffer => {
    const b = bytes.slice(off, off + n).buffer
    off += n
    return b
  }
  const p: Postings = {
    dims: new Uint32Array(take(nd * 4)),
    offsets: new Uint32Array(take((nd + 1) * 4)),
    rows: new Int32Array(take(np * 4)),
    values: new Float32Array(take(np * 4)),
  }
  checkPostings(p, col, meta.rows)
  const index = new SparseInvertedIndex(indexType, { ...meta.params }, bp, col, p)
  if (index.indexed !== meta.indexed) throw corrupted('null rows disagree')
  return index
}

/** Dims ascend, offsets ascend to the posting count, rows ascend per list and are non-null. */
function checkPostings(p: Postings, col: SparseColumn, rows: number): void {
  const nd = p.dims.length
  if (p.offsets[0] !== 0 || p.offsets[nd] !== p.rows.length) throw corrupted('posting offsets disagree')
  for (let i = 0; i < nd; i++) {
    if (i > 0 && p.dims[i]! <= p.dims[i - 1]!) throw corrupted('posting dims disagree')
    const s = p.offsets[i]!
    const e = p.offsets[i + 1]!
    if (e < s) throw corrupted('posting offsets disagree')
    for (let j = s; j < e; j++) {
      const r = p.rows[j]!
      if (r < 0 || r >= rows || (j > s && r <= p.rows[j - 1]!) || (col.valid !== undefined && col.valid[r] === 0)) {
        throw corrupted('posting rows disagree')
      }
    }
  }
}

function decodeRows(files: ReadonlyMap<string, Uint8Array>, meta: SparseMeta): SparseColumn {
  const bytes = files.get(DATA_FILE)
  const offBytes = files.get(OFFSETS_FILE)
  if (bytes === undefined || offBytes === undefined) throw corrupted('missing raw data')
  if (bytes.length !== meta.dataBytes || crc32c(concat([bytes, offBytes])) !== meta.dataCrc) {
    throw corrupted('raw data checksum mismatch')
  }
  const rows = meta.rows
  if (offBytes.length !== (rows + 1) * 4) throw corrupted('raw offsets size mismatch')
  const offsets = new Uint32Array(offBytes.slice().buffer)
  if (offsets[0] !== 0 || offsets[rows]! * 8 !== bytes.length) throw corrupted('raw offsets disagree')
  const validBytes = files.get(VALID_FILE)
  if (validBytes !== undefined && validBytes.length !== rows) throw corrupted('valid length mismatch')
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const out: SparseRow[] = new Array(rows)
  for (let r = 0; r < rows; r++) {
    const s = offsets[r]!
    const e = offsets[r + 1]!
    if (e < s) throw corrupted('raw offsets disagree')
    const indices = new Uint32Array(e - s)
    const values = new Float32Array(e - s)
    for (let i = 0; i < e - s; i++) {
      indices[i] = view.getUint32((s + i) * 8, true)
      values[i] = view.getFloat32((s + i) * 8 + 4, true)
      if (i > 0 && indices[i]! <= indices[i - 1]!) throw corrupted('raw row indices are not ascending')
    }
    out[r] = { indices, values }
  }
  return validBytes === undefined ? { type: 'SparseFloatVector', data: out } : { type: 'SparseFloatVector', data: out, valid: validBytes.slice() }
}

function corrupted(detail: string): DbError {
  return new DbError('DataCorrupted', `sparse index files: ${detail}`)
}

