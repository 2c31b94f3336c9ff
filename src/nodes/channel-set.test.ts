import assert from 'node:assert/strict'
import { it } from 'node:test'
import { Catalog } from '../catalog/catalog.js'
import type { CollectionInfo } from '../catalog/model.js'
import { DbError } from '../common/errors.js'
import { silentLogger } from '../common/log.js'
import { TsoAllocator } from '../common/tso.js'
import { MemoryMetaStore, MemoryObjectStore, MemoryWalProvider } from '../infra/index.js'
import { ChannelSet } from './channel-set.js'
import { DataPlane } from './data-plane.js'

const config = { segmentMaxRows: 1000, flushIntervalMs: 60_000, compactionIntervalMs: 60_000, holdFlushed: false }

function collection(id: bigint): CollectionInfo {
  const field = (fieldId: number, name: string, dataType: 'Int64' | 'FloatVector', extra: object) => ({
    fieldId, name, description: '', dataType, isPrimaryKey: dataType === 'Int64', autoId: false, typeParams: {}, nullable: false,
    isDynamic: false, isPartitionKey: false, isClusteringKey: false, ...extra,
  })
  return {
    id, dbId: 1n, name: `c${id}`, shardsNum: 1, consistencyLevel: 'Strong', properties: {}, createdTs: 1n, updateTs: 1n,
    partitions: [{ id: id + 1n, name: '_default', createdTs: 1n }], indexes: [], numPartitions: 0,
    schema: { name: `c${id}`, description: '', enableDynamicField: false, functions: [], fields: [field(100, 'id', 'Int64', {}), field(101, 'v', 'FloatVector', { dim: 2 })] },
  } as unknown as CollectionInfo
}

const rows = (from: number, n: number) => {
  const ids = BigInt64Array.from({ length: n }, (_, i) => BigInt(from + i))
  return { numRows: n, primaryKeys: ids, columns: new Map<string, never>([['id', { type: 'Int64', data: ids } as never], ['v', { type: 'FloatVector', dim: 2, data: new Float32Array(n * 2) } as never]]) }
}

it('routes each collection to the data plane of its channel, splits flushes over them and refuses channels it does not own', async () => {
  const catalog = new Catalog(new MemoryMetaStore())
  await catalog.load()
  for (const id of [1000n, 2000n, 3000n]) await catalog.putCollection(collection(id))
  const channelOf = (id: bigint) => (id === 2000n ? 'b' : 'a')
  const tso = new TsoAllocator()
  const wals = new MemoryWalProvider()
  const objects = new MemoryObjectStore()
  const set = new ChannelSet(channelOf, tso)
  const flushed: bigint[][] = []
  set.onFlushed((ids) => flushed.push(ids))
  const planes: DataPlane[] = []
  for (const ch of ['a', 'b']) {
    const plane = new DataPlane({ catalog, objects, wal: await wals.open(ch), tso, channelOf, log: silentLogger(), config })
    await plane.recover()
    set.add(ch, plane)
    planes.push(plane)
  }
  try {
    await set.insert(1000n, rows(0, 3), undefined, { upsert: false })
    await set.insert(2000n, rows(0, 4), undefined, { upsert: false })
    await set.delete(2000n, BigInt64Array.of(0n))
    assert.equal(set.stats().growingRows, 7)
    assert.equal(set.rowCount(2000n, await set.readTimestamp(set.now(), 2000n)), 3)
    // Each plane holds only its channel's collections.
    assert.throws(() => planes[0]!.runtime(2000n), /collection id 2000/)
    const f = await set.flush([1000n, 2000n])
    assert.deepEqual([...f.segments.keys()].sort(), [1000n, 2000n])
    assert.equal(catalog.segmentsOf(1000n).length + catalog.segmentsOf(2000n).length, 2)
    assert.deepEqual(flushed.flat().sort(), [1000n, 2000n])
    // A channel handed over: its collections are refused before anything is written.
    await set.remove('b')!.retire()
    assert.deepEqual(set.channels(), ['a'])
    await assert.rejects(set.insert(2000n, rows(9, 1), undefined, { upsert: false }), (e: unknown) => e instanceof DbError && e.kind === 'ServiceUnavailable' && /does not own WAL channel b/.test(e.message))
    await assert.rejects(planes[1]!.flush(), /handed WAL channel b over/)
    await set.insert(3000n, rows(0, 1), undefined, { upsert: false })
  } finally {
    for (const p of planes) await p.stop()
  }
})
