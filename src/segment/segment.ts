/**
 * Segments hold rows as a list of immutable columnar chunks plus MVCC metadata. A growing segment
 * receives one chunk per insert message; a sealed/flushed one loaded from storage is a single chunk.
 * Chunks are never mutated after creation except for their delete timestamps, so evaluators may
 * cache per-chunk work keyed by the chunk.
 */
import { Bitset } from '../common/bitset.js'
import type { Timestamp } from '../common/tso.js'
import type { Column, ColumnChunk } from '../schema/columns.js'
import type { PrimaryKeys } from '../storage/dml-message.js'
import type { MetricType, VectorIndex } from '../index/index.js'

export type SegmentState = 'growing' | 'sealed' | 'flushed'

export class RowChunk implements ColumnChunk {
  readonly numRows: number
  readonly columns: ReadonlyMap<string, Column>
  readonly pks: PrimaryKeys
  /** Insert timestamp of each row. */
  readonly timestamps: BigInt64Array
  readonly minTs: Timestamp
  readonly maxTs: Timestamp
  /** Per-row delete timestamp (0 = live), allocated on the first delete that hits this chunk. */
  private deleteTs: BigInt64Array | undefined
  private readonly deletedRows: number[] = []

  constructor(columns: ReadonlyMap<string, Column>, numRows: number, pks: PrimaryKeys, timestamps: BigInt64Array) {
    this.columns = columns
    this.numRows = numRows
    this.pks = pks
    this.timestamps = timestamps
    let min = numRows > 0 ? timestamps[0]! : 0n
    let max = min
    for (let i = 1; i < numRows; i++) {
      const t = timestamps[i]!
      if (t < min) min = t
      if (t > max) max = t
    }
    this.minTs = min
    this.maxTs = max
  }

  /**
   * Marks a row deleted at `ts` if it was written strictly before `ts`. Keeps the earliest delete:
   * a row once deleted stays deleted for every later snapshot.
   */
  markDeleted(row: number, ts: Timestamp): void {
    if (this.timestamps[row]! >= ts) return
    if (!this.deleteTs) this.deleteTs = new BigInt64Array(this.numRows)
    const cur = this.deleteTs[row]!
    if (cur === 0n) {
      this.deleteTs[row] = ts
      this.deletedRows.push(row)
    } else if (ts < cur) {
      this.deleteTs[row] = ts
    }
  }

  /** Visits each row deleted at some timestamp, with that timestamp. */
  forEachDeleted(fn: (row: number, ts: Timestamp) => void): void {
    const d = this.deleteTs
    if (d) for (const r of this.deletedRows) fn(r, d[r]!)
  }

  get deletedCount(): number {
    return this.deletedRows.length
  }

  /** Rows visible in the snapshot at `ts`: inserted at or before it and not deleted at or before it. */
  visibility(ts: Timestamp): Bitset {
    if (this.minTs > ts) return new Bitset(this.numRows)
    let bits: Bitset
    if (this.maxTs <= ts) {
      bits = Bitset.full(this.numRows)
    } else {
      bits = new Bitset(this.numRows)
      const t = this.timestamps
      for (let i = 0; i < this.numRows; i++) if (t[i]! <= ts) bits.set(i)
    }
    const d = this.deleteTs
    if (d) for (const r of this.deletedRows) if (d[r]! <= ts) bits.clear(r)
    return bits
  }

  /** Delete records that hold at `ts`, for persisting with the segment. */
  deleteTimestamp(row: number): Timestamp {
    return this.deleteTs ? this.deleteTs[row]! : 0n
  }
}

/** A built index attached to a flushed segment (whose rows then form a single chunk). */
export interface AttachedIndex {
  readonly indexId: bigint
  readonly indexType: string
  readonly metric: MetricType
  readonly index: VectorIndex
}

export class Segment {
  readonly id: bigint
  readonly partitionId: bigint
  readonly shard: number
  state: SegmentState
  readonly chunks: RowChunk[] = []
  numRows = 0
  /** Vector indexes by field name. */
  readonly indexes = new Map<string, AttachedIndex>()

  constructor(id: bigint, partitionId: bigint, shard: number, state: SegmentState) {
    this.id = id
    this.partitionId = partitionId
    this.shard = shard
    this.state = state
  }

  append(chunk: RowChunk): void {
    this.chunks.push(chunk)
    this.numRows += chunk.numRows
  }
}
