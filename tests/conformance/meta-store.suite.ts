/**
 * The MetaStore conformance suite: every adapter (memory, file, later etcd) runs it through
 * `describeMetaStore` from its colocated test. Semantics follow etcd; see src/infra/meta-store.
 */
import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import type { KeyValue, MetaStore, WatchEvent } from '../../src/infra/meta-store/meta-store.js'
import {
  eventually,
  failsWith,
  rejectsWith,
  sleep,
  instanceRunner,
  type AdapterFactory,
} from './harness.js'

/** Collects watch callbacks: one array per call. */
function recorder(): {
  calls: WatchEvent[][]
  events: () => WatchEvent[]
  onEvents: (e: WatchEvent[]) => void
} {
  const calls: WatchEvent[][] = []
  return { calls, events: () => calls.flat(), onEvents: (e) => calls.push(e) }
}

const brief = (e: WatchEvent): string =>
  `${e.type} ${e.kv.key}${e.type === 'put' ? `=${e.kv.value}` : ''} @${e.kv.modRevision}`

export function describeMetaStore(name: string, factory: AdapterFactory<MetaStore>): void {
  const withStore = instanceRunner(factory)

  describe(`MetaStore conformance: ${name}`, () => {
    after(() => factory.cleanup?.())

    describe('get / put / delete', () => {
      it('returns undefined for a missing key', () =>
        withStore(async (s) => {
          assert.equal(await s.get('missing'), undefined)
        }))

      it('tracks createRevision, modRevision and version per key', () =>
        withStore(async (s) => {
          const r0 = await s.currentRevision()
          const r1 = await s.put('a', '1')
          assert.equal(r1, r0 + 1)
          assert.deepEqual(await s.get('a'), {
            key: 'a',
            value: '1',
            createRevision: r1,
            modRevision: r1,
            version: 1,
          })
          const r2 = await s.put('b', 'x')
          const r3 = await s.put('a', '2')
          assert.ok(r3 > r2 && r2 > r1)
          assert.deepEqual(await s.get('a'), {
            key: 'a',
            value: '2',
            createRevision: r1,
            modRevision: r3,
            version: 2,
          })
          assert.equal(await s.currentRevision(), r3)
        }))

      it('bumps the revision even when the value does not change', () =>
        withStore(async (s) => {
          const r1 = await s.put('a', 'same')
          const r2 = await s.put('a', 'same')
          assert.equal(r2, r1 + 1)
          assert.equal((await s.get('a'))?.version, 2)
        }))

      it('delete reports whether the key existed and bumps the revision only then', () =>
        withStore(async (s) => {
          await s.put('a', '1')
          const before = await s.currentRevision()
          assert.equal(await s.delete('nope'), false)
          assert.equal(await s.currentRevision(), before)
          assert.equal(await s.delete('a'), true)
          assert.equal(await s.currentRevision(), before + 1)
          assert.equal(await s.get('a'), undefined)
        }))

      it('recreating a deleted key starts a new life (createRevision, version 1)', () =>
        withStore(async (s) => {
          await s.put('a', '1')
          await s.put('a', '2')
          await s.delete('a')
          const r = await s.put('a', '3')
          assert.deepEqual(await s.get('a'), {
            key: 'a',
            value: '3',
            createRevision: r,
            modRevision: r,
            version: 1,
          })
        }))

      it('keeps arbitrary string values intact', () =>
        withStore(async (s) => {
          const value =
            JSON.stringify({ unicode: 'héllo ✓ 😀', nl: 'a\nb', empty: '' }) + '\u0000tail'
          await s.put('k', value)
          await s.put('empty', '')
          assert.equal((await s.get('k'))?.value, value)
          assert.equal((await s.get('empty'))?.value, '')
        }))

      it('rejects an empty key', () =>
        withStore(async (s) => {
          await rejectsWith(s.put('', 'v'), 'ParameterInvalid')
        }))
    })

    describe('scan / deletePrefix', () => {
      it('scans a prefix in key order, with a limit', () =>
        withStore(async (s) => {
          for (const k of ['c/2', 'a/1', 'c/10', 'b', 'c/1', 'c', 'c/1/x', 'd/1'])
            await s.put(k, k.toUpperCase())
          assert.deepEqual(
            (await s.scan('c/')).map((kv) => kv.key),
            ['c/1', 'c/1/x', 'c/10', 'c/2'],
          )
          assert.deepEqual(
            (await s.scan('c/', { limit: 2 })).map((kv) => kv.key),
            ['c/1', 'c/1/x'],
          )
          assert.deepEqual(
            (await s.scan('')).map((kv) => kv.key),
            ['a/1', 'b', 'c', 'c/1', 'c/1/x', 'c/10', 'c/2', 'd/1'],
          )
          assert.deepEqual(await s.scan('zzz'), [])
          const [kv] = await s.scan('b')
          assert.equal(kv?.value, 'B')
        }))

      it('deletePrefix removes exactly the prefix in one revision', () =>
        withStore(async (s) => {
          for (const k of ['p/1', 'p/2', 'p/3', 'p', 'q/1']) await s.put(k, 'v')
          const before = await s.currentRevision()
          assert.equal(await s.deletePrefix('p/'), 3)
          assert.equal(await s.currentRevision(), before + 1)
          assert.deepEqual(
            (await s.scan('')).map((kv) => kv.key),
            ['p', 'q/1'],
          )
          assert.equal(await s.deletePrefix('none/'), 0)
          assert.equal(await s.currentRevision(), before + 1)
        }))
    })

    describe('txn', () => {
      it('runs success when every compare holds, all writes at one revision', () =>
        withStore(async (s) => {
          const r1 = await s.put('a', '1')
          await s.put('gone', 'x')
          const res = await s.txn({
            compare: [
              { key: 'a', target: 'modRevision', op: '=', value: r1 },
              { key: 'a', target: 'value', op: '=', value: '1' },
            ],
            success: [
              { type: 'put', key: 'a', value: '2' },
              { type: 'put', key: 'b', value: 'new' },
              { type: 'delete', key: 'gone' },
            ],
            failure: [{ type: 'put', key: 'failed', value: 'yes' }],
          })
          assert.equal(res.succeeded, true)
          assert.equal(res.revision, await s.currentRevision())
          assert.equal((await s.get('a'))?.modRevision, res.revision)
          assert.equal((await s.get('b'))?.createRevision, res.revision)
          assert.equal(await s.get('gone'), undefined)
          assert.equal(await s.get('failed'), undefined)
        }))

      it('runs failure when a compare fails, and nothing of success', () =>
        withStore(async (s) => {
          await s.put('a', '1')
          const res = await s.txn({
            compare: [{ key: 'a', target: 'value', op: '=', value: 'other' }],
            success: [{ type: 'put', key: 'a', value: 'success' }],
            failure: [{ type: 'put', key: 'f', value: 'failure' }],
          })
          assert.equal(res.succeeded, false)
          assert.equal((await s.get('a'))?.value, '1')
          assert.equal((await s.get('f'))?.value, 'failure')
          assert.equal(res.revision, (await s.get('f'))?.modRevision)
        }))

      it('a txn that writes nothing keeps the revision', () =>
        withStore(async (s) => {
          await s.put('a', '1')
          const before = await s.currentRevision()
          const res = await s.txn({
            compare: [{ key: 'a', target: 'version', op: '>', value: 5 }],
            success: [{ type: 'delete', key: 'a' }],
          })
          assert.deepEqual(res, { succeeded: false, revision: before })
          const res2 = await s.txn({ compare: [], success: [{ type: 'delete', key: 'missing' }] })
          assert.deepEqual(res2, { succeeded: true, revision: before })
        }))

      it('compares revisions and version of a missing key as 0', () =>
        withStore(async (s) => {
          for (const target of ['createRevision', 'modRevision', 'version'] as const) {
            const hit = await s.txn({
              compare: [{ key: 'missing', target, op: '=', value: 0 }],
              success: [],
            })
            assert.equal(hit.succeeded, true, target)
            const miss = await s.txn({
              compare: [{ key: 'missing', target, op: '>', value: 0 }],
              success: [],
            })
            assert.equal(miss.succeeded, false, target)
          }
        }))

      it('value compares on a missing key are false, = and != alike (etcd)', () =>
        withStore(async (s) => {
          for (const op of ['=', '!='] as const) {
            const res = await s.txn({
              compare: [{ key: 'missing', target: 'value', op, value: '' }],
              success: [],
            })
            assert.equal(res.succeeded, false, op)
          }
        }))

      it('supports =, !=, < and > on revisions and version', () =>
        withStore(async (s) => {
          await s.put('k', 'a')
          const r = await s.put('k', 'b')
          const check = async (
            c: {
              target: 'modRevision' | 'createRevision' | 'version'
              op: '=' | '!=' | '<' | '>'
              value: number
            },
            want: boolean,
          ) => {
            const res = await s.txn({ compare: [{ key: 'k', ...c }], success: [] })
            assert.equal(res.succeeded, want, JSON.stringify(c))
          }
          await check({ target: 'version', op: '=', value: 2 }, true)
          await check({ target: 'version', op: '!=', value: 2 }, false)
          await check({ target: 'version', op: '<', value: 3 }, true)
          await check({ target: 'version', op: '>', value: 2 }, false)
          await check({ target: 'modRevision', op: '=', value: r }, true)
          await check({ target: 'modRevision', op: '<', value: r }, false)
          await check({ target: 'createRevision', op: '<', value: r }, true)
          await check({ target: 'createRevision', op: '!=', value: r }, true)
          const v = await s.txn({
            compare: [{ key: 'k', target: 'value', op: '!=', value: 'a' }],
            success: [],
          })
          assert.equal(v.succeeded, true)
        }))

      it('create-if-absent via createRevision = 0 lets exactly one of concurrent creators win', () =>
        withStore(async (s) => {
          const results = await Promise.all(
            Array.from({ length: 10 }, (_, i) =>
              s.txn({
                compare: [{ key: 'leader', target: 'createRevision', op: '=', value: 0 }],
                success: [{ type: 'put', key: 'leader', value: `n${i}` }],
              }),
            ),
          )
          assert.equal(results.filter((r) => r.succeeded).length, 1)
          const winner = results.findIndex((r) => r.succeeded)
          assert.equal((await s.get('leader'))?.value, `n${winner}`)
        }))

      it('compare-and-swap increments are linearizable under concurrency', () =>
        withStore(async (s) => {
          await s.put('counter', '0')
          const increment = async (): Promise<void> => {
            for (;;) {
              const kv = (await s.get('counter'))!
              const res = await s.txn({
                compare: [
                  { key: 'counter', target: 'modRevision', op: '=', value: kv.modRevision },
                ],
                success: [{ type: 'put', key: 'counter', value: String(Number(kv.value) + 1) }],
              })
              if (res.succeeded) return
            }
          }
          await Promise.all(Array.from({ length: 20 }, increment))
          assert.equal((await s.get('counter'))?.value, '20')
        }))

      it('deletePrefix inside a txn shares the revision with the other ops', () =>
        withStore(async (s) => {
          for (const k of ['coll/1/a', 'coll/1/b', 'other']) await s.put(k, 'v')
          const res = await s.txn({
            compare: [],
            success: [
              { type: 'deletePrefix', prefix: 'coll/1/' },
              { type: 'put', key: 'tomb/1', value: 'dropped' },
            ],
          })
          assert.deepEqual(
            (await s.scan('')).map((kv) => kv.key),
            ['other', 'tomb/1'],
          )
          assert.equal((await s.get('tomb/1'))?.modRevision, res.revision)
        }))

      it('rejects a put of a key another op of the branch also writes, applying nothing', () =>
        withStore(async (s) => {
          await s.put('x', 'orig')
          const before = await s.currentRevision()
          const bad = [
            [
              { type: 'put', key: 'x', value: '1' },
              { type: 'put', key: 'x', value: '2' },
            ],
            [
              { type: 'put', key: 'y', value: '1' },
              { type: 'delete', key: 'y' },
            ],
            [
              { type: 'deletePrefix', prefix: 'x' },
              { type: 'put', key: 'x/1', value: '1' },
            ],
          ] as const
          for (const success of bad)
            await rejectsWith(s.txn({ compare: [], success }), 'ParameterInvalid', /duplicate key/)
          // Overlapping deletes are fine.
          await s.txn({
            compare: [],
            success: [
              { type: 'delete', key: 'x' },
              { type: 'deletePrefix', prefix: 'x' },
            ],
          })
          assert.equal(await s.get('x'), undefined)
          assert.equal(await s.currentRevision(), before + 1)
        }))

      it('is all or nothing when an op is invalid', () =>
        withStore(async (s) => {
          const before = await s.currentRevision()
          await rejectsWith(
            s.txn({
              compare: [],
              success: [
                { type: 'put', key: 'ok', value: '1' },
                { type: 'put', key: 'bad', value: '2', lease: 'no-such-lease' },
              ],
            }),
            'ParameterInvalid',
          )
          assert.equal(await s.get('ok'), undefined)
          assert.equal(await s.currentRevision(), before)
        }))
    })

    describe('watch', () => {
      it('delivers events after now, one call per revision, in order, filtered by prefix', () =>
        withStore(async (s) => {
          await s.put('w/old', 'x')
          const rec = recorder()
          let inside = true
          const w = s.watch('w/', {}, (events) => {
            assert.equal(inside, false, 'callback ran synchronously inside watch()')
            rec.onEvents(events)
          })
          inside = false
          const r1 = await s.put('w/a', '1')
          await s.put('other', 'ignored')
          const tx = await s.txn({
            compare: [],
            success: [
              { type: 'put', key: 'w/b', value: '2' },
              { type: 'put', key: 'w/c', value: '3' },
              { type: 'put', key: 'zz', value: '' },
            ],
          })
          assert.equal(await s.deletePrefix('w/'), 4)
          const rd = await s.currentRevision()
          await eventually(() => rec.calls.length === 3)
          assert.deepEqual(
            rec.calls.map((c) => c.map(brief)),
            [
              [`put w/a=1 @${r1}`],
              [`put w/b=2 @${tx.revision}`, `put w/c=3 @${tx.revision}`],
              [
                `delete w/a @${rd}`,
                `delete w/b @${rd}`,
                `delete w/c @${rd}`,
                `delete w/old @${rd}`,
              ],
            ],
          )
          assert.deepEqual(rec.calls[2]![0]!.kv, {
            key: 'w/a',
            value: '',
            createRevision: 0,
            modRevision: rd,
            version: 0,
          })
          w.cancel()
          await s.put('w/after', 'x')
          await sleep(20)
          assert.equal(rec.calls.length, 3)
        }))

      it('puts carry the full KeyValue', () =>
        withStore(async (s) => {
          const rec = recorder()
          s.watch('', {}, rec.onEvents)
          await s.put('k', '1')
          const r = await s.put('k', '2')
          await eventually(() => rec.events().length === 2)
          const kv: KeyValue = rec.events()[1]!.kv
          assert.equal(kv.value, '2')
          assert.equal(kv.version, 2)
          assert.equal(kv.modRevision, r)
          assert.equal(kv.createRevision, r - 1)
        }))

      it('replays history after fromRevision, then continues live', () =>
        withStore(async (s) => {
          const r1 = await s.put('h/1', 'a')
          const r2 = await s.put('h/2', 'b')
          await s.delete('h/1')
          const rec = recorder()
          s.watch('h/', { fromRevision: r1 }, rec.onEvents)
          const r4 = await s.put('h/3', 'c')
          await eventually(() => rec.calls.length === 3)
          assert.deepEqual(rec.events().map(brief), [
            `put h/2=b @${r2}`,
            `delete h/1 @${r2 + 1}`,
            `put h/3=c @${r4}`,
          ])
        }))

      it('watch from the current revision sees only later writes', () =>
        withStore(async (s) => {
          await s.put('a', '1')
          const rec = recorder()
          s.watch('', { fromRevision: await s.currentRevision() }, rec.onEvents)
          await s.put('b', '2')
          await eventually(() => rec.calls.length === 1)
          await sleep(20)
          assert.deepEqual(
            rec.events().map((e) => e.kv.key),
            ['b'],
          )
        }))

      it('several watchers each get every event', () =>
        withStore(async (s) => {
          const a = recorder()
          const b = recorder()
          s.watch('', {}, a.onEvents)
          s.watch('x', {}, b.onEvents)
          await Promise.all([s.put('x1', '1'), s.put('y1', '1'), s.put('x2', '2')])
          await eventually(() => a.calls.length === 3 && b.calls.length === 2)
          assert.deepEqual(
            b.events().map((e) => e.kv.key),
            ['x1', 'x2'],
          )
        }))

      it('a callback that throws does not stop later deliveries or the store', () =>
        withStore(async (s) => {
          const rec = recorder()
          s.watch('', {}, (events) => {
            rec.onEvents(events)
            throw new Error('consumer bug')
          })
          await s.put('a', '1')
          await s.put('b', '2')
          await eventually(() => rec.calls.length === 2)
          assert.equal((await s.get('b'))?.value, '2')
        }))

      it('rejects a negative fromRevision', () =>
        withStore(async (s) => {
          await failsWith(
            () => s.watch('', { fromRevision: -1 }, () => undefined),
            'ParameterInvalid',
          )
        }))
    })

    describe('leases', () => {
      it('attaches keys and deletes them when the lease expires', () =>
        withStore(async (s) => {
          const lease = await s.grantLease(200)
          await s.put('session/1', 'alive', { lease: lease.id })
          await s.put('plain', 'stays')
          assert.equal((await s.get('session/1'))?.lease, lease.id)
          assert.equal((await s.get('plain'))?.lease, undefined)
          const rec = recorder()
          s.watch('session/', {}, rec.onEvents)
          await eventually(async () => (await s.get('session/1')) === undefined, 2000)
          await eventually(() => rec.calls.length === 1)
          assert.deepEqual(
            rec.events().map((e) => `${e.type} ${e.kv.key}`),
            ['delete session/1'],
          )
          assert.equal((await s.get('plain'))?.value, 'stays')
          await rejectsWith(lease.keepAlive(), 'IoKeyNotFound')
          await rejectsWith(s.put('session/2', 'late', { lease: lease.id }), 'ParameterInvalid')
        }))

      it('keepAlive extends the lease', () =>
        withStore(async (s) => {
          const lease = await s.grantLease(300)
          await s.put('k', 'v', { lease: lease.id })
          // 400 ms in all, beyond the ttl, with keepAlives a third of a ttl apart.
          for (let i = 0; i < 4; i++) {
            await sleep(100)
            await lease.keepAlive()
          }
          assert.equal((await s.get('k'))?.value, 'v', 'expired despite keepAlive')
          await eventually(async () => (await s.get('k')) === undefined, 2000)
        }))

      it('revoke deletes the keys at once, in one revision, and is idempotent', () =>
        withStore(async (s) => {
          const lease = await s.grantLease(60_000)
          await s.put('l/a', '1', { lease: lease.id })
          await s.put('l/b', '2', { lease: lease.id })
          const before = await s.currentRevision()
          await lease.revoke()
          assert.deepEqual(await s.scan('l/'), [])
          assert.equal(await s.currentRevision(), before + 1)
          await lease.revoke()
          assert.equal(await s.currentRevision(), before + 1)
        }))

      it('a put without the lease detaches the key from it', () =>
        withStore(async (s) => {
          const lease = await s.grantLease(60_000)
          await s.put('k', '1', { lease: lease.id })
          await s.put('k', '2')
          await lease.revoke()
          assert.equal((await s.get('k'))?.value, '2')
        }))

      it('rejects puts with an unknown lease and non-positive ttls', () =>
        withStore(async (s) => {
          await rejectsWith(s.put('k', 'v', { lease: 'ffffffffffffffff' }), 'ParameterInvalid')
          await rejectsWith(s.grantLease(0), 'ParameterInvalid')
        }))
    })

    it('close is idempotent and later calls reject', async () => {
      const s = await factory.open()
      await s.put('a', '1')
      await s.close()
      await s.close()
      await rejectsWith(s.get('a'), 'ServiceInternal')
      await rejectsWith(s.put('a', '2'), 'ServiceInternal')
    })

    const reopen = factory.reopen?.bind(factory)
    if (reopen) {
      describe('persistence (reopen)', () => {
        it('keeps keys, their metadata and the revision counter', () =>
          withStore(async (s, swap) => {
            await s.put('a', '1')
            await s.put('a', '2')
            await s.txn({
              compare: [],
              success: [
                { type: 'put', key: 'b', value: 'x' },
                { type: 'put', key: 'c', value: 'y' },
              ],
            })
            await s.delete('c')
            const rev = await s.currentRevision()
            const before = await s.scan('')
            const s2 = await reopen(s)
            swap(s2)
            assert.deepEqual(await s2.scan(''), before)
            assert.equal(await s2.currentRevision(), rev)
            const next = await s2.put('d', 'z')
            assert.equal(next, rev + 1, 'revisions continue, never reused')
          }))

        it('drops keys attached to leases, which do not survive the process', () =>
          withStore(async (s, swap) => {
            const lease = await s.grantLease(60_000)
            await s.put('session/1', 'x', { lease: lease.id })
            await s.put('durable', 'y')
            const s2 = await reopen(s)
            swap(s2)
            assert.equal(await s2.get('session/1'), undefined)
            assert.equal((await s2.get('durable'))?.value, 'y')
          }))

        it('can watch from the current revision after reopen', () =>
          withStore(async (s, swap) => {
            await s.put('a', '1')
            const s2 = await reopen(s)
            swap(s2)
            const rec = recorder()
            s2.watch('', { fromRevision: await s2.currentRevision() }, rec.onEvents)
            await s2.put('b', '2')
            await eventually(() => rec.calls.length === 1)
          }))
      })
    }
  })
}
