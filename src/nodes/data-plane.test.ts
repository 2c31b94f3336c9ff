import assert from 'node:assert/strict'
import { it } from 'node:test'
import { Catalog } from '../catalog/catalog.js'
import type { CollectionInfo } from '../catalog/model.js'
import { silentLogger } from '../common/log.js'
import { TsoAllocator } from '../common/tso.js'
import { MemoryMetaStore, MemoryObjectStore, MemoryWalProvider } from '../infra/index.js'
import { DataPlane } from './data-plane.js'

const config = { segmentMaxRows: 1000, flushIntervalMs: 60_000, compactionIntervalMs: 60_000 }

function collection(id: bigint): CollectionInfo {
  const field = (fieldId: number, name: string, dataType: 'Int64' | 'FloatVector', extra: object) => ({
    fieldId, name, description: '', dataType, isPrimaryKey: dataType === 'Int64', autoId: false, typeParams: {}, nullable: false,
    isDynamic: false, isPartitionKey: false, isClusteringKey: false, ...extra,
  })
  return {
    id, dbId: 1n, name: 'c', shardsNum: 1, consistencyLevel: 'Strong', properties: {}, createdTs: 1n, updateTs: 1n,
    partitions: [{ id: id + 1n, name: '_default', createdTs: 1n }], indexes: [], numPartitions: 0,
    schema: { name: 'c', description: '', enableDynamicField: false, functions: [], fields: [field(100, 'id', 'Int64', {}), field(101, 'v', 'FloatVector', { dim: 2 })] },
  } as unknown as CollectionInfo
}

it('refuses to own a WAL that is behind the catalog checkpoints (a broker that lost its data)', async () => {
  const meta = new MemoryMetaStore()
  const catalog = new Catalog(meta)
  await catalog.load()
  await catalog.putCollection(collection(1000n))
  await catalog.commitFlush({ segments: [], deltalogs: [], checkpoints: [{ collectionId: 1000n, shard: 0, offset: 42n, ts: 5n }] })
  const wal = await new MemoryWalProvider().open('dml_0')
  const data = new DataPlane({ catalog, objects: new MemoryObjectStore(), wal, tso: new TsoAllocator(), log: silentLogger(), config })
  await assert.rejects(data.recover(), (e: Error & { kind?: string }) => e.kind === 'DataCorrupted' && /ends at offset 0 but the catalog has flushed up to 42/.test(e.message))
})

it('owns a WAL that is at or past every checkpoint', async () => {
  const meta = new MemoryMetaStore()
  const catalog = new Catalog(meta)
  await catalog.load()
  await catalog.putCollection(collection(1000n))
  await catalog.commitFlush({ segments: [], deltalogs: [], checkpoints: [{ collectionId: 1000n, shard: 0, offset: 2n, ts: 5n }] })
  const wal = await new MemoryWalProvider().open('dml_0')
  await wal.appendBatch([new Uint8Array([1]), new Uint8Array([2])])
  await wal.truncate(2n)
  const data = new DataPlane({ catalog, objects: new MemoryObjectStore(), wal, tso: new TsoAllocator(), log: silentLogger(), config })
  const stats = await data.recover()
  assert.equal(stats.collections, 1)
  await data.stop()
})

it('a caught-up follower serves Bounded reads without asking the broker again; Strong reads always ask', async () => {
  const meta = new MemoryMetaStore()
  const catalog = new Catalog(meta)
  await catalog.load()
  await catalog.putCollection(collection(1000n))
  const wals = new MemoryWalProvider()
  const inner = await wals.openReader('dml_0')
  let tails = 0
  const reader = { channel: inner.channel, tail: () => (tails++, inner.tail()), follow: inner.follow.bind(inner) }
  const tso = new TsoAllocator()
  const data = new DataPlane({ catalog, objects: new MemoryObjectStore(), tso, log: silentLogger(), config })
  await data.recoverAsFollower(reader)
  try {
    const before = tails
    const strong1 = tso.next()
    await data.readTimestamp(strong1)
    assert.equal(tails, before + 1)
    // Bounded: a guarantee older than the moment the replica proved itself caught up.
    await data.readTimestamp(strong1 - 1n)
    await data.readTimestamp(strong1 - 1n)
    assert.equal(tails, before + 1)
    await data.readTimestamp(tso.next())
    assert.equal(tails, before + 2)
  } finally {
    await data.stop()
  }
})
