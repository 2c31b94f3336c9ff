import assert from 'node:assert/strict'
import { it } from 'node:test'
import { DbError } from '../common/errors.js'
import { TsoAllocator } from '../common/tso.js'
import { ChannelSet } from './channel-set.js'
import type { DataPlane } from './data-plane.js'

/** A plane that records what reached it. */
function plane(name: string, seen: string[]): DataPlane {
  return {
    insert: async (id: bigint) => (seen.push(`${name}:insert:${id}`), 7n),
    delete: async (id: bigint) => (seen.push(`${name}:delete:${id}`), 8n),
    flush: async (ids?: readonly bigint[]) => (seen.push(`${name}:flush:${ids?.join(',') ?? 'all'}`), { flushTs: name === 'a' ? 10n : 20n, segments: new Map((ids ?? []).map((i) => [i, [i * 100n]])) }),
    compact: async () => 1,
    stats: () => ({ collections: 1, growingRows: 5, walPending: 0 }),
    onFlushed: () => undefined,
    setSegmentLoader: () => undefined,
  } as unknown as DataPlane
}

it('routes each collection to the plane of its channel, splits flushes and refuses channels it does not own', async () => {
  const seen: string[] = []
  const set = new ChannelSet((id) => (id % 2n === 0n ? 'a' : 'b'), new TsoAllocator())
  set.add('a', plane('a', seen))
  set.add('b', plane('b', seen))
  await set.insert(4n, { numRows: 0, columns: new Map(), primaryKeys: [] }, undefined, { upsert: false })
  await set.delete(5n, [])
  const f = await set.flush([2n, 3n, 6n])
  assert.deepEqual(seen, ['a:insert:4', 'b:delete:5', 'a:flush:2,6', 'b:flush:3'])
  assert.equal(f.flushTs, 20n)
  assert.deepEqual([...f.segments.keys()].sort(), [2n, 3n, 6n])
  assert.equal(await set.compact(), 2)
  assert.equal(set.stats().growingRows, 10)
  set.remove('b')
  assert.deepEqual(set.channels(), ['a'])
  await assert.rejects(set.insert(7n, { numRows: 0, columns: new Map(), primaryKeys: [] }, undefined, { upsert: false }), (e: unknown) => e instanceof DbError && e.kind === 'ServiceUnavailable' && /does not own WAL channel b/.test(e.message))
})
