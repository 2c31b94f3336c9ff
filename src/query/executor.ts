/**
 * Search and retrieve over a collection's in-memory shards at one snapshot timestamp.
 *
 * Per chunk: MVCC visibility bitset AND the compiled filter bitset, then the vector kernel with that
 * allow-list; per-chunk top-k lists are merged into the global top-k. Retrieve is the same without
 * vectors. Output columns are gathered once at the end, only for the rows that survive.
 */
import type { Bitset } from '../common/bitset.js'
import { invalid } from '../common/errors.js'
import type { Timestamp } from '../common/tso.js'
import { evaluateFilter, type FilterPlan } from '../expr/index.js'
import { bruteForceSearch, higherIsBetter, mergeTopK, type MetricType } from '../index/index.js'
import type { Column, VectorColumn } from '../schema/columns.js'
import { emptyColumn, takeRows } from '../schema/field-data.js'
import type { FieldSchema } from '../schema/types.js'
import type { RowChunk, Segment } from '../segment/segment.js'
import type { CollectionRuntime } from '../segment/collection-runtime.js'

export interface ScanSpec {
  readonly ts: Timestamp
  readonly filter?: FilterPlan
  readonly partitionIds?: ReadonlySet<bigint>
}

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

function* scanChunks(rt: CollectionRuntime, spec: ScanSpec): Iterable<{ seg: Segment; chunk: RowChunk; allow: Bitset }> {
  for (const shard of rt.shards) {
    for (const seg of shard.readableSegments(spec.partitionIds)) {
      for (const chunk of seg.chunks) {
        if (chunk.numRows === 0) continue
        const allow = chunk.visibility(spec.ts)
        if (spec.filter) allow.and(evaluateFilter(spec.filter, chunk))
        yield { seg, chunk, allow }
      }
    }
  }
}

export function search(rt: CollectionRuntime, spec: SearchSpec): SearchResult {
  const nq = columnRowCount(spec.queries)
  const k = spec.topk + spec.offset
  const better = higherIsBetter(spec.metric)
  const chunks: RowChunk[] = []
  const perQuery: Hit[][][] = Array.from({ length: nq }, () => [])
  for (const { seg, chunk, allow } of scanChunks(rt, spec)) {
    if (allow.count() === 0) continue
    const col = chunk.columns.get(spec.annsField) as VectorColumn | undefined
    if (!col) continue
    const ci = chunks.push(chunk) - 1
    // A built index covers a flushed segment's single chunk; anything else is searched exactly.
    const attached = seg.chunks.length === 1 ? seg.indexes.get(spec.annsField) : undefined
    const opts = { k, allow, radius: spec.radius, rangeFilter: spec.rangeFilter }
    const hits =
      attached && attached.metric === spec.metric
        ? attached.index.search(spec.queries, { ...opts, params: spec.indexParams })
        : bruteForceSearch(col, spec.queries, { ...opts, metric: spec.metric })
    hits.forEach((h, q) => {
      const list: Hit[] = new Array(h.rows.length)
      for (let i = 0; i < h.rows.length; i++) list[i] = { score: h.scores[i]!, chunk: ci, row: h.rows[i]! }
      perQuery[q]!.push(list)
    })
  }
  const topks: number[] = []
  const picked: Hit[] = []
  for (let q = 0; q < nq; q++) {
    const merged = mergeTopK(perQuery[q]!, k, better).slice(spec.offset)
    topks.push(merged.length)
    for (const h of merged) picked.push(h)
  }
  return {
    chunks,
    topks,
    scores: Float32Array.from(picked, (h) => h.score),
    chunk: Int32Array.from(picked, (h) => h.chunk),
    row: Int32Array.from(picked, (h) => h.row),
  }
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

function columnRowCount(col: VectorColumn): number {
  switch (col.type) {
    case 'SparseFloatVector':
      return col.data.length
    case 'BinaryVector':
      return col.data.length / (col.dim / 8)
    default:
      return col.data.length / col.dim
  }
}
