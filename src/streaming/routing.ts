/**
 * Row routing: which shard (vchannel) a primary key lands on, and which partition a partition-key
 * value lands on. Stable across restarts and processes, since WAL replay and cluster nodes must agree.
 */
import { crc32c } from '../common/crc32.js'

/**
 * Physical WAL channels (pchannels), named as Milvus names its DML channels. A cluster has a
 * fixed number of them (`--dml-channels`, Milvus's rootCoord.dmlChannelNum); every shard
 * (vchannel) of a collection maps onto the collection's channel, picked by hashing its id, so
 * each collection is written through one channel owner and different collections spread over
 * the data nodes. The owner of a channel holds the election `channel/<name>`.
 */
export function dmlChannelName(index: number): string {
  return `by-dev-rootcoord-dml_${index}`
}

export function dmlChannelOf(collectionId: bigint, channels: number): string {
  return dmlChannelName(bucketOf(collectionId, channels))
}

export function channelElection(channel: string): string {
  return `channel/${channel}`
}

/** The first channel: the only one of a one-channel cluster, and standalone's. */
export const DML_CHANNEL = dmlChannelName(0)
export const CHANNEL_ELECTION = channelElection(DML_CHANNEL)

const enc = new TextEncoder()

/** 32-bit finalizer of murmur3: spreads sequential int64 keys evenly across shards. */
function mix32(x: number): number {
  x ^= x >>> 16
  x = Math.imul(x, 0x85ebca6b)
  x ^= x >>> 13
  x = Math.imul(x, 0xc2b2ae35)
  x ^= x >>> 16
  return x >>> 0
}

export function hashKey(key: bigint | string | number | boolean): number {
  if (typeof key === 'string') return crc32c(enc.encode(key))
  if (typeof key === 'boolean') return key ? 1 : 0
  const b = typeof key === 'bigint' ? key : BigInt(Math.trunc(key))
  const lo = Number(b & 0xffffffffn)
  const hi = Number((b >> 32n) & 0xffffffffn)
  return mix32(lo ^ mix32(hi))
}

export function bucketOf(key: bigint | string | number | boolean, buckets: number): number {
  return buckets <= 1 ? 0 : hashKey(key) % buckets
}
