import assert from 'node:assert/strict'
import { it } from 'node:test'
import { Catalog } from '../catalog/catalog.js'
import { silentLogger } from '../common/log.js'
import { TsoAllocator } from '../common/tso.js'
import { MemoryMetaStore, MemoryObjectStore, MemoryWalProvider } from '../infra/index.js'
import { DataPlane } from './data-plane.js'
import { fixtureCollection, fixtureRows } from './plane-fixture.js'

const config = { segmentMaxRows: 1000, flushIntervalMs: 60_000, compactionIntervalMs: 60_000 }


it('refuses to own a WAL that is behind the catalog checkpoints (a broker that lost its data)', async () => {
  const meta = new MemoryMetaStore()
  const catalog = new Catalog(meta)
  await catalog.load()
  await catalog.putCollection(fixtureCollection(1000n))
  await catalog.commitFlush({ segments: [], deltalogs: [], checkpoints: [{ collectionId: 1000n, shard: 0, offset: 42n, ts: 5n }] })
  const wal = await new MemoryWalProvider().open('dml_0')
  const data = new DataPlane({ catalog, objects: new MemoryObjectStore(), wal, tso: new TsoAllocator(), log: silentLogger(), config })
  await assert.rejects(data.recover(), (e: Error & { kind?: string }) => e.kind === 'DataCorrupted' && /ends at offset 0 but the catalog has flushed up to 42/.test(e.message))
})

it('owns a WAL that is at or past every checkpoint', async () => {
  const meta = new MemoryMetaStore()
  const catalog = new Catalog(meta)
  await catalog.load()
  await catalog.putCollection(fixtureCollection(1000n))
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
  await catalog.putCollection(fixtureCollection(1000n))
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

it('several channels: each owner keeps only its channel\'s collections; a follower reads each collection from its channel', async () => {
  const meta = new MemoryMetaStore()
  const catalog = new Catalog(meta)
  await catalog.load()
  await catalog.putCollection(fixtureCollection(1000n))
  await catalog.putCollection(fixtureCollection(2000n))
  const channelOf = (id: bigint) => (id === 1000n ? 'dml_a' : 'dml_b')
  const wals = new MemoryWalProvider()
  const objects = new MemoryObjectStore()
  const tso = new TsoAllocator()
  const owner = async (channel: string) => {
    const plane = new DataPlane({ catalog, objects, wal: await wals.open(channel), tso, channelOf, log: silentLogger(), config })
    await plane.recover()
    return plane
  }
  const a = await owner('dml_a')
  const b = await owner('dml_b')
  const follower = new DataPlane({ catalog, objects, tso, channelOf, log: silentLogger(), config })
  try {
    await a.insert(1000n, fixtureRows(0, 3), undefined, { upsert: false })
    await b.insert(2000n, fixtureRows(0, 5), undefined, { upsert: false })
    // Channel b is flushed (its checkpoint moves past its first entry) and written again; the
    // follower must replay each channel from that channel's own checkpoint.
    await b.flush([2000n])
    await b.insert(2000n, fixtureRows(5, 1), undefined, { upsert: false })
    assert.throws(() => a.runtime(2000n), /collection id 2000/)
    await assert.rejects(a.insert(2000n, fixtureRows(9, 1), undefined, { upsert: false }), /collection id 2000/)
    await follower.recoverAsFollower(new Map([['dml_a', await wals.openReader('dml_a')], ['dml_b', await wals.openReader('dml_b')]]))
    // Later writes on each channel reach the follower; each read waits on its own channel.
    const t1 = await a.insert(1000n, fixtureRows(10, 2), undefined, { upsert: false })
    const t2 = await b.delete(2000n, BigInt64Array.of(0n, 1n))
    const at1 = await follower.readTimestamp(t1, 1000n)
    const at2 = await follower.readTimestamp(t2, 2000n)
    assert.ok(at1 >= t1 && at2 >= t2)
    assert.equal(follower.rowCount(1000n, at1), 5)
    // Channel b: the 5 flushed rows count once, by the segment's size (the collection is not
    // loaded here, so the segment is not read and the later delete not subtracted), plus the row
    // written after the flush, replayed from b's truncated log after b's checkpoint.
    assert.equal(follower.rowCount(2000n, at2), 6)
  } finally {
    await follower.stop()
    await a.stop()
    await b.stop()
  }
})
