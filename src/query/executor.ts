/**
 * Search and retrieve over a collection's in-memory shards at one snapshot timestamp.
 *
 * Per chunk: MVCC visibility bitset AND the compiled filter bitset, then the vector kernel with that
 * allow-list; per-chunk top-k lists are merged into the global top-k. Retrieve is the same without
 * vectors. Output columns are gathered once at the end, only for the rows that survive.
 *
 * Variants: grouping search (group-search.ts), search iterator pages (exact, below the previous
 * page's bound) and the primary-key lookup behind search-by-ids.
 */
import { invalid } from '../common/errors.js'
import {
  bruteForceSearch,
  exactSearch,
  type GraphSearchBatcher,
  higherIsBetter,
  type Hits,
  mergeTopK,
  type MetricType,
} from '../index/index.js'
import type { Column, VectorColumn } from '../schema/columns.js'
import { emptyColumn, takeRows } from '../schema/field-data.js'
import type { FieldSchema } from '../schema/types.js'
import type { RowChunk } from '../segment/segment.js'
import type { CollectionRuntime } from '../segment/collection-runtime.js'
import { searchGrouped, type GroupingSpec } from './group-search.js'
import { scanChunks, vectorRows, type ScanSpec } from './scan.js'

export type { GroupingSpec } from './group-search.js'
export type { ScanSpec } from './scan.js'

export interface SearchSpec extends ScanSpec {
  readonly annsField: string
  readonly queries: VectorColumn
  readonly metric: MetricType
  readonly topk: number
  readonly offset: number
  readonly radius?: number
  readonly rangeFilter?: number
  /** Index search parameters as the client sent them (ef, nprobe, ...). */
  readonly indexParams?: Record<string, unknown>
  /** Grouping search: topk counts groups and offset skips groups. */
  readonly grouping?: GroupingSpec
}

/** Rows picked out of a set of chunks, in result order. */
export interface RowSelection {
  readonly chunks: readonly RowChunk[]
  readonly chunk: Int32Array
  readonly row: Int32Array
}

export interface SearchResult extends RowSelection {
  /** Hits per query; the flat arrays hold query 0's hits, then query 1's, ... */
  readonly topks: number[]
  readonly scores: Float32Array
}

interface Hit {
  readonly score: number
  readonly chunk: number
  readonly row: number
}

export function search(rt: CollectionRuntime, spec: SearchSpec): SearchResult {
  if (spec.grouping) return searchGrouped(rt, spec, spec.grouping)
  const plan = planSearch(rt, spec)
  return mergeChunkHits(spec, plan, plan.tasks.map((t) => t.search()))
}

/**
 * search(), with the graph traversals of indexed chunks handed to `batcher`: they run together
 * with concurrent requests' on all cores, off this request's critical path. Chunks without a graph
 * index are searched before the first await; grouping search stays synchronous.
 */
export async function searchBatched(rt: CollectionRuntime, spec: SearchSpec, batcher: GraphSearchBatcher): Promise<SearchResult> {
  if (spec.grouping) return searchGrouped(rt, spec, spec.grouping)
  const plan = planSearch(rt, spec)
  const hits = await Promise.all(plan.tasks.map((t) => (t.batched ? t.batched(batcher) : t.search())))
  return mergeChunkHits(spec, plan, hits)
}

/** One chunk's share of a search: its index's (or brute force's) hits per query. */
interface ChunkTask {
  search(): Hits[]
  batched?: (batcher: GraphSearchBatcher) => Promise<Hits[]>
}

interface SearchPlan {
  readonly chunks: RowChunk[]
  /** tasks[i] searches chunks[i]. */
  readonly tasks: ChunkTask[]
}

/** The chunks to search at the snapshot, each with its allow-list bound into a task. */
function planSearch(rt: CollectionRuntime, spec: SearchSpec): SearchPlan {
  const k = spec.topk + spec.offset
  const chunks: RowChunk[] = []
  const tasks: ChunkTask[] = []
  for (const { seg, chunk, allow } of scanChunks(rt, spec)) {
    if (allow.count() === 0) continue
    const col = chunk.columns.get(spec.annsField) as VectorColumn | undefined
    if (!col) continue
    chunks.push(chunk)
    // A built index covers a flushed segment's single chunk; anything else is searched exactly.
    const attached = seg.chunks.length === 1 ? seg.indexes.get(spec.annsField) : undefined
    const opts = { k, allow, radius: spec.radius, rangeFilter: spec.rangeFilter }
    if (attached && attached.metric === spec.metric) {
      const index = attached.index
      const indexOpts = { ...opts, params: spec.indexParams }
      const batched = index.searchBatched
      tasks.push({
        search: () => index.search(spec.queries, indexOpts),
        batched: batched ? (b) => batched.call(index, spec.queries, indexOpts, b) : undefined,
      })
    } else {
      const exactOpts = { ...opts, metric: spec.metric }
      tasks.push({
        search: () => bruteForceSearch(col, spec.queries, exactOpts),
        // Growing and unindexed chunks: large float32 scans run on the native threads.
        batched: () => exactSearch(col, spec.queries, exactOpts),
      })
    }
  }
  return { chunks, tasks }
}

/** Merges per-chunk hits (hits[i] from plan.chunks[i]) into the global top-k per query. */
function mergeChunkHits(spec: SearchSpec, plan: SearchPlan, hits: readonly Hits[][]): SearchResult {
  const nq = vectorRows(spec.queries)
  const k = spec.topk + spec.offset
  const better = higherIsBetter(spec.metric)
  const topks: number[] = []
  let total = 0
  const merged: Hit[][] = new Array(nq)
  for (let q = 0; q < nq; q++) {
    let picked: Hit[]
    if (hits.length === 1) {
      // One chunk: its hits are already the best first; only the offset is cut.
      const h = hits[0]![q]!
      const n = Math.min(h.rows.length, k)
      picked = []
      for (let i = spec.offset; i < n; i++) picked.push({ score: h.scores[i]!, chunk: 0, row: h.rows[i]! })
    } else {
      const lists = hits.map((perQuery, ci) => {
        const h = perQuery[q]!
        const list: Hit[] = new Array(h.rows.length)
        for (let i = 0; i < h.rows.length; i++) list[i] = { score: h.scores[i]!, chunk: ci, row: h.rows[i]! }
        return list
      })
      picked = mergeTopK(lists, k, better).slice(spec.offset)
    }
    merged[q] = picked
    topks.push(picked.length)
    total += picked.length
  }
  const scores = new Float32Array(total)
  const chunk = new Int32Array(total)
  const row = new Int32Array(total)
  let at = 0
  for (const picked of merged) {
    for (const h of picked) {
      scores[at] = h.score
      chunk[at] = h.chunk
      row[at++] = h.row
    }
  }
  return { chunks: plan.chunks, topks, scores, chunk, row }
}

/** Where a search iterator page starts: after the previous page's last hit. */
export interface IteratorPage {
  /** Score (float32) of the previous page's last hit; absent on the first page. */
  readonly bound?: number
  /**
   * Whether rows scoring exactly `bound` may still come, except those in `returned`; when false
   * only rows strictly worse than `bound` do (what Milvus does; it may skip tied rows).
   */
  readonly includeBound: boolean
  /** Primary keys already returned with a score equal to `bound`. */
  readonly returned: ReadonlySet<bigint | string>
}

/**
 * One page of a search iterator (nq = 1): the best `spec.topk` rows scoring worse than the previous
 * page's bound (ties at the bound handled by primary key), within the client's own range if any.
 * Always an exact scan, ignoring ANN indexes: an approximate index could skip a row on one page and
 * the bound would then hide it from every later page.
 */
export function searchIteratorPage(rt: CollectionRuntime, spec: SearchSpec, page: IteratorPage): SearchResult {
  const better = higherIsBetter(spec.metric)
  const range = iteratorRange(spec.metric, spec.radius, spec.rangeFilter, page)
  const empty: SearchResult = { chunks: [], topks: [0], scores: new Float32Array(0), chunk: new Int32Array(0), row: new Int32Array(0) }
  if (!range) return empty
  // Rows tied at the bound that were already returned come back from the kernel; ask for that many more.
  const k = spec.topk + (page.includeBound ? page.returned.size : 0)
  const chunks: RowChunk[] = []
  const lists: Hit[][] = []
  for (const { chunk, allow } of scanChunks(rt, spec)) {
    if (allow.count() === 0) continue
    const col = chunk.columns.get(spec.annsField) as VectorColumn | undefined
    if (!col) continue
    const ci = chunks.push(chunk) - 1
    const [h] = bruteForceSearch(col, spec.queries, { k, allow, metric: spec.metric, ...range })
    const list: Hit[] = []
    for (let i = 0; i < h!.rows.length; i++) {
      const row = h!.rows[i]!
      if (page.includeBound && page.returned.size > 0 && page.returned.has(chunk.pks[row]!)) continue
      list.push({ score: h!.scores[i]!, chunk: ci, row })
    }
    lists.push(list)
  }
  const picked = mergeTopK(lists, spec.topk, better)
  return {
    chunks,
    topks: [picked.length],
    scores: Float32Array.from(picked, (h) => h.score),
    chunk: Int32Array.from(picked, (h) => h.chunk),
    row: Int32Array.from(picked, (h) => h.row),
  }
}

/**
 * The kernel's range parameters for a page: the client's range (if radius is given) narrowed to
 * scores no better than the bound (or strictly worse: the next float32 past it). Undefined when
 * nothing can qualify.
 */
function iteratorRange(
  metric: MetricType,
  radius: number | undefined,
  rangeFilter: number | undefined,
  page: IteratorPage,
): { radius?: number; rangeFilter?: number } | undefined {
  if (page.bound === undefined) return { radius, rangeFilter }
  const higher = higherIsBetter(metric)
  // The kernel ignores range_filter without radius, so an unpaired one never narrows the range.
  const own = radius !== undefined ? rangeFilter : undefined
  if (higher) {
    const edge = page.includeBound ? page.bound : -nextUp32(-page.bound)
    const rf = own === undefined ? edge : Math.min(own, edge)
    const r = radius ?? -Infinity
    return rf > r ? { radius: r, rangeFilter: rf } : undefined
  }
  const edge = page.includeBound ? page.bound : nextUp32(page.bound)
  const rf = own === undefined ? edge : Math.max(own, edge)
  const r = radius ?? Infinity
  return rf < r ? { radius: r, rangeFilter: rf } : undefined
}

const F32 = new Float32Array(1)
const I32 = new Int32Array(F32.buffer)

/** The smallest float32 greater than float32 `x` (scores are compared as float32). */
function nextUp32(x: number): number {
  if (Number.isNaN(x) || x === Infinity) return x
  if (x === 0) return 2 ** -149
  F32[0] = x
  I32[0] = x > 0 ? I32[0]! + 1 : I32[0]! - 1
  return F32[0]!
}

/**
 * The rows holding the given primary keys in the snapshot (the filter does not apply: the keys
 * name query vectors, not candidates), in the order asked, and the keys not found.
 */
export function rowsByPrimaryKey(
  rt: CollectionRuntime,
  spec: ScanSpec,
  pks: readonly (bigint | string)[],
): { selection: RowSelection; missing: (bigint | string)[] } {
  const want = new Map<bigint | string, number>()
  pks.forEach((pk, i) => want.set(pk, i))
  const chunks: RowChunk[] = []
  const chunkIdx = new Int32Array(pks.length).fill(-1)
  const rowIdx = new Int32Array(pks.length)
  for (const { chunk, allow } of scanChunks(rt, { ts: spec.ts, partitionIds: spec.partitionIds, segments: spec.segments })) {
    const keys = chunk.pks
    let ci = -1
    for (let r = 0; r < chunk.numRows; r++) {
      const at = want.get(keys[r]!)
      if (at === undefined || !allow.get(r)) continue
      if (ci < 0) ci = chunks.push(chunk) - 1
      chunkIdx[at] = ci
      rowIdx[at] = r
    }
  }
  const missing = pks.filter((_, i) => chunkIdx[i]! < 0)
  return { selection: { chunks, chunk: chunkIdx, row: rowIdx }, missing }
}

export interface RetrieveSpec extends ScanSpec {
  readonly limit?: number
  readonly offset: number
}

/** Rows matching the filter, ordered by primary key when a limit is given (as Milvus's reduce does). */
export function retrieve(rt: CollectionRuntime, spec: RetrieveSpec): RowSelection {
  const chunks: RowChunk[] = []
  const chunkIdx: number[] = []
  const rowIdx: number[] = []
  for (const { chunk, allow } of scanChunks(rt, spec)) {
    if (allow.count() === 0) continue
    const ci = chunks.push(chunk) - 1
    allow.forEach((r) => {
      chunkIdx.push(ci)
      rowIdx.push(r)
    })
  }
  let order = Array.from(rowIdx.keys())
  if (spec.limit !== undefined || spec.offset > 0) {
    const pkOf = (i: number) => chunks[chunkIdx[i]!]!.pks[rowIdx[i]!]!
    order.sort((a, b) => {
      const x = pkOf(a)
      const y = pkOf(b)
      return x < y ? -1 : x > y ? 1 : 0
    })
    order = order.slice(spec.offset, spec.limit !== undefined ? spec.offset + spec.limit : undefined)
  }
  return {
    chunks,
    chunk: Int32Array.from(order, (i) => chunkIdx[i]!),
    row: Int32Array.from(order, (i) => rowIdx[i]!),
  }
}

/** count(*) without materialising rows. */
export function count(rt: CollectionRuntime, spec: ScanSpec): number {
  let n = 0
  for (const { allow } of scanChunks(rt, spec)) n += allow.count()
  return n
}

/** One output column for the selected rows. */
export function gather(field: FieldSchema, sel: RowSelection): Column {
  if (sel.row.length === 0) return emptyColumn(field)
  const parts = sel.chunks.map((c) => {
    const col = c.columns.get(field.name)
    if (!col) throw invalid(`field ${field.name} is not loaded`)
    return col
  })
  return takeRows(field, parts, { chunk: sel.chunk, row: sel.row })
}
