/**
 * A data node's rows when it owns several WAL channels: one DataPlane per owned channel, each
 * holding the collections that map onto its channel, behind the one DataAccess the access layer
 * and the index service use. A request for a collection whose channel this node does not own (it
 * was handed to another node, or the proxy's view is behind) fails with a retriable error.
 */
import type { SegmentInfo } from '../catalog/model.js'
import { DbError } from '../common/errors.js'
import type { Timestamp, TsoAllocator } from '../common/tso.js'
import type { CollectionRuntime } from '../segment/collection-runtime.js'
import type { Segment } from '../segment/segment.js'
import type { DataAccess, DataPlane, RowBatch, SegmentListing } from './data-plane.js'
import type { PrimaryKeys } from '../storage/dml-message.js'

export class ChannelSet implements DataAccess {
  private readonly planes = new Map<string, DataPlane>()
  private readonly flushListeners: ((collectionIds: bigint[]) => void)[] = []
  private loader: ((rt: CollectionRuntime, seg: Segment) => Promise<void>) | undefined
  private readonly channelOf: (collectionId: bigint) => string
  private readonly tso: TsoAllocator

  constructor(channelOf: (collectionId: bigint) => string, tso: TsoAllocator) {
    this.channelOf = channelOf
    this.tso = tso
  }

  /** Starts serving a channel this node now owns (its plane recovered). */
  add(channel: string, plane: DataPlane): void {
    for (const fn of this.flushListeners) plane.onFlushed(fn)
    if (this.loader) plane.setSegmentLoader(this.loader)
    this.planes.set(channel, plane)
  }

  /** Stops routing to a channel (handed over); the caller stops its plane. */
  remove(channel: string): DataPlane | undefined {
    const p = this.planes.get(channel)
    this.planes.delete(channel)
    return p
  }

  channels(): string[] {
    return [...this.planes.keys()].sort()
  }

  all(): DataPlane[] {
    return [...this.planes.values()]
  }

  private planeOf(collectionId: bigint): DataPlane {
    const ch = this.channelOf(collectionId)
    const p = this.planes.get(ch)
    if (!p) throw new DbError('ServiceUnavailable', `this data node does not own WAL channel ${ch} (collection ${collectionId}); retry through a proxy`)
    return p
  }

  /** Planes for these collections (all owned planes when undefined), with their collections. */
  private group(collectionIds?: readonly bigint[]): [DataPlane, bigint[] | undefined][] {
    if (!collectionIds) return this.all().map((p) => [p, undefined])
    const m = new Map<DataPlane, bigint[]>()
    for (const id of collectionIds) {
      const p = this.planeOf(id)
      m.set(p, [...(m.get(p) ?? []), id])
    }
    return [...m]
  }

  async insert(collectionId: bigint, batch: RowBatch, partitionId: bigint | undefined, opts: { upsert: boolean }): Promise<Timestamp> {
    return this.planeOf(collectionId).insert(collectionId, batch, partitionId, opts)
  }

  async delete(collectionId: bigint, pks: PrimaryKeys): Promise<Timestamp> {
    return this.planeOf(collectionId).delete(collectionId, pks)
  }

  async flush(collectionIds?: readonly bigint[]): Promise<{ flushTs: Timestamp; segments: Map<bigint, bigint[]> }> {
    const parts = await Promise.all(this.group(collectionIds).map(([p, ids]) => p.flush(ids)))
    const segments = new Map<bigint, bigint[]>()
    let flushTs = 0n
    for (const r of parts) {
      if (r.flushTs > flushTs) flushTs = r.flushTs
      for (const [k, v] of r.segments) segments.set(k, v)
    }
    return { flushTs: flushTs || this.tso.next(), segments }
  }

  async compact(collectionIds?: readonly bigint[], opts: { force?: boolean } = {}): Promise<number> {
    const parts = await Promise.all(this.group(collectionIds).map(([p, ids]) => p.compact(ids, opts)))
    return parts.reduce((a, x) => a + x, 0)
  }

  runtime(collectionId: bigint): CollectionRuntime {
    return this.planeOf(collectionId).runtime(collectionId)
  }

  async readTimestamp(guarantee: Timestamp, collectionId?: bigint): Promise<Timestamp> {
    if (collectionId !== undefined) return this.planeOf(collectionId).readTimestamp(guarantee, collectionId)
    const at = await Promise.all(this.all().map((p) => p.readTimestamp(guarantee)))
    return at.length > 0 ? at.reduce((a, x) => (x < a ? x : a)) : guarantee
  }

  rowCount(collectionId: bigint, visibleAt: Timestamp, partitionIds?: ReadonlySet<bigint>): number {
    return this.planeOf(collectionId).rowCount(collectionId, visibleAt, partitionIds)
  }

  now(): Timestamp {
    return this.tso.next()
  }

  stats(): { collections: number; growingRows: number; walPending: number } {
    const out = { collections: 0, growingRows: 0, walPending: 0 }
    for (const p of this.all()) {
      const s = p.stats()
      out.collections += s.collections
      out.growingRows += s.growingRows
      out.walPending += s.walPending
    }
    return out
  }

  segmentStats(): ReturnType<DataPlane['segmentStats']> {
    return this.all().flatMap((p) => p.segmentStats())
  }

  segmentInfos(collectionId: bigint): SegmentListing[] {
    return this.planeOf(collectionId).segmentInfos(collectionId)
  }

  otherShares(collectionId: bigint, partitionIds?: ReadonlySet<bigint>): SegmentInfo[] {
    return this.planeOf(collectionId).otherShares(collectionId, partitionIds)
  }

  async awaitSegments(collectionId: bigint, ids: readonly bigint[], timeoutMs: number): Promise<void> {
    return this.planeOf(collectionId).awaitSegments(collectionId, ids, timeoutMs)
  }

  async awaitApplied(ts: Timestamp, timeoutMs: number, collectionId: bigint): Promise<void> {
    return this.planeOf(collectionId).awaitApplied(ts, timeoutMs, collectionId)
  }

  checkSegments(collectionId: bigint, ids: readonly bigint[], loading?: boolean): void {
    this.planeOf(collectionId).checkSegments(collectionId, ids, loading)
  }

  shareEpoch(collectionId: bigint): string {
    return this.planeOf(collectionId).shareEpoch(collectionId)
  }

  onFlushed(fn: (collectionIds: bigint[]) => void): void {
    this.flushListeners.push(fn)
    for (const p of this.all()) p.onFlushed(fn)
  }

  setSegmentLoader(fn: (rt: CollectionRuntime, seg: Segment) => Promise<void>): void {
    this.loader = fn
    for (const p of this.all()) p.setSegmentLoader(fn)
  }
}
