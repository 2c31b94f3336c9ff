/**
 * The state of one shard (vchannel) of a collection: its segments, a primary-key index used to
 * apply deletes in O(1), and every delete record known since the beginning of time (deletes must
 * still apply to segments that are loaded later, e.g. on LoadCollection after a restart).
 *
 * Apply order is WAL order, and timestamps increase with WAL offsets, so an insert never needs
 * checking against deletes that arrived before it, except when a whole segment is loaded from
 * storage; `addLoadedSegment` does that check.
 */
import type { Timestamp } from '../common/tso.js'
import type { DeletePart, InsertPart, PrimaryKeys } from '../storage/dml-message.js'
import { RowChunk, Segment } from './segment.js'

interface RowRef {
  readonly chunk: RowChunk
  readonly row: number
}

export interface DeleteRecord {
  readonly pks: PrimaryKeys
  readonly ts: Timestamp
}

export class ShardReplica {
  readonly shard: number
  readonly pkField: string
  readonly segments = new Map<bigint, Segment>()
  private readonly growing = new Map<bigint, Segment>()
  private readonly pkIndex = new Map<bigint | string, RowRef | RowRef[]>()
  private readonly deletes = new Map<bigint | string, Timestamp[]>()
  /** Deletes applied since the last flush checkpoint; the next flush persists them as a deltalog. */
  unflushedDeletes: DeleteRecord[] = []
  /** WAL offset below which everything of this shard is in flushed segments and deltalogs. */
  checkpoint: bigint
  /** Offset of the first message applied after the checkpoint (undefined: nothing unflushed). */
  firstUnflushedOffset: bigint | undefined
  lastAppliedTs: Timestamp = 0n

  private readonly segmentMaxRows: number
  /** WAL position of each growing chunk: a follower drops them once a flush persisted their range. */
  private readonly chunkOrigin = new WeakMap<RowChunk, { offset: bigint; partIndex: number }>()

  constructor(shard: number, pkField: string, checkpoint: bigint, segmentMaxRows = 1_000_000) {
    this.shard = shard
    this.pkField = pkField
    this.checkpoint = checkpoint
    this.segmentMaxRows = segmentMaxRows
  }

  growingSegment(partitionId: bigint): Segment | undefined {
    return this.growing.get(partitionId)
  }

  /**
   * Rows go to the partition's growing segment, or to a new one when there is none (a flush sealed
   * it) or it is full. Segments are chosen here, at apply time, never before the append: a segment
   * sealed by a flush must not receive rows the flush did not write.
   */
  applyInsert(part: InsertPart, ts: Timestamp, offset: bigint, partIndex: number): void {
    this.noteApplied(offset, ts)
    let seg = this.growing.get(part.partitionId)
    if (!seg || (seg.numRows > 0 && seg.numRows + part.numRows > this.segmentMaxRows)) {
      if (seg) seg.state = 'sealed'
      seg = new Segment(segmentIdFor(offset, partIndex), part.partitionId, this.shard, 'growing')
      this.segments.set(seg.id, seg)
      this.growing.set(part.partitionId, seg)
    }
    const pkCol = part.columns.get(this.pkField)
    if (!pkCol || (pkCol.type !== 'Int64' && pkCol.type !== 'VarChar')) throw new Error(`insert part lacks primary key ${this.pkField}`)
    const timestamps = new BigInt64Array(part.numRows).fill(ts)
    const chunk = new RowChunk(part.columns, part.numRows, pkCol.data, timestamps)
    seg.append(chunk)
    this.chunkOrigin.set(chunk, { offset, partIndex })
    this.indexChunk(chunk, false)
  }

  /**
   * Follower side of a flush committed by the channel owner: rows below `checkpoint` now live in
   * the flushed segments the caller adds next, so the growing chunks holding them go. A growing
   * segment that keeps later chunks is re-opened under the ID the owner gave its successor (the
   * ID of the message that opened it), so the owner's and the follower's segment IDs stay equal.
   * Synchronous: readers see the rows either here or in the flushed segments, never both.
   */
  dropPersistedBelow(checkpoint: bigint): void {
    for (const [id, seg] of [...this.segments]) {
      if (seg.state === 'flushed') continue
      const keep = seg.chunks.filter((c) => (this.chunkOrigin.get(c)?.offset ?? checkpoint) >= checkpoint)
      if (keep.length === seg.chunks.length) continue
      this.dropSegments([id])
      if (this.growing.get(seg.partitionId) === seg) this.growing.delete(seg.partitionId)
      if (keep.length === 0) continue
      const origin = this.chunkOrigin.get(keep[0]!)!
      const next = new Segment(segmentIdFor(origin.offset, origin.partIndex), seg.partitionId, this.shard, seg.state)
      for (const c of keep) next.append(c)
      this.segments.set(next.id, next)
      if (next.state === 'growing') this.growing.set(next.partitionId, next)
      for (const c of keep) this.indexChunk(c, false)
    }
    this.unflushedDeletes = []
    if (checkpoint > this.checkpoint) this.checkpoint = checkpoint
  }

  applyDelete(part: DeletePart, ts: Timestamp, offset: bigint): void {
    this.noteApplied(offset, ts)
    this.unflushedDeletes.push({ pks: part.pks, ts })
    this.recordDeletes(part.pks, ts)
  }

  /** Deletes read back from deltalogs at recovery: already persisted, so not "unflushed". */
  applyPersistedDeletes(rec: DeleteRecord): void {
    this.recordDeletes(rec.pks, rec.ts)
  }

  private recordDeletes(pks: PrimaryKeys, ts: Timestamp): void {
    for (let i = 0; i < pks.length; i++) {
      const pk = pks[i]!
      const list = this.deletes.get(pk)
      if (list) list.push(ts)
      else this.deletes.set(pk, [ts])
      const refs = this.pkIndex.get(pk)
      if (!refs) continue
      if (Array.isArray(refs)) for (const r of refs) r.chunk.markDeleted(r.row, ts)
      else refs.chunk.markDeleted(refs.row, ts)
    }
  }

  private noteApplied(offset: bigint, ts: Timestamp): void {
    if (this.firstUnflushedOffset === undefined) this.firstUnflushedOffset = offset
    if (ts > this.lastAppliedTs) this.lastAppliedTs = ts
  }

  private indexChunk(chunk: RowChunk, checkDeletes: boolean): void {
    const pks = chunk.pks
    const idx = this.pkIndex
    const dels = checkDeletes && this.deletes.size > 0 ? this.deletes : undefined
    for (let row = 0; row < chunk.numRows; row++) {
      const pk = pks[row]!
      const ref: RowRef = { chunk, row }
      const cur = idx.get(pk)
      if (cur === undefined) idx.set(pk, ref)
      else if (Array.isArray(cur)) cur.push(ref)
      else idx.set(pk, [cur, ref])
      if (dels) {
        const ds = dels.get(pk)
        if (ds) for (const d of ds) chunk.markDeleted(row, d)
      }
    }
  }

  /** Adds a flushed segment read from storage, applying every delete known for its keys. */
  addLoadedSegment(seg: Segment): void {
    this.segments.set(seg.id, seg)
    for (const c of seg.chunks) this.indexChunk(c, true)
  }

  /**
   * Swaps a flushed segment's many growing chunks for one merged chunk (the layout its binlogs and
   * indexes use), carrying delete marks over and re-pointing the primary-key index. Synchronous, so
   * no read or delete can observe a half-swapped segment.
   */
  replaceChunks(seg: Segment, merged: RowChunk): void {
    const base = new Map<RowChunk, number>()
    let off = 0
    for (const c of seg.chunks) {
      base.set(c, off)
      c.forEachDeleted((row, ts) => merged.markDeleted(off + row, ts))
      off += c.numRows
    }
    if (off !== merged.numRows) throw new Error(`segment ${seg.id}: merged chunk has ${merged.numRows} rows, expected ${off}`)
    const repoint = (r: RowRef): RowRef => {
      const b = base.get(r.chunk)
      return b === undefined ? r : { chunk: merged, row: b + r.row }
    }
    for (let row = 0; row < merged.numRows; row++) {
      const pk = merged.pks[row]!
      const cur = this.pkIndex.get(pk)
      if (cur === undefined) continue
      this.pkIndex.set(pk, Array.isArray(cur) ? cur.map(repoint) : repoint(cur))
    }
    seg.chunks.length = 0
    seg.chunks.push(merged)
  }

  /** Removes segments (compaction sources) and their rows' entries in the primary-key index. */
  dropSegments(ids: readonly bigint[]): void {
    for (const id of ids) {
      const seg = this.segments.get(id)
      if (!seg) continue
      this.segments.delete(id)
      for (const chunk of seg.chunks) {
        for (let row = 0; row < chunk.numRows; row++) {
          const pk = chunk.pks[row]!
          const cur = this.pkIndex.get(pk)
          if (cur === undefined) continue
          if (Array.isArray(cur)) {
            const rest = cur.filter((r) => r.chunk !== chunk)
            if (rest.length === 0) this.pkIndex.delete(pk)
            else this.pkIndex.set(pk, rest.length === 1 ? rest[0]! : rest)
          } else if (cur.chunk === chunk) {
            this.pkIndex.delete(pk)
          }
        }
      }
    }
  }

  /** Drops flushed segments' rows from memory (Release); growing data stays for the next flush. */
  releaseFlushed(): void {
    for (const [id, seg] of this.segments) if (seg.state === 'flushed') this.segments.delete(id)
    this.rebuildIndex()
  }

  private rebuildIndex(): void {
    this.pkIndex.clear()
    for (const seg of this.segments.values()) for (const c of seg.chunks) this.indexChunk(c, false)
  }

  /** Segments whose rows are in memory and may be searched. */
  *readableSegments(partitions?: ReadonlySet<bigint>): Iterable<Segment> {
    for (const seg of this.segments.values()) {
      if (partitions && !partitions.has(seg.partitionId)) continue
      yield seg
    }
  }

  /**
   * Starts a flush: seals every growing segment and returns what must be persisted up to WAL offset
   * `upTo` (exclusive). Runs synchronously so the snapshot is consistent with the apply order.
   */
  beginFlush(upTo: bigint): FlushSnapshot {
    for (const seg of this.growing.values()) seg.state = 'sealed'
    this.growing.clear()
    const segments = [...this.segments.values()].filter((s) => s.state === 'sealed')
    const deletes = this.unflushedDeletes
    this.unflushedDeletes = []
    const firstOffset = this.firstUnflushedOffset
    this.firstUnflushedOffset = undefined
    return { shard: this.shard, segments, deletes, checkpoint: upTo, firstOffset }
  }

  /** After the catalog commit: the sealed segments are now flushed. */
  completeFlush(snap: FlushSnapshot): void {
    for (const s of snap.segments) if (s.state === 'sealed') s.state = 'flushed'
    if (snap.checkpoint > this.checkpoint) this.checkpoint = snap.checkpoint
  }

  /** The flush failed before its catalog commit: put the deletes back so a retry persists them. */
  abortFlush(snap: FlushSnapshot): void {
    this.unflushedDeletes = [...snap.deletes, ...this.unflushedDeletes]
    // Its segments stay 'sealed', so the next flush writes them again.
    if (snap.firstOffset !== undefined) this.firstUnflushedOffset = snap.firstOffset
  }

}

/**
 * Growing segment IDs derive from the WAL offset of the message that opened the segment: unique
 * (offsets are never reused), needing no allocator round-trip on the apply path, and kept apart
 * from allocator IDs by the high bit.
 */
export const SEGMENT_ID_BASE = 1n << 62n
export const MAX_PARTS_PER_MESSAGE = 1 << 16

export function segmentIdFor(offset: bigint, partIndex: number): bigint {
  if (partIndex >= MAX_PARTS_PER_MESSAGE) throw new Error(`message part index ${partIndex} out of range`)
  return SEGMENT_ID_BASE + offset * BigInt(MAX_PARTS_PER_MESSAGE) + BigInt(partIndex)
}

export interface FlushSnapshot {
  readonly shard: number
  readonly segments: readonly Segment[]
  readonly deletes: readonly DeleteRecord[]
  readonly checkpoint: bigint
  /** The unflushed range started here; restored if the flush aborts so the WAL is not truncated past it. */
  readonly firstOffset: bigint | undefined
}
