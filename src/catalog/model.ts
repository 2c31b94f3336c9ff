/** Catalog records: what the MetaStore holds about databases, collections and segments. */
import type { Timestamp } from '../common/tso.js'
import type { CollectionSchema } from '../schema/types.js'

export type ConsistencyLevel = 'Strong' | 'Session' | 'Bounded' | 'Eventually' | 'Customized'

export interface DatabaseInfo {
  readonly id: bigint
  readonly name: string
  readonly createdTs: Timestamp
  readonly properties: Readonly<Record<string, string>>
}

export interface PartitionInfo {
  readonly id: bigint
  readonly name: string
  readonly createdTs: Timestamp
}

export interface IndexInfo {
  readonly id: bigint
  readonly name: string
  readonly fieldName: string
  readonly fieldId: number
  readonly indexType: string
  readonly metricType: string
  /** Every user parameter as sent (index_type, metric_type, params JSON and flattened keys). */
  readonly params: Readonly<Record<string, string>>
  readonly createdTs: Timestamp
}

export interface LoadInfo {
  readonly replicaNumber: number
  /** undefined: the whole collection is loaded; otherwise only these partitions. */
  readonly partitionIds?: readonly bigint[]
  readonly loadFields?: readonly string[]
}

export interface CollectionInfo {
  readonly id: bigint
  readonly dbId: bigint
  readonly name: string
  readonly schema: CollectionSchema
  readonly shardsNum: number
  readonly consistencyLevel: ConsistencyLevel
  readonly properties: Readonly<Record<string, string>>
  readonly createdTs: Timestamp
  readonly updateTs: Timestamp
  readonly partitions: readonly PartitionInfo[]
  readonly indexes: readonly IndexInfo[]
  readonly load?: LoadInfo
  readonly numPartitions: number
}

export interface AliasInfo {
  readonly dbId: bigint
  readonly alias: string
  readonly collectionId: bigint
  readonly createdTs: Timestamp
}

export interface SegmentInfo {
  readonly id: bigint
  readonly collectionId: bigint
  readonly partitionId: bigint
  readonly shard: number
  readonly numRows: number
  /** Object key of each field's binlog, by field name; `$ts` holds the row timestamps. */
  readonly binlogs: Readonly<Record<string, string>>
  readonly sizeBytes: number
}

export interface DeltalogInfo {
  readonly id: bigint
  readonly collectionId: bigint
  readonly shard: number
  readonly key: string
  readonly numRows: number
}

export interface ShardCheckpoint {
  readonly collectionId: bigint
  readonly shard: number
  /** WAL offset: everything below it is persisted in segments and deltalogs. */
  readonly offset: bigint
  readonly ts: Timestamp
}

/** A built vector index of one flushed segment: its files in the object store. */
export interface SegmentIndexInfo {
  readonly collectionId: bigint
  readonly segmentId: bigint
  readonly indexId: bigint
  readonly fieldName: string
  readonly indexType: string
  readonly metricType: string
  readonly numRows: number
  /** File name inside the index (as the VectorIndex serialised it) -> object key. */
  readonly files: Readonly<Record<string, string>>
  readonly sizeBytes: number
  readonly buildMs: number
}
