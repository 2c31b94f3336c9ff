import assert from 'node:assert/strict'
import { it } from 'node:test'
import { Catalog } from '../catalog/catalog.js'
import { DbError } from '../common/errors.js'
import { silentLogger } from '../common/log.js'
import { TsoAllocator } from '../common/tso.js'
import { MemoryMetaStore, MemoryObjectStore, MemoryWalProvider } from '../infra/index.js'
import { ChannelSet } from './channel-set.js'
import { DataPlane } from './data-plane.js'
import { fixtureCollection, fixtureRows } from './plane-fixture.js'

const config = { segmentMaxRows: 1000, flushIntervalMs: 60_000, compactionIntervalMs: 60_000, holdFlushed: false }



it('routes each collection to the data plane of its channel, splits flushes over them and refuses channels it does not own', async () => {
  const catalog = new Catalog(new MemoryMetaStore())
  await catalog.load()
  for (const id of [1000n, 2000n, 3000n]) await catalog.putCollection(fixtureCollection(id))
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
    await set.insert(1000n, fixtureRows(0, 3), undefined, { upsert: false })
    await set.insert(2000n, fixtureRows(0, 4), undefined, { upsert: false })
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
    await assert.rejects(set.insert(2000n, fixtureRows(9, 1), undefined, { upsert: false }), (e: unknown) => e instanceof DbError && e.kind === 'ServiceUnavailable' && /does not own WAL channel b/.test(e.message))
    await assert.rejects(planes[1]!.flush(), /handed WAL channel b over/)
    await set.insert(3000n, fixtureRows(0, 1), undefined, { upsert: false })
  } finally {
    for (const p of planes) await p.stop()
  }
})
