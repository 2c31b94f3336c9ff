/**
 * The ObjectStore conformance suite: every adapter (memory, local directory, later S3) runs it
 * through `describeObjectStore` from its colocated test.
 */
import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import type { ObjectInfo, ObjectStore } from '../../src/infra/object-store/object-store.js'
import { rejectsWith, instanceRunner, type AdapterFactory } from './harness.js'

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s)
const text = (b: Uint8Array): string => new TextDecoder().decode(b)

async function collect(it: AsyncIterable<ObjectInfo>): Promise<ObjectInfo[]> {
  const out: ObjectInfo[] = []
  for await (const o of it) out.push(o)
  return out
}

async function keys(store: ObjectStore, prefix: string): Promise<string[]> {
  return (await collect(store.list(prefix))).map((o) => o.key)
}

export function describeObjectStore(name: string, factory: AdapterFactory<ObjectStore>): void {
  const withStore = instanceRunner(factory)

  describe(`ObjectStore conformance: ${name}`, () => {
    after(() => factory.cleanup?.())

    describe('put / get / stat', () => {
      it('round-trips bodies, including empty and binary ones', () =>
        withStore(async (s) => {
          const all = Uint8Array.from({ length: 256 }, (_, i) => i)
          await s.put('bin/all-bytes', all)
          await s.put('empty', new Uint8Array(0))
          await s.put('insert_log/1/2/3/100/1', bytes('hello'))
          assert.deepEqual(await s.get('bin/all-bytes'), all)
          assert.equal((await s.get('empty')).length, 0)
          assert.equal(text(await s.get('insert_log/1/2/3/100/1')), 'hello')
        }))

      it('round-trips a multi-megabyte body', () =>
        withStore(async (s) => {
          const big = new Uint8Array(3 * 1024 * 1024 + 7)
          for (let i = 0; i < big.length; i++) big[i] = (i * 31) & 0xff
          await s.put('big', big)
          assert.deepEqual(await s.get('big'), big)
          assert.equal((await s.stat('big'))?.size, big.length)
        }))

      it('replaces an existing object', () =>
        withStore(async (s) => {
          await s.put('k', bytes('first version'))
          await s.put('k', bytes('v2'))
          assert.equal(text(await s.get('k')), 'v2')
          assert.equal((await s.stat('k'))?.size, 2)
        }))

      it('is not affected by the caller reusing its buffers', () =>
        withStore(async (s) => {
          const body = bytes('abc')
          await s.put('k', body)
          body[0] = 0x7a
          const got = await s.get('k')
          assert.equal(text(got), 'abc')
          got[1] = 0x7a
          assert.equal(text(await s.get('k')), 'abc')
        }))

      it('get of a missing object is IoKeyNotFound; stat is undefined', () =>
        withStore(async (s) => {
          await rejectsWith(s.get('no/such/key'), 'IoKeyNotFound')
          assert.equal(await s.stat('no/such/key'), undefined)
          await s.put('dir/child', bytes('x'))
          // A key prefix is not an object.
          await rejectsWith(s.get('dir'), 'IoKeyNotFound')
          assert.equal(await s.stat('dir'), undefined)
        }))

      it('stat reports size and a recent lastModifiedMs', () =>
        withStore(async (s) => {
          const before = Date.now()
          await s.put('k', bytes('12345'))
          const info = await s.stat('k')
          assert.equal(info?.key, 'k')
          assert.equal(info?.size, 5)
          assert.ok(
            info!.lastModifiedMs >= before - 2000 && info!.lastModifiedMs <= Date.now() + 2000,
            String(info!.lastModifiedMs),
          )
        }))

      it('rejects malformed keys', () =>
        withStore(async (s) => {
          for (const key of ['', '/abs', 'a/../b', '..', 'a/./b', 'a//b', 'trailing/', 'nul\0']) {
            await rejectsWith(s.put(key, bytes('x')), 'ParameterInvalid')
            await rejectsWith(s.get(key), 'ParameterInvalid')
          }
          await rejectsWith(collect(s.list('/abs')), 'ParameterInvalid')
          await rejectsWith(collect(s.list('../')), 'ParameterInvalid')
        }))

      it('readers see the old or the new body, never a mix', () =>
        withStore(async (s) => {
          const size = 256 * 1024
          const a = new Uint8Array(size).fill(0x61)
          const b = new Uint8Array(size).fill(0x62)
          await s.put('flip', a)
          const writes = (async () => {
            for (let i = 0; i < 20; i++) await s.put('flip', i % 2 ? a : b)
          })()
          const reads = (async () => {
            for (let i = 0; i < 40; i++) {
              const got = await s.get('flip')
              assert.equal(got.length, size)
              assert.ok(
                got.every((x) => x === got[0]),
                'torn read',
              )
            }
          })()
          await Promise.all([writes, reads])
        }))
    })

    describe('ranges', () => {
      it('reads offset/length ranges, clamping the length at the end', () =>
        withStore(async (s) => {
          await s.put('r', bytes('0123456789'))
          assert.equal(text(await s.get('r', { range: { offset: 2, length: 3 } })), '234')
          assert.equal(text(await s.get('r', { range: { offset: 7 } })), '789')
          assert.equal(text(await s.get('r', { range: { offset: 8, length: 100 } })), '89')
          assert.equal(text(await s.get('r', { range: { offset: 0, length: 0 } })), '')
          assert.equal(text(await s.get('r', { range: { offset: 10 } })), '')
        }))

      it('rejects a range starting outside the object, or negative', () =>
        withStore(async (s) => {
          await s.put('r', bytes('0123456789'))
          await rejectsWith(s.get('r', { range: { offset: 11 } }), 'ParameterInvalid')
          await rejectsWith(s.get('r', { range: { offset: -1 } }), 'ParameterInvalid')
          await rejectsWith(s.get('r', { range: { offset: 0, length: -1 } }), 'ParameterInvalid')
          await rejectsWith(s.get('missing', { range: { offset: 0 } }), 'IoKeyNotFound')
        }))
    })

    describe('list', () => {
      it('lists recursively, sorted by key, by string prefix', () =>
        withStore(async (s) => {
          const all = ['a-b', 'a/x', 'a/y/z', 'a0', 'b/1/1', 'b/1/10', 'b/10/1', 'b/2', 'c']
          for (const k of [...all].reverse()) await s.put(k, bytes(k))
          assert.deepEqual(await keys(s, ''), all)
          assert.deepEqual(await keys(s, 'a'), ['a-b', 'a/x', 'a/y/z', 'a0'])
          assert.deepEqual(await keys(s, 'a/'), ['a/x', 'a/y/z'])
          assert.deepEqual(await keys(s, 'b/1'), ['b/1/1', 'b/1/10', 'b/10/1'])
          assert.deepEqual(await keys(s, 'b/1/'), ['b/1/1', 'b/1/10'])
          assert.deepEqual(await keys(s, 'b/1/1'), ['b/1/1', 'b/1/10'])
          assert.deepEqual(await keys(s, 'c'), ['c'])
          assert.deepEqual(await keys(s, 'nothing/'), [])
        }))

      it('reports size and lastModifiedMs like stat', () =>
        withStore(async (s) => {
          await s.put('p/one', bytes('1'))
          await s.put('p/three', bytes('333'))
          const listed = await collect(s.list('p/'))
          assert.deepEqual(
            listed.map((o) => [o.key, o.size]),
            [
              ['p/one', 1],
              ['p/three', 3],
            ],
          )
          assert.deepEqual(listed[1], await s.stat('p/three'))
        }))
    })

    describe('delete', () => {
      it('removes objects, ignores missing ones, and is idempotent', () =>
        withStore(async (s) => {
          for (const k of ['d/1', 'd/2', 'd/sub/3', 'keep']) await s.put(k, bytes(k))
          await s.delete(['d/1', 'd/sub/3', 'never/existed'])
          assert.deepEqual(await keys(s, ''), ['d/2', 'keep'])
          await s.delete(['d/1', 'd/sub/3'])
          await s.delete([])
          await rejectsWith(s.get('d/sub/3'), 'IoKeyNotFound')
          // Keys under a fully emptied prefix can be written again.
          await s.put('d/sub/3', bytes('again'))
          assert.equal(text(await s.get('d/sub/3')), 'again')
        }))

      it('concurrent puts and deletes under one prefix stay consistent', () =>
        withStore(async (s) => {
          const ks = Array.from({ length: 30 }, (_, i) => `c/${i % 3}/${i}`)
          await Promise.all(ks.map((k) => s.put(k, bytes(k))))
          await Promise.all([
            s.delete(ks.filter((_, i) => i % 2 === 0)),
            ...ks.filter((_, i) => i % 2 === 1).map((k) => s.put(k, bytes(`${k}!`))),
          ])
          const left = await keys(s, 'c/')
          assert.deepEqual(left, ks.filter((_, i) => i % 2 === 1).sort())
          for (const k of left) assert.equal(text(await s.get(k)), `${k}!`)
        }))
    })

    it('close is idempotent and later calls reject', async () => {
      const s = await factory.open()
      await s.put('k', bytes('v'))
      await s.close()
      await s.close()
      await rejectsWith(s.get('k'), 'ServiceInternal')
      await rejectsWith(s.put('k', bytes('v')), 'ServiceInternal')
    })

    const reopen = factory.reopen?.bind(factory)
    if (reopen) {
      it('persists objects across reopen', () =>
        withStore(async (s, swap) => {
          await s.put('a/b/c', bytes('persisted'))
          await s.put('a/d', bytes('too'))
          await s.delete(['a/d'])
          const s2 = await reopen(s)
          swap(s2)
          assert.equal(text(await s2.get('a/b/c')), 'persisted')
          assert.deepEqual(await keys(s2, ''), ['a/b/c'])
        }))
    }
  })
}
