/**
 * The chunk walk every read shares: for each readable chunk of the requested partitions, the rows
 * visible at the snapshot timestamp AND the compiled filter, as one bitset. The executor's search
 * variants (plain, grouped, iterator pages, primary-key lookup) all start here so MVCC and filter
 * semantics cannot drift between them.
 */
import type { Bitset } from '../common/bitset.js'
import { invalid } from '../common/errors.js'
import type { Timestamp } from '../common/tso.js'
import { evaluateFilter, type FilterPlan } from '../expr/index.js'
import type { Column, VectorColumn } from '../schema/columns.js'
import type { CollectionRuntime } from '../segment/collection-runtime.js'
import type { RowChunk, Segment } from '../segment/segment.js'

export interface ScanSpec {
  readonly ts: Timestamp
  readonly filter?: FilterPlan
  readonly partitionIds?: ReadonlySet<bigint>
  /**
   * Only these segments (a query node answering for its share of a collection spread over
   * several nodes: the delegator already read the growing rows and the other shares).
   */
  readonly segments?: ReadonlySet<bigint>
  /** Only rows whose `field` value (as a group key) is one of `values`: a spread grouping search's second round. */
  readonly keep?: { readonly field: string; readonly values: ReadonlySet<GroupKey> }
}

/** Bool as 0/1, integers as number (Int64 as bigint), VarChar as string; NULL is a group of its own. */
export type GroupKey = number | bigint | string | null

export interface ChunkScan {
  readonly seg: Segment
  readonly chunk: RowChunk
  readonly allow: Bitset
}

export function* scanChunks(rt: CollectionRuntime, spec: ScanSpec): Iterable<ChunkScan> {
  for (const shard of rt.shards) {
    for (const seg of shard.readableSegments(spec.partitionIds)) {
      if (spec.segments && !spec.segments.has(seg.id)) continue
      for (const chunk of seg.chunks) {
        if (chunk.numRows === 0) continue
        const allow = chunk.visibility(spec.ts)
        if (spec.filter) allow.and(evaluateFilter(spec.filter, chunk))
        if (spec.keep) {
          const col = chunk.columns.get(spec.keep.field)
          if (!col) throw invalid(`field ${spec.keep.field} is not loaded`)
          const values = spec.keep.values
          allow.forEach((r) => {
            if (!values.has(groupKey(col, r))) allow.clear(r)
          })
        }
        yield { seg, chunk, allow }
      }
    }
  }
}

/** Rows of a vector column (query columns included). */
export function vectorRows(col: VectorColumn): number {
  switch (col.type) {
    case 'SparseFloatVector':
      return col.data.length
    case 'BinaryVector':
      return col.data.length / (col.dim / 8)
    default:
      return col.data.length / col.dim
  }
}

/** Row `q` of a query column as a one-row column (a view: no vector data is copied). */
export function vectorRow(col: VectorColumn, q: number): VectorColumn {
  const valid = col.valid?.subarray(q, q + 1)
  if (col.type === 'SparseFloatVector') return { type: col.type, data: [col.data[q]!], valid }
  const width = col.type === 'BinaryVector' ? col.dim / 8 : col.dim
  return { ...col, data: col.data.subarray(q * width, (q + 1) * width), valid } as VectorColumn
}

export function groupKey(col: Column, row: number): GroupKey {
  if (col.valid !== undefined && col.valid[row] === 0) return null
  switch (col.type) {
    case 'Bool':
    case 'Int8':
    case 'Int16':
    case 'Int32':
    case 'Int64':
    case 'VarChar':
      return col.data[row]!
    default:
      throw invalid(`unsupported data type ${col.type} for group by operator`)
  }
}
