import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { Etcd3 } from 'etcd3'
import { eventually, rejectsWith } from '../../../tests/conformance/harness.js'
import { describeMetaStore } from '../../../tests/conformance/meta-store.suite.js'
import {
  clusterSkipReason,
  freePort,
  startEtcd,
  type TestServer,
} from '../../../tests/conformance/servers.js'
import { openMetaStore } from '../index.js'
import { EtcdMetaStore, parseEtcdUrl } from './etcd-meta-store.js'
import type { MetaStore, WatchEvent } from './meta-store.js'

describe('EtcdMetaStore on a real etcd', { skip: clusterSkipReason('etcd') }, () => {
  let server: TestServer | undefined
  before(async () => {
    server = await startEtcd()
  })
  after(() => server?.stop())

  const etcdUrl = (root: string): string => `${server!.url}/${root}`
  const freshRoot = (): string => `harrier-test-${randomBytes(6).toString('hex')}`
  const roots = new WeakMap<MetaStore, string>()

  // Every instance gets its own root, so tests see an empty store; revisions are etcd's, shared.
  describeMetaStore('EtcdMetaStore', {
    async open() {
      const root = freshRoot()
      const s = await openMetaStore(etcdUrl(root))
      roots.set(s, root)
      return s
    },
    async reopen(s) {
      const root = roots.get(s)!
      await s.close()
      const s2 = await openMetaStore(etcdUrl(root))
      roots.set(s2, root)
      return s2
    },
  })

  describe('etcd specifics', () => {
    it('is an EtcdMetaStore whose revisions and keys are etcd’s own, under the URL root', async () => {
      const root = freshRoot()
      const s = await openMetaStore(etcdUrl(root))
      const raw = new Etcd3({ hosts: parseEtcdUrl(server!.url).endpoints })
      try {
        assert.ok(s instanceof EtcdMetaStore)
        assert.equal(s.root, `${root}/`)
        const rev = await s.put('catalog/db/1', 'v')
        const kv = (await raw.get(`${root}/catalog/db/1`).exec()).kvs[0]!
        assert.equal(kv.value.toString(), 'v')
        assert.equal(Number(kv.mod_revision), rev)
        // Writes outside the root are invisible but share the revision counter.
        await raw.put('elsewhere/key').value('x')
        assert.deepEqual(
          (await s.scan('')).map((k) => k.key),
          ['catalog/db/1'],
        )
        assert.equal(await s.currentRevision(), rev + 1)
      } finally {
        raw.close()
        await s.close()
      }
    })

    it('a lease left to expire by a dead owner is seen as deletes by another client’s watcher', async () => {
      const root = freshRoot()
      const owner = await openMetaStore(etcdUrl(root))
      const observer = await openMetaStore(etcdUrl(root))
      try {
        const lease = await owner.grantLease(1000)
        await owner.put('session/querynode-1', 'addr', { lease: lease.id })
        await owner.put('session/querynode-2', 'addr', { lease: lease.id })
        const seen: WatchEvent[][] = []
        observer.watch('session/', {}, (events) => seen.push(events))
        // The owner stops keeping the lease alive, as a crashed process would.
        const t0 = Date.now()
        await eventually(() => seen.length > 0, 4000)
        const waited = Date.now() - t0
        assert.deepEqual(
          seen.map((evs) => evs.map((e) => `${e.type} ${e.kv.key}`)),
          [['delete session/querynode-1', 'delete session/querynode-2']],
          'both keys go in one revision',
        )
        assert.deepEqual(await observer.scan('session/'), [])
        await rejectsWith(lease.keepAlive(), 'IoKeyNotFound')
        assert.ok(waited < 3000, `expired after ${waited} ms`)
      } finally {
        await Promise.all([owner.close(), observer.close()])
      }
    })

    it('close() revokes the leases it granted, so a stopped process drops its sessions at once', async () => {
      const root = freshRoot()
      const owner = await openMetaStore(etcdUrl(root))
      const observer = await openMetaStore(etcdUrl(root))
      try {
        const lease = await owner.grantLease(60_000)
        await owner.put('session/datanode-1', 'addr', { lease: lease.id })
        assert.equal((await observer.get('session/datanode-1'))?.lease, lease.id)
        await owner.close()
        assert.equal(await observer.get('session/datanode-1'), undefined)
      } finally {
        await Promise.all([owner.close(), observer.close()])
      }
    })

    it('reports an unreachable etcd as ServiceUnavailable', async () => {
      const port = await freePort()
      await rejectsWith(
        EtcdMetaStore.open({ endpoints: [`127.0.0.1:${port}`], requestTimeoutMs: 2000 }),
        'ServiceUnavailable',
      )
    })

    it('measures put / get / txn latency', async (t) => {
      const s = await openMetaStore(etcdUrl(freshRoot()))
      try {
        await s.put('warm', 'up')
        const value = 'x'.repeat(256)
        const puts = await timed(200, (i) => s.put(`k/${i % 20}`, value))
        const gets = await timed(200, (i) => s.get(`k/${i % 20}`))
        const txns = await timed(100, async (i) => {
          const kv = (await s.get(`k/${i % 20}`))!
          const r = await s.txn({
            compare: [{ key: kv.key, target: 'modRevision', op: '=', value: kv.modRevision }],
            success: [{ type: 'put', key: kv.key, value }],
          })
          assert.ok(r.succeeded)
        })
        const t0 = performance.now()
        await Promise.all(Array.from({ length: 1000 }, (_, i) => s.put(`c/${i}`, value)))
        const concurrent = performance.now() - t0
        t.diagnostic(
          `etcd put p50 ${puts.p50} ms p99 ${puts.p99} ms; get p50 ${gets.p50} ms; ` +
            `get+CAS txn p50 ${txns.p50} ms; 1000 concurrent puts ${concurrent.toFixed(0)} ms`,
        )
      } finally {
        await s.close()
      }
    })
  })
})

async function timed(
  n: number,
  fn: (i: number) => Promise<unknown>,
): Promise<{ p50: string; p99: string }> {
  const ms: number[] = []
  for (let i = 0; i < n; i++) {
    const t0 = performance.now()
    await fn(i)
    ms.push(performance.now() - t0)
  }
  ms.sort((a, b) => a - b)
  const at = (q: number) => ms[Math.min(ms.length - 1, Math.floor(q * ms.length))]!.toFixed(2)
  return { p50: at(0.5), p99: at(0.99) }
}
