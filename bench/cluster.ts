/**
 * Cluster benchmark (issue 5): the same workload against standalone and against a cluster on this
 * machine (1 proxy, mixcoord, 2 query nodes, 1 data node, 1 index node over real etcd, NATS
 * JetStream and Ceph RGW), both through the official SDK, plus the time from a query-node kill to
 * complete results. Every process shares these 2 cores, so the ratios show the cost of the extra
 * hops and processes, not what separate hosts would give.
 *
 * Also a spread collection: the same rows in 8 flushed segments, one replica over both query
 * nodes, so every search is delegated (own share + one share read from the other node): its QPS
 * against the replicated collection, and the time from killing one holder to complete results.
 *
 * Sizes: BENCH_CLUSTER_ROWS (default 20,000) x BENCH_CLUSTER_DIM (128), BENCH_CLUSTER_QUERIES (300).
 */
import { DataType, MilvusClient } from '@zilliz/milvus2-sdk-node'
import { rm } from 'node:fs/promises'
import { startInfra, startRole, type RoleProcess } from '../tests/cluster/harness.js'
import { startChildServer, tempDataDir } from '../tests/e2e/server.js'
import { rng } from '../src/index/ann-fixture.js'

const envInt = (k: string, d: number) => (process.env[k] ? Number(process.env[k]) : d)

export interface ClusterBenchResult {
  readonly rows: number
  readonly dim: number
  readonly insert: { standalone: number; cluster: number; ratio: number }
  readonly search: { standalone: number; cluster: number; ratio: number }
  /** ms from kill -9 of one of two query nodes to the first complete answer. */
  readonly queryNodeKillToCompleteMs: number
  /** ms from starting a replacement query node (the only one) to its first complete answer. */
  readonly replacementQueryNodeMs: number
  /** One replica spread over both query nodes (8 segments). */
  readonly spread: { segmentsPerNode: number[]; searchQps: number; replicatedSearchQps: number; ratio: number; holderKillToCompleteMs: number }
}


async function workload(client: MilvusClient, n: number, dim: number, queries: number, replicas = 1, name = 'bench', flushes = 1): Promise<{ insert: number; search: number }> {
  const r = rng(7)
  await client.createCollection({
    collection_name: name,
    fields: [
      { name: 'id', data_type: DataType.Int64, is_primary_key: true },
      { name: 'v', data_type: DataType.FloatVector, dim },
    ],
  })
  await client.createIndex({ collection_name: name, field_name: 'v', index_type: 'HNSW', metric_type: 'L2', params: { M: 16, efConstruction: 64 } })
  await client.loadCollectionSync({ collection_name: name, replica_number: replicas })
  const t0 = performance.now()
  const every = Math.ceil(n / flushes / 1000) * 1000
  for (let i = 0; i < n; i += 1000) {
    const data = Array.from({ length: Math.min(1000, n - i) }, (_, k) => ({ id: i + k, v: Array.from({ length: dim }, () => r() * 2 - 1) }))
    const res = await client.insert({ collection_name: name, data })
    if (res.status.error_code !== 'Success') throw new Error(res.status.reason)
    // Several flushes make several segments (the spread collection's unit of placement).
    if (flushes > 1 && (i + 1000) % every === 0 && i + 1000 < n) await client.flushSync({ collection_names: [name] })
  }
  const insert = n / ((performance.now() - t0) / 1000)
  await client.flushSync({ collection_names: [name] })
  const qs = Array.from({ length: queries }, () => Array.from({ length: dim }, () => r() * 2 - 1))
  // Warm-up, and let index builds finish so both sides search the same structures.
  await new Promise((res) => setTimeout(res, 3000))
  for (const q of qs.slice(0, 20)) await client.search({ collection_name: name, data: [q], limit: 10 })
  const t1 = performance.now()
  for (const q of qs) {
    const res = await client.search({ collection_name: name, data: [q], limit: 10, params: { ef: 64 } })
    if (res.status.error_code !== 'Success') throw new Error(res.status.reason)
  }
  return { insert, search: queries / ((performance.now() - t1) / 1000) }
}

async function completeCount(client: MilvusClient, n: number, name = 'bench'): Promise<boolean> {
  const r = await client.query({ collection_name: name, filter: '', output_fields: ['count(*)'], consistency_level: 'Strong' as never }).catch(() => undefined)
  return r?.status.error_code === 'Success' && Number(r.data[0]?.['count(*)']) === n
}

export async function runClusterBench(): Promise<ClusterBenchResult> {
  const n = envInt('BENCH_CLUSTER_ROWS', 20_000)
  const dim = envInt('BENCH_CLUSTER_DIM', 128)
  const queries = envInt('BENCH_CLUSTER_QUERIES', 300)

  const dir = await tempDataDir()
  const standalone = await startChildServer(dir)
  let sa: { insert: number; search: number }
  try {
    const c = new MilvusClient({ address: standalone.address })
    sa = await workload(c, n, dim, queries)
    await c.closeConnection()
  } finally {
    await standalone.stop()
    await rm(dir, { recursive: true, force: true })
  }

  const infra = await startInfra()
  const procs: RoleProcess[] = []
  const start = async (role: string) => {
    // No background compaction: it would merge the spread collection's segments mid-run.
    const p = await startRole(role, [...infra.args('bench'), '--log-level', 'warn', '--compaction-interval-ms', '3600000'])
    procs.push(p)
    return p
  }
  try {
    await start('mixcoord')
    await start('datanode')
    const qn1 = await start('querynode')
    const qn2 = await start('querynode')
    await start('indexnode')
    const proxy = await start('proxy')
    const c = new MilvusClient({ address: `127.0.0.1:${proxy.port}` })
    // Two replicas, one per query node: the kill below then measures failover, not a reload.
    const cl = await workload(c, n, dim, queries, 2)
    const sp = await workload(c, n, dim, queries, 1, 'spread', 8)
    const segmentsPerNode = await heldSegments(infra.etcd.url, 'spread')

    // Kill one query node: the replicated collection fails over, the spread one reloads the
    // dead node's share on the survivor.
    const tKill = performance.now()
    await qn1.kill9()
    while (!(await completeCount(c, n))) await new Promise((r) => setTimeout(r, 10))
    const killToComplete = performance.now() - tKill
    while (!(await completeCount(c, n, 'spread'))) await new Promise((r) => setTimeout(r, 10))
    const spreadKill = performance.now() - tKill

    await qn2.kill9()
    const tNew = performance.now()
    await start('querynode')
    while (!(await completeCount(c, n))) await new Promise((r) => setTimeout(r, 10))
    const replacement = performance.now() - tNew
    await c.closeConnection()
    return {
      rows: n,
      dim,
      insert: { standalone: sa.insert, cluster: cl.insert, ratio: cl.insert / sa.insert },
      search: { standalone: sa.search, cluster: cl.search, ratio: cl.search / sa.search },
      queryNodeKillToCompleteMs: killToComplete,
      replacementQueryNodeMs: replacement,
      spread: { segmentsPerNode, searchQps: sp.search, replicatedSearchQps: cl.search, ratio: sp.search / cl.search, holderKillToCompleteMs: spreadKill },
    }
  } finally {
    for (const p of procs) await p.stop().catch(() => undefined)
    await infra.stop()
  }
}

/** Flushed segments each query node holds of a collection, from `harrier status --json`. */
async function heldSegments(etcdUrl: string, name: string): Promise<number[]> {
  const { execFile } = await import('node:child_process')
  const cli = new URL('../src/roles/cli.js', import.meta.url).pathname
  for (let i = 0; ; i++) {
    const out = await new Promise<string>((resolve) => execFile(process.execPath, [cli, 'status', '--etcd', etcdUrl.replace('etcd://', ''), '--json'], (_e, stdout) => resolve(stdout)))
    const c = (JSON.parse(out) as { collections: { name: string; flushedSegments: number; held: Record<string, { segments: number }> }[] }).collections.find((x) => x.name === name)
    const held = Object.values(c?.held ?? {}).map((h) => h.segments)
    if ((c && held.reduce((a, x) => a + x, 0) === c.flushedSegments) || i >= 50) return held.sort((a, b) => b - a)
    await new Promise((r) => setTimeout(r, 200))
  }
}

export function clusterMarkdown(r: ClusterBenchResult): string {
  const f = (x: number) => x.toFixed(0)
  return [
    `### Cluster vs standalone (${r.rows.toLocaleString('en-US')} x ${r.dim}, SDK, 1 client; all processes on this machine)`,
    '',
    '| measure | standalone | cluster | cluster / standalone |',
    '|---|---|---|---|',
    `| insert rows/s (batches of 1,000) | ${f(r.insert.standalone)} | ${f(r.insert.cluster)} | ${r.insert.ratio.toFixed(2)} |`,
    `| search QPS (HNSW, ef 64, top 10) | ${f(r.search.standalone)} | ${f(r.search.cluster)} | ${r.search.ratio.toFixed(2)} |`,
    '',
    '| cluster search QPS (same rows and queries) | two replicas, one node each | one replica spread over both nodes | spread / replicated |',
    '|---|---|---|---|',
    `| segments per node: ${r.spread.segmentsPerNode.join(' + ')} | ${f(r.spread.replicatedSearchQps)} | ${f(r.spread.searchQps)} | ${r.spread.ratio.toFixed(2)} |`,
    '',
    `Query node kill -9 (2 replicas) to a complete count: ${f(r.queryNodeKillToCompleteMs)} ms; ` +
      `the spread collection (1 replica) complete again after ${f(r.spread.holderKillToCompleteMs)} ms; ` +
      `a replacement for the only query node, from process start to a complete count: ${f(r.replacementQueryNodeMs)} ms.`,
  ].join('\n')
}
