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

/**
 * A writer inserting batches of `size` rows into `name` (ids from `from` upwards) until stopped,
 * remembering which batches were acknowledged and how many calls failed.
 */
function ingest(c: MilvusClient, name: string, from: number, size: number, pauseMs = 0) {
  const w = { acked: [] as number[], failed: 0, next: from, stopped: false }
  const done = (async () => {
    while (!w.stopped) {
      const start = w.next
      w.next += size
      const r = await c.insert({ collection_name: name, data: rows(start, size) }).catch((e: unknown) => ({ status: { error_code: 'Error', reason: String(e) } }))
      if (r.status.error_code === 'Success') w.acked.push(start)
      else w.failed++
      if (pauseMs > 0) await new Promise((r) => setTimeout(r, pauseMs))
    }
  })()
  return {
    get acked(): readonly number[] {
      return w.acked
    },
    get failed(): number {
      return w.failed
    },
    /** Where a writer started after this one would continue. */
    get next(): number {
      return w.next
    },
    /** Every acknowledged id. */
    ids: () => w.acked.flatMap((f) => Array.from({ length: size }, (_, k) => f + k)),
    stop: async () => {
      w.stopped = true
      await done
    },
  }
}

/** Waits until each writer has `more` batches acknowledged beyond now (writes resumed). */
async function waitAcked(writers: readonly ReturnType<typeof ingest>[], more: number, withinMs: number, what: string): Promise<void> {
  const start = writers.map((w) => w.acked.length)
  const by = Date.now() + withinMs
  while (writers.some((w, i) => w.acked.length < start[i]! + more)) {
    assert.ok(Date.now() < by, `${what}; failed=${writers.reduce((a, w) => a + w.failed, 0)}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

/** Every one of `ids` is readable from `name` (Strong). */
async function assertAckedPresent(c: MilvusClient, name: string, ids: readonly number[]): Promise<void> {
  const present = new Set<number>()
  for (let i = 0; i < ids.length; i += 1000) {
    const q = await c.query({ collection_name: name, filter: `id in [${ids.slice(i, i + 1000).join(',')}]`, output_fields: ['id'], consistency_level: 'Strong' as never, limit: 16384 })
    assert.equal(q.status.error_code, 'Success', q.status.reason)
    for (const r of q.data) present.add(Number(r.id))
  }
  assert.equal(present.size, ids.length, `${name}: lost ${ids.length - present.size} acknowledged rows`)
}

/** `harrier status --json` against the cluster registered in `etcdUrl`. */
async function clusterStatus<T>(etcdUrl: string): Promise<T> {
  const { execFile } = await import('node:child_process')
  const cli = new URL('../../src/roles/cli.js', import.meta.url).pathname
  return new Promise<T>((resolve, reject) => {
    execFile(process.execPath, [cli, 'status', '--etcd', etcdUrl.replace('etcd://', ''), '--json'], (_err, stdout) => {
      try {
        resolve(JSON.parse(stdout) as T)
      } catch (e) {
        reject(e)
      }
    })
  })
}

/** A manual compaction, waited for until its state is Completed. */
async function compactAndWait(c: MilvusClient, name: string): Promise<void> {
  const comp = await c.compact({ collection_name: name })
  assert.equal(comp.status.error_code, 'Success', comp.status.reason)
  const until = Date.now() + 30_000
  for (;;) {
    const st = await c.getCompactionState({ compactionID: comp.compactionID })
    if (String(st.state) === 'Completed') return
    assert.ok(Date.now() < until, `compaction state ${st.state}`)
    await new Promise((r) => setTimeout(r, 200))
  }
}

/** HNSW by default; FLAT where a test compares results with brute force exactly. */
async function createLoaded(c: MilvusClient, name: string, replicas = 1, index: 'HNSW' | 'FLAT' = 'HNSW'): Promise<void> {
  const cr = await c.createCollection({
    collection_name: name,
    fields: [
      { name: 'id', data_type: DataType.Int64, is_primary_key: true },
      { name: 'tag', data_type: DataType.Int64 },
      { name: 'v', data_type: DataType.FloatVector, dim: DIM },
    ],
  })
  assert.equal(cr.error_code, 'Success', cr.reason)
  const ix = await c.createIndex({ collection_name: name, field_name: 'v', index_type: index, metric_type: 'L2', params: index === 'HNSW' ? { M: 8, efConstruction: 64 } : {} })
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
    // No background compaction: the spread test counts segments (manual compaction still runs).
    const p = await startRole(role, [...infra.args('t1'), '--flush-interval-ms', '2000', '--segment-max-rows', '5000', '--compaction-interval-ms', '3600000'], { wait })
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
    await compactAndWait(client, 'c1')
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
    // GetReplicas: c1 has two replicas, one query node each, with real node ids and addresses.
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

  it('a collection with one replica spreads its segments over the query nodes; reads merge every share; a dead holder\'s share moves; a new node takes a share', async () => {
    // FLAT: exact results, so every read can be checked against brute force over the rows.
    const name = 'spread'
    await createLoaded(client, name, 1, 'FLAT')
    // 16 flushed segments (a segment per flush), then growing rows on top.
    const SEGS = 16
    const PER = 300
    for (let i = 0; i < SEGS; i++) {
      const ins = await client.insert({ collection_name: name, data: rows(i * PER, PER) })
      assert.equal(ins.status.error_code, 'Success', ins.status.reason)
      await client.flushSync({ collection_names: [name] })
    }
    const total = SEGS * PER + 100
    assert.equal((await client.insert({ collection_name: name, data: rows(SEGS * PER, 100) })).status.error_code, 'Success')
    const del = await client.delete({ collection_name: name, filter: 'id in [5, 305, 4000]' })
    assert.equal(del.status.error_code, 'Success', del.status.reason)
    const live = Array.from({ length: total }, (_, i) => i).filter((i) => ![5, 305, 4000].includes(i))

    type Status = { processes: { nodeId: string; role: string; pid: number }[]; collections: { name: string; servedBy: string[]; replicas: string[][]; held: Record<string, { segments: number; rows: number }> }[] }
    const status = () => clusterStatus<Status>(infra.etcd.url)
    // Every node of the one replica holds a share, and together they hold each segment once.
    const settled = async (what: string, ok: (c: CollStatus, st: Status) => boolean) => {
      const by = Date.now() + 30_000
      for (;;) {
        const st = await status()
        const c = st.collections.find((x) => x.name === name)! as CollStatus
        if (ok(c, st)) return { st, c }
        assert.ok(Date.now() < by, `${what}: ${JSON.stringify(c)}`)
        await new Promise((r) => setTimeout(r, 300))
      }
    }
    // The background flush may add a segment of the growing rows meanwhile: compare with the catalog.
    type CollStatus = Status['collections'][number] & { flushedSegments: number }
    const spread = (c: CollStatus) => c.flushedSegments >= SEGS && Object.values(c.held).reduce((a, h) => a + h.segments, 0) === c.flushedSegments && Object.values(c.held).every((h) => h.segments > 0)
    const first = await settled('segments not spread over both query nodes', (c) => c.replicas.length === 1 && c.replicas[0]!.length === 2 && Object.keys(c.held).length === 2 && spread(c))

    // GetQuerySegmentInfo lists every segment with the query node holding it, whichever node answers.
    const qsi = await client.getQuerySegmentInfo({ collectionName: name })
    assert.equal(qsi.status.error_code, 'Success', qsi.status.reason)
    const flushedInfos = qsi.infos.filter((i) => String(i.state) === 'Flushed')
    assert.ok(flushedInfos.length >= SEGS, JSON.stringify(qsi.infos))
    assert.equal(new Set(flushedInfos.map((i) => String(i.nodeID))).size, 2, JSON.stringify(flushedInfos))

    const l2 = (a: number[], b: number[]) => a.reduce((acc, x, d) => acc + (x - b[d]!) ** 2, 0)
    const exactTop = (q: number[], k: number, pass: (i: number) => boolean = () => true) =>
      live
        .filter(pass)
        .map((i) => ({ i, d: l2(q, vec(i)) }))
        .sort((a, b) => a.d - b.d || a.i - b.i)
        .slice(0, k)
        .map((x) => x.i)
    const checkReads = async () => {
      assert.equal(await count(client, name), live.length)
      for (const probe of [7, 1234, 4321, SEGS * PER + 50]) {
        const s = await client.search({ collection_name: name, data: [vec(probe)], limit: 10, consistency_level: 'Strong' as never })
        assert.equal(s.status.error_code, 'Success', s.status.reason)
        assert.deepEqual(s.results.map((r) => Number(r.id)), exactTop(vec(probe), 10))
      }
      // offset, filter and output fields across shares
      const f = await client.search({ collection_name: name, data: [vec(99)], limit: 5, offset: 3, filter: 'tag == 2', output_fields: ['tag'], consistency_level: 'Strong' as never })
      assert.equal(f.status.error_code, 'Success', f.status.reason)
      assert.deepEqual(f.results.map((r) => Number(r.id)), exactTop(vec(99), 8, (i) => i % 7 === 2).slice(3))
      assert.ok(f.results.every((r) => Number(r.tag) === 2))
      // grouping: 3 of the 7 tag groups (offset 1), 2 hits each, as brute force groups them
      for (const probe of [2000, 77]) {
        const g = await client.search({ collection_name: name, data: [vec(probe)], limit: 3, offset: 1, group_by_field: 'tag', group_size: 2, consistency_level: 'Strong' as never } as never)
        assert.equal(g.status.error_code, 'Success', g.status.reason)
        const groups: number[][] = []
        for (const i of exactTop(vec(probe), live.length)) {
          const grp = groups.find((x) => x[0]! % 7 === i % 7)
          if (grp) {
            if (grp.length < 2) grp.push(i)
          } else if (groups.length < 4) groups.push([i])
        }
        assert.deepEqual(g.results.map((r) => Number(r.id)), groups.slice(1).flat())
      }
      // query: limit/offset in primary-key order across every share
      const q = await client.query({ collection_name: name, filter: 'tag == 3', output_fields: ['id', 'tag'], limit: 10, offset: 600, consistency_level: 'Strong' as never })
      assert.equal(q.status.error_code, 'Success', q.status.reason)
      assert.deepEqual(q.data.map((r) => Number(r.id)), live.filter((i) => i % 7 === 3).slice(600, 610))
      // search by primary keys: the query rows live on either node
      const d = await client.describeCollection({ collection_name: name })
      assert.equal(d.status.error_code, 'Success')
      for (const id of [1, 2222, 4700]) {
        const byId = await client.search({ collection_name: name, ids: [id], limit: 3, consistency_level: 'Strong' as never } as never)
        assert.equal(byId.status.error_code, 'Success', byId.status.reason)
        assert.deepEqual(byId.results.map((r) => Number(r.id)), exactTop(vec(id), 3))
      }
    }
    await checkReads()

    // Kill one holder: within 10 s the survivor holds every segment and reads are complete again.
    const victimId = Object.keys(first.c.held)[0]!
    const victim = procs.find((p) => p.child.pid === first.st.processes.find((x) => x.nodeId === victimId)!.pid)!
    const t0 = Date.now()
    await victim.kill9()
    for (;;) {
      const n = await count(client, name).catch(() => -1)
      if (n === live.length) break
      assert.ok(Date.now() - t0 < 10_000, `not complete again within 10 s (count ${n})`)
      await new Promise((r) => setTimeout(r, 100))
    }
    await checkReads()

    // A new query node joins the replica and takes a share while searches run: none fails.
    let stop = false
    const failures: string[] = []
    let ok = 0
    const load = (async () => {
      while (!stop) {
        const s = await client.search({ collection_name: name, data: [vec(1234)], limit: 10, consistency_level: 'Strong' as never })
        if (s.status.error_code !== 'Success') failures.push(s.status.reason)
        else if (JSON.stringify(s.results.map((r) => Number(r.id))) !== JSON.stringify(exactTop(vec(1234), 10))) failures.push(`incomplete: ${s.results.map((r) => r.id).join(',')}`)
        else ok++
      }
    })()
    try {
      const fresh = await start('querynode')
      await settled('the new query node took no share', (c, st) => {
        const freshId = st.processes.find((p) => p.pid === fresh.child.pid)?.nodeId
        return !!freshId && (c.held[freshId]?.segments ?? 0) > 0 && spread(c) && Object.keys(c.held).length === 2
      })
    } finally {
      stop = true
      await load
    }
    assert.deepEqual(failures.slice(0, 5), [])
    assert.ok(ok > 5, `only ${ok} searches`)
    await checkReads()

    // A manual compaction merges the spread segments while searches run: the swap on each holder
    // never shows a read both the old segments and the merged one, or neither.
    stop = false
    ok = 0
    const during = (async () => {
      while (!stop) {
        const s = await client.search({ collection_name: name, data: [vec(4321)], limit: 10, consistency_level: 'Strong' as never })
        if (s.status.error_code !== 'Success') failures.push(s.status.reason)
        else if (JSON.stringify(s.results.map((r) => Number(r.id))) !== JSON.stringify(exactTop(vec(4321), 10))) failures.push(`during compaction: ${s.results.map((r) => r.id).join(',')}`)
        else ok++
      }
    })()
    try {
      await compactAndWait(client, name)
      await new Promise((r) => setTimeout(r, 1500))
    } finally {
      stop = true
      await during
    }
    assert.deepEqual(failures.slice(0, 5), [])
    assert.ok(ok > 3, `only ${ok} searches during the compaction`)
    await checkReads()
    assert.equal(await count(client, 'c1'), 2900)
  })

  it('the data node killed during ingestion: the standby takes over; no acknowledged row is lost', async () => {
    const writer = ingest(client, 'c1', 10_000, 200)
    await new Promise((r) => setTimeout(r, 1000))
    const owner = procs.find((p) => p.role === 'datanode' && alive(p) && /owns WAL channel/.test(p.output()))
    assert.ok(owner, 'no data node owns the channel')
    await owner.kill9()
    // Writes resume once the standby owns the channel (lease TTL 2 s + recovery).
    await waitAcked([writer], 5, 20_000, 'writes did not resume')
    await writer.stop()
    const ids = writer.ids()
    await assertAckedPresent(client, 'c1', ids)
    const n = await count(client, 'c1')
    assert.ok(n >= 2900 + ids.length && n <= 2900 + ids.length + writer.failed * 200, `count ${n}, acked rows ${ids.length}, failed batches ${writer.failed}`)
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
    const writer = ingest(client, 'c1', 2_000_000, 50, 20)
    await new Promise((r) => setTimeout(r, 500))
    const base = await count(client, 'c1').catch(() => -1)
    assert.ok(base > 0)
    await infra.nats.restart({ crash: true })
    await waitAcked([writer], 5, 30_000, 'writes did not resume after the broker restart')
    await writer.stop()
    const ids = writer.ids()
    const q = await client.query({ collection_name: 'c1', filter: `id >= 2000000`, output_fields: ['id'], consistency_level: 'Strong' as never, limit: 16384 })
    assert.equal(q.status.error_code, 'Success', q.status.reason)
    const present = new Set(q.data.map((r) => Number(r.id)))
    assert.equal(ids.filter((id) => !present.has(id)).length, 0, `acknowledged rows missing after the broker restart (failed batches ${writer.failed})`)
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
    assert.deepEqual(list.data.map((c) => c.name).sort(), ['c1', 'c2', 'spread'])
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

describe('cluster with two WAL channels', { skip, timeout: 300_000 }, () => {
  it('collections spread over two data nodes; a killed owner\'s channel moves; a new data node takes one back; splits and fan-outs of writes', async () => {
    const infra = await startInfra()
    const procs: RoleProcess[] = []
    const start = async (role: string) => {
      const p = await startRole(role, [...infra.args('two'), '--dml-channels', '2', '--flush-interval-ms', '2000', '--segment-max-rows', '5000'])
      procs.push(p)
      return p
    }
    const { dmlChannelOf } = await import('../../src/streaming/routing.js')
    type Status = { processes: { nodeId: string; role: string; pid: number }[]; leaders: Record<string, string> }
    const status = () => clusterStatus<Status>(infra.etcd.url)
    const owners = async () => {
      const st = await status()
      return [0, 1].map((i) => st.leaders[`channel/by-dev-rootcoord-dml_${i}`])
    }
    const balanced = async (what: string) => {
      const by = Date.now() + 30_000
      for (;;) {
        const o = await owners()
        if (o[0] && o[1] && o[0] !== o[1]) return o as string[]
        assert.ok(Date.now() < by, `${what}: channel owners ${JSON.stringify(o)}`)
        await new Promise((r) => setTimeout(r, 300))
      }
    }
    let client: MilvusClient | undefined
    try {
      await start('mixcoord')
      await start('datanode')
      await start('datanode')
      await start('querynode')
      const proxy = await start('proxy')
      const first = await balanced('the two data nodes did not split the channels')
      client = new MilvusClient({ address: `127.0.0.1:${proxy.port}` })
      const c = client
      // Collections until one sits on each channel.
      const onChannel = new Map<string, string>()
      for (let i = 0; onChannel.size < 2; i++) {
        assert.ok(i < 12, 'collection ids never hashed onto both channels')
        const name = `w${i}`
        await createLoaded(c, name)
        const d = await c.describeCollection({ collection_name: name })
        const ch = dmlChannelOf(BigInt(d.collectionID), 2)
        // DescribeCollection names the collection's real channel (Attu shows it).
        assert.ok(d.physical_channel_names.length > 0 && d.physical_channel_names.every((p) => p === ch), JSON.stringify(d.physical_channel_names))
        if (!onChannel.has(ch)) onChannel.set(ch, name)
      }
      const names = [...onChannel.values()]
      // Writers on both collections; kill -9 the owner of the first one's channel meanwhile.
      const phase1 = names.map((name, w) => ingest(c, name, w * 1_000_000, 100))
      const allAckedPresent = async (phases: ReturnType<typeof ingest>[][]) => {
        for (const [w, name] of names.entries()) {
          const ids = phases.flatMap((p) => p[w]!.ids())
          assert.ok(ids.length > 0)
          await assertAckedPresent(c, name, ids)
        }
      }
      await new Promise((r) => setTimeout(r, 800))
      const victimNode = (await owners())[Number(dmlChannelOf(BigInt((await c.describeCollection({ collection_name: names[0]! })).collectionID), 2).slice(-1))]!
      const st = await status()
      const victim = procs.find((p) => p.child.pid === st.processes.find((x) => x.nodeId === victimNode)!.pid)!
      assert.equal(victim.role, 'datanode')
      await victim.kill9()
      await waitAcked([phase1[0]!], 5, 20_000, `writes to ${names[0]} did not resume`)
      for (const w of phase1) await w.stop()
      // The survivor owns both channels now; nothing acknowledged is lost on either.
      const o = await owners()
      assert.equal(o[0], o[1])
      assert.notEqual(o[0], victimNode)
      await allAckedPresent([phase1])
      // A new data node takes a channel back while both collections are written: the old owner
      // hands it over (writes refused on the way are re-sent by the proxy) and nothing is lost.
      const phase2 = names.map((name, w) => ingest(c, name, phase1[w]!.next, 100))
      await start('datanode')
      const after = await balanced('the new data node took no channel')
      assert.ok(!after.includes(victimNode) && after.some((o) => !first.includes(o)), `owners before ${JSON.stringify(first)}, after ${JSON.stringify(after)}`)
      await waitAcked(phase2, 5, 20_000, 'writes did not continue after the hand-over')
      for (const w of phase2) await w.stop()
      // A hand-over loses no write and fails none: refused writes are re-sent to the new owner.
      assert.equal(phase2.reduce((a, w) => a + w.failed, 0), 0, 'writes failed during the hand-over')
      await allAckedPresent([phase1, phase2])
      const failed = [...phase1, ...phase2].reduce((a, w) => a + w.failed, 0)
      // Flush of both collections in one call is split over the two owners, FlushAll reaches
      // both, and a compaction's state is found on its owner.
      for (const name of names) assert.equal((await c.insert({ collection_name: name, data: rows(5_000_000, 10) })).status.error_code, 'Success')
      const fl = await c.flush({ collection_names: names })
      assert.equal(fl.status.error_code, 'Success', fl.status.reason)
      // The split Flush's merged reply names both collections.
      assert.deepEqual(Object.keys(fl.coll_segIDs ?? {}).sort(), [...names].sort())
      const all = await c.flushAll()
      assert.equal(all.status.error_code, 'Success', all.status.reason)
      for (const name of names) {
        const comp = await c.compact({ collection_name: name })
        assert.equal(comp.status.error_code, 'Success', comp.status.reason)
        const cs = await c.getCompactionState({ compactionID: comp.compactionID })
        assert.equal(cs.status.error_code, 'Success', cs.status.reason)
        // Batches whose outcome the writer did not learn (the kill) may or may not be in.
        const n = await count(c, name)
        const w = names.indexOf(name)
        const sure = (phase1[w]!.acked.length + phase2[w]!.acked.length) * 100 + 10
        assert.ok(n >= sure && n <= sure + failed * 100, `${name}: count ${n}, acknowledged ${sure}, unknown ${failed * 100}`)
      }
    } finally {
      await client?.closeConnection().catch(() => undefined)
      for (const p of procs) await p.stop().catch(() => undefined)
      await infra.stop()
    }
  })
})
