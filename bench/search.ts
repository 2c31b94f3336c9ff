/**
 * Search benchmark (issue 4's harness): Harrier through the official SDK against the same HNSW
 * kernel (usearch) called in-process, on the same Gaussian-mixture data, with recall@10 from exact
 * ground truth. Reports single-client and 8-client QPS, filtered search at several pass rates, and
 * index bytes per raw vector byte.
 *
 * Sizes: BENCH_SEARCH_ROWS (default 100,000), BENCH_SEARCH_DIM (128), BENCH_SEARCH_QUERIES (300).
 */
import { readdirSync, statSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { rm } from 'node:fs/promises'
import { DataType, MilvusClient } from '@zilliz/milvus2-sdk-node'
import { startNullServer } from './null-server.js'
import { Bitset } from '../src/common/bitset.js'
import { gaussianMixture } from '../src/index/ann-fixture.js'
import { bruteForceSearch, type Hits } from '../src/index/index.js'
import type { VectorColumn } from '../src/schema/columns.js'
import { startChildServer, tempDataDir, type ChildServer } from '../tests/e2e/server.js'

const K = 10
const TARGET = 0.95
const EFS = [10, 16, 24, 32, 48, 64, 96, 128, 192]
const PASS_RATES = [0.001, 0.01, 0.1, 0.5]

export interface SweepPoint {
  readonly ef: number
  readonly qps: number
  readonly recall: number
  readonly p50Ms: number
  readonly p99Ms: number
}

export interface SearchBenchResult {
  readonly rows: number
  readonly dim: number
  readonly kernel: readonly SweepPoint[]
  readonly harrier: readonly SweepPoint[]
  readonly lance: readonly SweepPoint[]
  readonly lanceAtTarget?: SweepPoint
  readonly kernelAtTarget?: SweepPoint
  readonly harrierAtTarget?: SweepPoint
  readonly harrier8Clients?: { qps: number; recall: number }
  readonly filtered: readonly { passRate: number; qps: number; recall: number }[]
  readonly buildMs: { kernel: number; harrier: number }
  /** The same SDK search calls against a server that answers instantly: the client-side ceiling. */
  readonly sdkCeilingQps: number
  readonly indexBytesPerVectorByte: number
}

function recallOf(got: readonly number[][], truth: readonly Hits[]): number {
  let hit = 0
  let want = 0
  got.forEach((ids, q) => {
    const t = new Set(Array.from(truth[q]!.rows))
    want += t.size
    for (const id of ids) if (t.has(id)) hit++
  })
  return want === 0 ? 1 : hit / want
}

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0
}

function dirBytes(dir: string): number {
  let n = 0
  let entries: string[] = []
  try {
    entries = readdirSync(dir)
  } catch {
    return 0
  }
  for (const e of entries) {
    const p = join(dir, e)
    const s = statSync(p)
    n += s.isDirectory() ? dirBytes(p) : s.size
  }
  return n
}

async function lanceSweep(base: Float32Array, qdata: Float32Array, rows: number, dim: number, nq: number, truth: readonly Hits[]): Promise<SweepPoint[]> {
  const lancedb = await import('@lancedb/lancedb')
  const dir = await tempDataDir()
  try {
    const db = await lancedb.connect(dir)
    const data = Array.from({ length: rows }, (_, i) => ({ id: i, vector: Array.from(base.subarray(i * dim, (i + 1) * dim)) }))
    const table = await db.createTable('t', data, { mode: 'overwrite' })
    await table.createIndex('vector', { config: lancedb.Index.hnswSq({ numPartitions: 1, distanceType: 'l2', m: 16, efConstruction: 128 }) })
    const out: SweepPoint[] = []
    for (const ef of EFS) {
      const lat: number[] = []
      const got: number[][] = []
      const start = performance.now()
      for (let i = 0; i < nq; i++) {
        const s = performance.now()
        const res = (await table.vectorSearch(Array.from(qdata.subarray(i * dim, (i + 1) * dim))).distanceType('l2').select(['id']).limit(K).ef(Math.max(ef, K)).toArray()) as { id: number }[]
        got.push(res.map((r) => Number(r.id)))
        lat.push(performance.now() - s)
      }
      const ms = performance.now() - start
      lat.sort((a, b) => a - b)
      out.push({ ef, qps: (nq * 1000) / ms, recall: recallOf(got, truth), p50Ms: pct(lat, 0.5), p99Ms: pct(lat, 0.99) })
    }
    table.close()
    db.close()
    return out
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

export async function runSearchBench(): Promise<SearchBenchResult> {
  const rows = Number(process.env.BENCH_SEARCH_ROWS ?? 100_000)
  const dim = Number(process.env.BENCH_SEARCH_DIM ?? 128)
  const nq = Number(process.env.BENCH_SEARCH_QUERIES ?? 300)
  const M = 16
  const efConstruction = 128
  const base = gaussianMixture({ rows, dim, seed: 1, clusters: 100 })
  const qdata = gaussianMixture({ rows: nq, dim, seed: 2, clusters: 100 })
  const data: VectorColumn = { type: 'FloatVector', dim, data: base }
  const queries: VectorColumn = { type: 'FloatVector', dim, data: qdata }
  const truth = bruteForceSearch(data, queries, { metric: 'L2', k: K })
  const qArrays = Array.from({ length: nq }, (_, i) => Array.from(qdata.subarray(i * dim, (i + 1) * dim)))

  // ---- the kernel in-process
  const u = createRequire(import.meta.url)('usearch') as typeof import('usearch')
  let t0 = performance.now()
  const direct = new u.Index({ dimensions: dim, metric: u.MetricKind.L2sq, quantization: u.ScalarKind.F32, connectivity: M, expansion_add: efConstruction, expansion_search: 1, multi: false })
  direct.add(BigUint64Array.from({ length: rows }, (_, i) => BigInt(i)), base, 0)
  const kernelBuild = performance.now() - t0
  const kernel: SweepPoint[] = []
  for (const ef of EFS) {
    const lat: number[] = []
    const got: number[][] = []
    const start = performance.now()
    for (let i = 0; i < nq; i++) {
      const s = performance.now()
      // Same contract as Harrier's wrapper: the beam is max(ef, k), the best k are kept.
      const m = direct.search(qdata.slice(i * dim, (i + 1) * dim), Math.max(ef, K), 1)
      got.push(Array.from(m.keys.subarray(0, K), Number))
      lat.push(performance.now() - s)
    }
    const ms = performance.now() - start
    lat.sort((a, b) => a - b)
    kernel.push({ ef, qps: (nq * 1000) / ms, recall: recallOf(got, truth), p50Ms: pct(lat, 0.5), p99Ms: pct(lat, 0.99) })
  }

  // ---- LanceDB embedded (HNSW-SQ, one partition), the same data and queries
  const lance = await lanceSweep(base, qdata, rows, dim, nq, truth)

  // ---- Harrier through the SDK
  const dir = await tempDataDir()
  let server: ChildServer | undefined
  try {
    server = await startChildServer(dir, ['--log-level', 'warn', '--segment-max-rows', String(rows + 1)])
    const client = server.client()
    await client.connectPromise
    await client.createCollection({
      collection_name: 'bench',
      consistency_level: 'Bounded',
      fields: [
        { name: 'id', data_type: DataType.Int64, is_primary_key: true },
        { name: 'v', data_type: DataType.FloatVector, dim },
        { name: 'bucket', data_type: DataType.Int32 },
      ],
    })
    const batch = 5000
    for (let i = 0; i < rows; i += batch) {
      const n = Math.min(batch, rows - i)
      const res = await client.insert({
        collection_name: 'bench',
        data: Array.from({ length: n }, (_, j) => ({ id: i + j, v: Array.from(base.subarray((i + j) * dim, (i + j + 1) * dim)), bucket: (i + j) % 1000 })),
      })
      if (res.status.error_code !== 'Success') throw new Error(res.status.reason)
    }
    await client.flushSync({ collection_names: ['bench'] })
    t0 = performance.now()
    await client.createIndex({ collection_name: 'bench', field_name: 'v', index_type: 'HNSW', metric_type: 'L2', params: { M, efConstruction } })
    await client.loadCollection({ collection_name: 'bench' })
    for (;;) {
      const d = (await client.describeIndex({ collection_name: 'bench', field_name: 'v' })).index_descriptions[0]!
      if (d.state === 'Finished' && Number(d.indexed_rows) >= rows) break
      if (d.state === 'Failed') throw new Error(d.index_state_fail_reason)
      await new Promise((r) => setTimeout(r, 100))
    }
    const harrierBuild = performance.now() - t0
    const indexBytes = dirBytes(join(dir, 'objects', 'index_files'))

    const searchAll = async (c: MilvusClient, ef: number, idx: number[], filter?: string): Promise<{ got: number[][]; lat: number[] }> => {
      const got: number[][] = []
      const lat: number[] = []
      for (const i of idx) {
        const s = performance.now()
        const res = await c.search({ collection_name: 'bench', data: [qArrays[i]!], limit: K, params: { ef }, filter, output_fields: ['id'] })
        lat.push(performance.now() - s)
        if (res.status.error_code !== 'Success') throw new Error(res.status.reason)
        got[i] = res.results.map((h) => Number(h.id))
      }
      return { got, lat }
    }
    const all = Array.from({ length: nq }, (_, i) => i)
    await searchAll(client, 64, all.slice(0, 20)) // warm-up
    const harrier: SweepPoint[] = []
    for (const ef of EFS) {
      const start = performance.now()
      const { got, lat } = await searchAll(client, ef, all)
      const ms = performance.now() - start
      lat.sort((a, b) => a - b)
      harrier.push({ ef, qps: (nq * 1000) / ms, recall: recallOf(got, truth), p50Ms: pct(lat, 0.5), p99Ms: pct(lat, 0.99) })
    }
    const kernelAtTarget = kernel.find((p) => p.recall >= TARGET)
    const harrierAtTarget = harrier.find((p) => p.recall >= TARGET)

    let harrier8Clients: { qps: number; recall: number } | undefined
    if (harrierAtTarget) {
      const clients = Array.from({ length: 8 }, () => server!.client())
      const start = performance.now()
      const parts = await Promise.all(clients.map((c, ci) => searchAll(c, harrierAtTarget.ef, all.filter((i) => i % 8 === ci))))
      const ms = performance.now() - start
      const got: number[][] = []
      for (const p of parts) p.got.forEach((g, i) => g && (got[i] = g))
      harrier8Clients = { qps: (nq * 1000) / ms, recall: recallOf(got, truth) }
    }

    const filtered: { passRate: number; qps: number; recall: number }[] = []
    const ef = harrierAtTarget?.ef ?? 64
    for (const passRate of PASS_RATES) {
      const limit = Math.round(1000 * passRate)
      const allow = new Bitset(rows)
      for (let i = 0; i < rows; i++) if (i % 1000 < limit) allow.set(i)
      const ftruth = bruteForceSearch(data, queries, { metric: 'L2', k: K, allow })
      const start = performance.now()
      const { got } = await searchAll(client, ef, all, limit >= 1 ? `bucket < ${limit}` : 'bucket < 0')
      const ms = performance.now() - start
      filtered.push({ passRate, qps: (nq * 1000) / ms, recall: recallOf(got, ftruth) })
    }
    const nul = await startNullServer({
      name: 'bench',
      description: '',
      enableDynamicField: false,
      functions: [],
      fields: [
        { fieldId: 100, name: 'id', description: '', dataType: 'Int64', isPrimaryKey: true, autoId: false, typeParams: {}, nullable: false, isDynamic: false, isPartitionKey: false, isClusteringKey: false },
        { fieldId: 101, name: 'v', description: '', dataType: 'FloatVector', isPrimaryKey: false, autoId: false, typeParams: { dim: String(dim) }, dim, nullable: false, isDynamic: false, isPartitionKey: false, isClusteringKey: false },
      ],
    })
    const nc = new MilvusClient({ address: nul.address, logLevel: 'error' } as never)
    const ceilStart = performance.now()
    for (let i = 0; i < nq; i++) await nc.search({ collection_name: 'bench', data: [qArrays[i]!], limit: K, params: { ef: 16 } })
    const sdkCeilingQps = (nq * 1000) / (performance.now() - ceilStart)
    await nc.closeConnection()
    await nul.stop()
    return {
      rows,
      dim,
      sdkCeilingQps,
      kernel,
      harrier,
      lance,
      lanceAtTarget: lance.find((p) => p.recall >= TARGET),
      kernelAtTarget,
      harrierAtTarget,
      harrier8Clients,
      filtered,
      buildMs: { kernel: kernelBuild, harrier: harrierBuild },
      indexBytesPerVectorByte: indexBytes / (rows * dim * 4),
    }
  } finally {
    await server?.stop()
    await rm(dir, { recursive: true, force: true })
  }
}
