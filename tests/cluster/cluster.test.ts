/**
 * Cluster mode end to end: every role its own process over real etcd, NATS JetStream and Ceph RGW,
 * driven through the official SDK via a proxy; then the failure cases of issue 5.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { DataType, MilvusClient } from '@zilliz/milvus2-sdk-node'
import { clusterTestsSkipped } from '../conformance/ceph-rgw.js'
import { startInfra, startRole, type Infra, type RoleProcess } from './harness.js'

const skip = clusterTestsSkipped()
const DIM = 8

function vec(i: number): number[] {
  return Array.from({ length: DIM }, (_, d) => Math.sin(i * 0.37 + d * 1.3))
}

function rows(from: number, n: number) {
  return Array.from({ length: n }, (_, k) => ({ id: from + k, tag: (from + k) % 7, v: vec(from + k) }))
}

function alive(p: RoleProcess): boolean {
  return p.child.exitCode === null && p.child.signalCode === null
}

async function count(c: MilvusClient, name: string): Promise<number> {
  const r = await c.query({ collection_name: name, filter: '', output_fields: ['count(*)'], consistency_level: 'Strong' as never })
  assert.equal(r.status.error_code, 'Success', r.status.reason)
  return Number(r.data[0]!['count(*)'])
}

async function createLoaded(c: MilvusClient, name: string, replicas = 1): Promise<void> {
  const cr = await c.createCollection({
    collection_name: name,
    fields: [
      { name: 'id', data_type: DataType.Int64, is_primary_key: true },
      { name: 'tag', data_type: DataType.Int64 },
      { name: 'v', data_type: DataType.FloatVector, dim: DIM },
    ],
  })
  assert.equal(cr.error_code, 'Success', cr.reason)
  const ix = await c.createIndex({ collection_name: name, field_name: 'v', index_type: 'HNSW', metric_type: 'L2', params: { M: 8, efConstruction: 64 } })
  assert.equal(ix.error_code, 'Success', ix.reason)
  const ld = await c.loadCollectionSync({ collection_name: name, replica_number: replicas })
  assert.equal(ld.error_code, 'Success', ld.reason)
}

describe('cluster mode (separate processes)', { skip, timeout: 600_000 }, () => {
  let infra: Infra
  const procs: RoleProcess[] = []
  let client: MilvusClient
  let proxy: RoleProcess

  before(async () => {
    infra = await startInfra()
  })
  after(async () => {
    await client?.closeConnection().catch(() => undefined)
    for (const p of procs) await p.stop().catch(() => undefined)
    await infra?.stop()
  })

  const start = async (role: string, wait = true) => {
    const p = await startRole(role, [...infra.args('t1'), '--flush-interval-ms', '2000', '--segment-max-rows', '5000'], { wait })
    procs.push(p)
    return p
  }

  it('starts in reverse dependency order and serves the SDK through a proxy', async () => {
    // Reverse order: the proxy and workers come up before any coordinator or channel owner.
    proxy = await start('proxy')
    const qn1 = await start('querynode')
    await start('querynode')
    await start('indexnode')
    await start('datanode')
    await start('datanode') // standby
    const coord = await start('mixcoord')
    await start('mixcoord') // standby
    assert.equal((await qn1.health()).status, 200)
    assert.match((await coord.health()).body, /OK|serving|standby/i)
    client = new MilvusClient({ address: `127.0.0.1:${proxy.port}` })
    await createLoaded(client, 'c1', 2)
    const ins = await client.insert({ collection_name: 'c1', data: rows(0, 3000) })
    assert.equal(ins.status.error_code, 'Success', ins.status.reason)
    assert.equal(await count(client, 'c1'), 3000)
    const fl = await client.flushSync({ collection_names: ['c1'] })
    assert.equal(fl.status.error_code, 'Success', fl.status.reason)
    const s = await client.search({ collection_name: 'c1', data: [vec(42)], limit: 3, consistency_level: 'Strong' as never })
    assert.equal(s.status.error_code, 'Success', s.status.reason)
    assert.equal(String(s.results[0]!.id), '42')
    const q = await client.query({ collection_name: 'c1', filter: 'tag == 3 and id < 50', output_fields: ['id'], consistency_level: 'Strong' as never })
    assert.deepEqual(q.data.map((r) => Number(r.id)).sort((a, b) => a - b), [3, 10, 17, 24, 31, 38, 45])
    const del = await client.delete({ collection_name: 'c1', filter: 'id < 100' })
    assert.equal(del.status.error_code, 'Success', del.status.reason)
    assert.equal(await count(client, 'c1'), 2900)
    // The index node builds the flushed segments' indexes; the coordinator reports them.
    const deadline = Date.now() + 60_000
    for (;;) {
      const d = await client.describeIndex({ collection_name: 'c1', field_name: 'v' })
      assert.equal(d.status.error_code, 'Success', d.status.reason)
      const di = d.index_descriptions[0]!
      if (Number(di.indexed_rows) === 3000 && Number(di.total_rows) >= 3000) break
      assert.ok(Date.now() < deadline, `index not built: ${JSON.stringify(di)}`)
      await new Promise((r) => setTimeout(r, 200))
    }
    // The data node keeps no flushed rows: a manual compaction reads the segments back from S3 and
    // drops the deleted rows; the query nodes swap in the result.
    const comp = await client.compact({ collection_name: 'c1' })
    assert.equal(comp.status.error_code, 'Success', comp.status.reason)
    const until = Date.now() + 30_000
    for (;;) {
      const st = await client.getCompactionState({ compactionID: comp.compactionID })
      if (String(st.state) === 'Completed') break
      assert.ok(Date.now() < until, `compaction state ${st.state}`)
      await new Promise((r) => setTimeout(r, 200))
    }
    assert.equal(await count(client, 'c1'), 2900)
    const gone = await client.query({ collection_name: 'c1', filter: 'id < 100', output_fields: ['id'], consistency_level: 'Strong' as never })
    assert.equal(gone.data.length, 0)
    const segs = await client.getPersistentSegmentInfo({ collectionName: 'c1' })
    assert.equal(segs.infos.reduce((a, x) => a + Number(x.num_rows), 0), 2900)
  })

  it('harrier status shows every process, the elected roles and what each query node serves', async () => {
    const { execFile } = await import('node:child_process')
    const cli = new URL('../../src/roles/cli.js', import.meta.url).pathname
    const run = (args: string[]) =>
      new Promise<{ code: number; stdout: string }>((resolve) => {
        execFile(process.execPath, [cli, 'status', ...args], (err, stdout) => resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout }))
      })
    const etcd = infra.etcd.url.replace('etcd://', '')
    const text = await run(['--etcd', etcd])
    assert.equal(text.code, 0, text.stdout)
    assert.match(text.stdout, /coordinator\s+mixcoord-/)
    assert.match(text.stdout, /channel\/by-dev-rootcoord-dml_0\s+datanode-/)
    const j = await run(['--etcd', etcd, '--json'])
    const s = JSON.parse(j.stdout) as { processes: { role: string; healthy: boolean }[]; collections: { name: string; servedBy: string[]; flushedRows: number; loaded: boolean }[] }
    const roles = s.processes.map((p) => p.role).sort()
    assert.deepEqual(roles, ['datanode', 'datanode', 'indexnode', 'mixcoord', 'mixcoord', 'proxy', 'querynode', 'querynode'])
    assert.ok(s.processes.every((p) => p.healthy))
    const c1 = s.collections.find((c) => c.name === 'c1')!
    assert.equal(c1.loaded, true)
    assert.equal(c1.flushedRows, 2900)
    assert.equal(c1.servedBy.length, 2, JSON.stringify({ c1, procs: s.processes }))
    // GetReplicas: one replica per query node holding c1, with real node ids and addresses.
    const d = await client.describeCollection({ collection_name: 'c1' })
    const reps = await client.getReplicas({ collectionID: d.collectionID })
    assert.equal(reps.status.error_code, 'Success', reps.status.reason)
    assert.equal(reps.replicas.length, 2)
    const nodeIds = reps.replicas.map((r) => String(r.node_ids[0]))
    assert.equal(new Set(nodeIds).size, 2, JSON.stringify(reps.replicas))
    assert.ok(nodeIds.every((n) => /^\d+$/.test(n) && n !== '0'), JSON.stringify(nodeIds))
    const usage = await run(['--bogus'])
    assert.equal(usage.code, 2)
  })

  it('bad input through the proxy: truncated and garbage payloads get Milvus errors from the role behind it', async () => {
    const { loadMilvusProto } = await import('../../src/schema/milvus-proto.js')
    const grpc = await import('@grpc/grpc-js')
    const proto = loadMilvusProto()
    const raw = new grpc.Client(`127.0.0.1:${proxy.port}`, grpc.credentials.createInsecure())
    const call = (method: string, resType: string, payload: Buffer) =>
      new Promise<Record<string, unknown>>((resolve, reject) => {
        raw.makeUnaryRequest(`/milvus.proto.milvus.MilvusService/${method}`, (x: Buffer) => x, (b: Buffer) => proto.decode(resType, b), payload, (err, res) => (err ? reject(err) : resolve(res!)))
      })
    try {
      // Each kind of backend: the channel owner (Insert), a query node (Search), the coordinator (CreateCollection).
      const ins = (await call('Insert', 'milvus.proto.milvus.MutationResult', Buffer.from([0x1a, 0x64, 0x61, 0x62, 0x63]))).status as { code: number; error_code: string; reason: string }
      assert.equal(ins.code, 1100)
      assert.equal(ins.error_code, 'IllegalArgument')
      assert.match(ins.reason, /malformed Insert request/)
      const srch = (await call('Search', 'milvus.proto.milvus.SearchResults', Buffer.from([0x1a, 0x02, 0x63, 0x31, 0x22, 0xff]))).status as { code: number; reason: string }
      assert.equal(srch.code, 1100, srch.reason)
      const ddl = (await call('CreateCollection', 'milvus.proto.common.Status', Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f, 0x01]))) as { code: number; reason: string }
      assert.equal(ddl.code, 1100, ddl.reason)
    } finally {
      raw.close()
    }
    assert.equal(await count(client, 'c1'), 2900)
  })

  it('a query node killed under search load: searches never fail (two replicas), results stay complete', async () => {
    const qns = procs.filter((p) => p.role === 'querynode' && alive(p))
    assert.ok(qns.length >= 2)
    let stop = false
    let ok = 0
    const failures: string[] = []
    const load = (async () => {
      while (!stop) {
        const s = await client.search({ collection_name: 'c1', data: [vec(500)], limit: 5, consistency_level: 'Strong' as never })
        if (s.status.error_code !== 'Success') failures.push(s.status.reason)
        else if (String(s.results[0]?.id) !== '500') failures.push(`wrong top hit ${s.results[0]?.id}`)
        else ok++
      }
    })()
    await new Promise((r) => setTimeout(r, 500))
    const t0 = Date.now()
    await qns[0]!.kill9()
    await new Promise((r) => setTimeout(r, 3000))
    stop = true
    await load
    assert.deepEqual(failures, [])
    assert.ok(ok > 10, `only ${ok} searches`)
    assert.equal(await count(client, 'c1'), 2900)
    assert.ok(Date.now() - t0 < 10_000)
    // Scale out: a new query node loads what is loaded and takes its share.
    const fresh = await start('querynode')
    assert.equal((await fresh.health()).status, 200)
    for (let i = 0; i < 6; i++) assert.equal(await count(client, 'c1'), 2900)
  })

  it('collections with one replica are spread over query nodes; when the holder dies its collection moves', async () => {
    for (const name of ['c3', 'c4']) {
      await createLoaded(client, name, 1)
      const ins = await client.insert({ collection_name: name, data: rows(0, 400) })
      assert.equal(ins.status.error_code, 'Success', ins.status.reason)
      await client.flushSync({ collection_names: [name] })
      assert.equal(await count(client, name), 400)
    }
    const { execFile } = await import('node:child_process')
    const cli = new URL('../../src/roles/cli.js', import.meta.url).pathname
    const status = () =>
      new Promise<{ processes: { nodeId: string; role: string; pid: number }[]; collections: { name: string; servedBy: string[] }[] }>((resolve, reject) => {
        execFile(process.execPath, [cli, 'status', '--etcd', infra.etcd.url.replace('etcd://', ''), '--json'], (_err, stdout) => {
          try {
            resolve(JSON.parse(stdout))
          } catch (e) {
            reject(e)
          }
        })
      })
    const s = await status()
    const c3 = s.collections.find((c) => c.name === 'c3')!.servedBy
    const c4 = s.collections.find((c) => c.name === 'c4')!.servedBy
    assert.equal(c3.length, 1)
    assert.equal(c4.length, 1)
    assert.notEqual(c3[0], c4[0], 'the two single-replica collections should sit on different query nodes')
    // Kill c3's holder: the coordinator places c3 on the survivor, which loads it from S3.
    const holder = s.processes.find((p) => p.nodeId === c3[0])!
    const proc = procs.find((p) => p.child.pid === holder.pid)!
    const t0 = Date.now()
    await proc.kill9()
    for (;;) {
      const n = await count(client, 'c3').catch(() => -1)
      if (n === 400) break
      assert.ok(Date.now() - t0 < 10_000, `c3 not complete again within 10 s (count ${n})`)
      await new Promise((r) => setTimeout(r, 100))
    }
    assert.equal(await count(client, 'c4'), 400)
    assert.equal(await count(client, 'c1'), 2900)
    // A replacement node takes a share back (balance), without a window where c1 loses a replica.
    const fresh = await start('querynode')
    const by = Date.now() + 30_000
    for (;;) {
      const st = await status()
      const served = st.collections.flatMap((c) => c.servedBy)
      if (served.some((n) => st.processes.find((p) => p.nodeId === n)?.pid === fresh.child.pid) && st.collections.find((c) => c.name === 'c1')!.servedBy.length === 2) break
      assert.ok(Date.now() < by, `new query node got no collection: ${JSON.stringify(st.collections)}`)
      await new Promise((r) => setTimeout(r, 300))
    }
    for (const [name, n] of [['c1', 2900], ['c3', 400], ['c4', 400]] as const) assert.equal(await count(client, name), n)
  })

  it('the data node killed during ingestion: the standby takes over; no acknowledged row is lost', async () => {
    let next = 10_000
    const acked: number[] = []
    let failed = 0
    let stop = false
    const writer = (async () => {
      while (!stop) {
        const from = next
        next += 200
        const r = await client.insert({ collection_name: 'c1', data: rows(from, 200) }).catch((e: unknown) => ({ status: { error_code: 'Error', reason: String(e) } }))
        if (r.status.error_code === 'Success') acked.push(from)
        else failed++
      }
    })()
    await new Promise((r) => setTimeout(r, 1000))
    const owner = procs.find((p) => p.role === 'datanode' && alive(p) && /owns WAL channel/.test(p.output()))
    assert.ok(owner, 'no data node owns the channel')
    await owner.kill9()
    // Writes resume once the standby owns the channel (lease TTL 2 s + recovery).
    const resumeBy = Date.now() + 20_000
    const before = acked.length
    while (acked.length < before + 5) {
      assert.ok(Date.now() < resumeBy, `writes did not resume; failed=${failed}`)
      await new Promise((r) => setTimeout(r, 100))
    }
    stop = true
    await writer
    const ids = acked.flatMap((f) => Array.from({ length: 200 }, (_, k) => f + k))
    const present = new Set<number>()
    for (let i = 0; i < ids.length; i += 1000) {
      const chunk = ids.slice(i, i + 1000)
      const q = await client.query({ collection_name: 'c1', filter: `id in [${chunk.join(',')}]`, output_fields: ['id'], consistency_level: 'Strong' as never, limit: 16384 })
      assert.equal(q.status.error_code, 'Success', q.status.reason)
      for (const r of q.data) present.add(Number(r.id))
    }
    assert.equal(present.size, ids.length, `lost ${ids.length - present.size} acknowledged rows`)
    const n = await count(client, 'c1')
    assert.ok(n >= 2900 + ids.length && n <= 2900 + ids.length + failed * 200, `count ${n}, acked rows ${ids.length}, failed batches ${failed}`)
  })

  it('a paused channel owner that comes back is fenced and steps down', async () => {
    const owner = procs.find((p) => p.role === 'datanode' && alive(p) && /owns WAL channel/.test(p.output()))
    assert.ok(owner)
    // A spare data node to take over.
    await start('datanode')
    const before = await count(client, 'c1')
    owner.child.kill('SIGSTOP')
    try {
      // While it is frozen its lease lapses and the spare takes the channel with a higher term.
      const by = Date.now() + 20_000
      for (;;) {
        const r = await client.insert({ collection_name: 'c1', data: rows(900_000, 10) })
        if (r.status.error_code === 'Success') break
        assert.ok(Date.now() < by, r.status.reason)
        await new Promise((r) => setTimeout(r, 200))
      }
    } finally {
      owner.child.kill('SIGCONT')
    }
    // The revived process finds its session gone and exits instead of writing.
    const exitBy = Date.now() + 15_000
    while (alive(owner)) {
      assert.ok(Date.now() < exitBy, `revived owner did not step down:\n${owner.output().slice(-3000)}`)
      await new Promise((r) => setTimeout(r, 100))
    }
    assert.equal(await count(client, 'c1'), before + 10)
  })

  it('the log broker crashes and restarts: writes resume, replicas keep following, nothing acknowledged is lost', async () => {
    let next = 2_000_000
    const acked: number[] = []
    let failed = 0
    let stop = false
    const writer = (async () => {
      while (!stop) {
        const from = next
        next += 50
        const r = await client.insert({ collection_name: 'c1', data: rows(from, 50) }).catch((e: unknown) => ({ status: { error_code: 'Error', reason: String(e) } }))
        if (r.status.error_code === 'Success') acked.push(from)
        else failed++
        await new Promise((r) => setTimeout(r, 20))
      }
    })()
    await new Promise((r) => setTimeout(r, 500))
    const base = await count(client, 'c1').catch(() => -1)
    assert.ok(base > 0)
    await infra.nats.restart({ crash: true })
    const before = acked.length
    const by = Date.now() + 30_000
    while (acked.length < before + 5) {
      assert.ok(Date.now() < by, `writes did not resume after the broker restart; failed=${failed}`)
      await new Promise((r) => setTimeout(r, 100))
    }
    stop = true
    await writer
    const ids = acked.flatMap((f) => Array.from({ length: 50 }, (_, k) => f + k))
    const q = await client.query({ collection_name: 'c1', filter: `id >= 2000000`, output_fields: ['id'], consistency_level: 'Strong' as never, limit: 16384 })
    assert.equal(q.status.error_code, 'Success', q.status.reason)
    const present = new Set(q.data.map((r) => Number(r.id)))
    assert.equal(ids.filter((id) => !present.has(id)).length, 0, `acknowledged rows missing after the broker restart (failed batches ${failed})`)
    // Every query node answers the same.
    for (let i = 0; i < 4; i++) {
      const again = await client.query({ collection_name: 'c1', filter: `id >= 2000000`, output_fields: ['count(*)'], consistency_level: 'Strong' as never })
      assert.equal(Number(again.data[0]!['count(*)']), present.size)
    }
  })

  it('the active coordinator killed: the standby takes over and DDL, writes and searches continue', async () => {
    const active = procs.find((p) => p.role === 'mixcoord' && alive(p) && /active coordinator/.test(p.output()))
    assert.ok(active)
    await active.kill9()
    await createLoaded(client, 'c2')
    const ins = await client.insert({ collection_name: 'c2', data: rows(0, 100) })
    assert.equal(ins.status.error_code, 'Success', ins.status.reason)
    assert.equal(await count(client, 'c2'), 100)
    const s = await client.search({ collection_name: 'c2', data: [vec(7)], limit: 1, consistency_level: 'Strong' as never })
    assert.equal(String(s.results[0]!.id), '7')
    const list = await client.showCollections()
    assert.deepEqual(list.data.map((c) => c.name).sort(), ['c1', 'c2', 'c3', 'c4'])
  })
})

describe('cluster roles in random start order', { skip, timeout: 300_000 }, () => {
  it('all roles started at once in a shuffled order converge and serve', async () => {
    const infra = await startInfra()
    const procs: RoleProcess[] = []
    try {
      const roles = ['proxy', 'mixcoord', 'datanode', 'querynode', 'indexnode']
      // Fisher-Yates with Math.random: a different order each run, printed for reproduction.
      for (let i = roles.length - 1; i > 0; i--) {
        const j = Math.floor(Math.random() * (i + 1))
        ;[roles[i], roles[j]] = [roles[j]!, roles[i]!]
      }
      for (const r of roles) procs.push(await startRole(r, infra.args('shuffled'), { wait: false }))
      await Promise.all(procs.map((p) => p.waitHealthy()))
      const proxy = procs.find((p) => p.role === 'proxy')!
      const c = new MilvusClient({ address: `127.0.0.1:${proxy.port}` })
      try {
        await createLoaded(c, 'r1')
        const ins = await c.insert({ collection_name: 'r1', data: rows(0, 50) })
        assert.equal(ins.status.error_code, 'Success', `order ${roles.join(',')}: ${ins.status.reason}`)
        assert.equal(await count(c, 'r1'), 50, `order ${roles.join(',')}`)
      } finally {
        await c.closeConnection()
      }
    } finally {
      for (const p of procs) await p.stop().catch(() => undefined)
      await infra.stop()
    }
  })
})

describe('cluster roles before their infrastructure', { skip, timeout: 120_000 }, () => {
  it('a role started before etcd reports waiting on /healthz, then serves once etcd is up', async () => {
    const { freePort, startEtcd, startNats } = await import('../conformance/servers.js')
    const port = await freePort()
    const nats = await startNats()
    const qn = await startRole('proxy', ['--etcd', `127.0.0.1:${port}`, '--wal', `${nats.url}/early`, '--object-store', 's3://unused?endpoint=http://127.0.0.1:1'], { wait: false })
    try {
      let h = await qn.health()
      const by = Date.now() + 10_000
      while (!/waiting for etcd at 127\.0\.0\.1:\d+/.test(h.body)) {
        assert.ok(Date.now() < by, `health: ${h.status} ${h.body}`)
        await new Promise((r) => setTimeout(r, 100))
        h = await qn.health()
      }
      assert.notEqual(h.status, 200)
      const etcd = await startEtcd({ clientPort: port })
      try {
        await qn.waitHealthy(30_000)
      } finally {
        await qn.stop()
        await etcd.stop()
      }
    } finally {
      await qn.stop()
      await nats.stop()
    }
  })
})
