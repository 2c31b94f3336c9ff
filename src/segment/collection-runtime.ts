/** A collection's in-memory replica: its shards and which flushed segments are loaded. */
import type { CollectionInfo, SegmentInfo } from '../catalog/model.js'
import { primaryField, type FieldSchema } from '../schema/types.js'
import { ShardReplica } from './shard.js'

export class CollectionRuntime {
  info: CollectionInfo
  readonly shards: ShardReplica[]
  /** Flushed segments whose rows are in memory. */
  readonly loadedSegments = new Set<bigint>()
  /**
   * Every flushed segment of the collection as this replica has applied the catalog (loaded here or
   * not). A cluster query node holds only its share; the rest are other nodes' to search.
   */
  readonly flushed = new Map<bigint, SegmentInfo>()

  constructor(info: CollectionInfo, checkpoints: (shard: number) => bigint, segmentMaxRows: number) {
    this.info = info
    const pk = primaryField(info.schema).name
    this.shards = Array.from({ length: info.shardsNum }, (_, i) => new ShardReplica(i, pk, checkpoints(i), segmentMaxRows))
  }

  get pkField(): FieldSchema {
    return primaryField(this.info.schema)
  }
}
