/**
 * The chunk walk every read shares: for each readable chunk of the requested partitions, the rows
 * visible at the snapshot timestamp AND the compiled filter, as one bitset. The executor's search
 * variants (plain, grouped, iterator pages, primary-key lookup) all start here so MVCC and filter
 * semantics cannot drift between them.
 */
import type { Bitset } from '../common/bitset.js'
import type { Timestamp } from '../common/tso.js'
import { evaluateFilter, type FilterPlan } from '../expr/index.js'
import type { VectorColumn } from '../schema/columns.js'
import type { CollectionRuntime } from '../segment/collection-runtime.js'
import type { RowChunk, Segment } from '../segment/segment.js'

export interface ScanSpec {
  readonly ts: Timestamp
  readonly filter?: FilterPlan
  readonly partitionIds?: ReadonlySet<bigint>
}

export interface ChunkScan {
  readonly seg: Segment
  readonly chunk: RowChunk
  readonly allow: Bitset
}

export function* scanChunks(rt: CollectionRuntime, spec: ScanSpec): Iterable<ChunkScan> {
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
