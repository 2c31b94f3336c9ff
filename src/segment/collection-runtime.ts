/** A collection's in-memory replica: its shards and which flushed segments are loaded. */
import type { CollectionInfo } from '../catalog/model.js'
import { primaryField, type FieldSchema } from '../schema/types.js'
import { ShardReplica } from './shard.js'

export class CollectionRuntime {
  info: CollectionInfo
  readonly shards: ShardReplica[]
  /** Flushed segments whose rows are in memory. */
  readonly loadedSegments = new Set<bigint>()

  constructor(info: CollectionInfo, checkpoints: (shard: number) => bigint, segmentMaxRows: number) {
    this.info = info
    const pk = primaryField(info.schema).name
    this.shards = Array.from({ length: info.shardsNum }, (_, i) => new ShardReplica(i, pk, checkpoints(i), segmentMaxRows))
  }

  get pkField(): FieldSchema {
    return primaryField(this.info.schema)
  }
}
