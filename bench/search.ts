/**
 * Search benchmark (issue 4's harness): Harrier through the official SDK against the same HNSW
 * kernel called in-process (the column graph for float32 rows, else usearch with Harrier's storage
 * type), and usearch (f32) in-process as a peer, on the same data, with recall@10 from exact
 * ground truth. Reports single-client and 8-client QPS, filtered search at
 * several pass rates, LanceDB embedded on the same data, the SDK's own ceiling, and memory per
 * vector (raw bytes, the loaded HNSW index alone, and the whole server process).
 *
 * Data sets: see datasets.ts. Sizes come from run.ts (BENCH_SEARCH_ROWS / BENCH_SEARCH_DIM for the
 * 128-dim set, BENCH_SEARCH768_ROWS for the 768-dim one, BENCH_SEARCH_QUERIES for both).
 */
import { execFileSync } from 'node:child_process'
import { cpus } from 'node:os'
import { readdirSync, statSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { rm } from 'node:fs/promises'
import * as grpc from '@grpc/grpc-js'
import { DataType, MilvusClient } from '@zilliz/milvus2-sdk-node'
import { loadMilvusProto } from '../src/schema/milvus-proto.js'
import { startNullServer } from './null-server.js'
import type { BenchSet } from './datasets.js'
import { Bitset } from '../src/common/bitset.js'
import { bruteForceSearch, type Hits } from '../src/index/index.js'
import { newColumnGraph } from '../src/index/column-graph.js'
import type { VectorColumn } from '../src/schema/columns.js'
import { startChildServer, tempDataDir, type ChildServer } from '../tests/e2e/server.js'

const K = 10
const TARGET = 0.95
const EFS = [10, 16, 24, 32, 48, 64, 96, 128, 192]
const PASS_RATES = [0.001, 0.01, 0.1, 0.5]
const M = 16
/** LanceDB refine factor (see lanceSweep). */
const LANCE_REFINE = 2
const EF_CONSTRUCTION = 128

export interface SweepPoint {
  readonly ef: number
  readonly qps: number
  readonly recall: number
  readonly p50Ms: number
  readonly p99Ms: number
}

export interface MemoryPerVector {
  /** dim x 4: the float32 vector itself. */
  readonly rawBytes: number
  /** Storage type of the vectors usearch keeps inside the graph (its own copy). */
  readonly indexScalar: string
  /** RSS taken by the HNSW index (graph + usearch's vector copy) loaded alone in a fresh process. */
  readonly indexBytes: number
  /**
   * RSS of a server serving the loaded, indexed collection after a restart and a GC, minus an
   * empty server's: the segment's columns (vector, primary key, scalar field), the index, and
   * whatever else loading keeps.
   */
  readonly serverBytes: number
  /** Of serverBytes: ArrayBuffers (the segment's columns, visibility and the like). */
  readonly serverArrayBufferBytes: number
  /** Of serverBytes: live JS heap objects. */
  readonly serverHeapBytes: number
  /** Serialized index files (header, graph, raw rows) per vector. */
  readonly indexFileBytes: number
}

export interface SearchBenchResult {
  readonly set: string
  readonly label: string
  readonly rows: number
  readonly dim: number
  readonly metric: string
  readonly queries: number
  /** The kernel Harrier's index runs, in-process, one thread. */
  readonly kernel: readonly SweepPoint[]
  /** Which kernel that is: 'column graph' or 'usearch <storage>'. */
  readonly kernelName: string
  /** usearch (f32) in-process, one thread: the peer a user would embed instead. */
  readonly usearch: readonly SweepPoint[]
  readonly harrier: readonly SweepPoint[]
  readonly lance: readonly SweepPoint[]
  readonly lanceAtTarget?: SweepPoint
  readonly kernelAtTarget?: SweepPoint
  readonly harrierAtTarget?: SweepPoint
  readonly harrier8Clients?: { qps: number; recall: number }
  readonly filtered: readonly { passRate: number; qps: number; recall: number }[]
  readonly buildMs: { kernel: number; usearch: number; harrier: number }
  /** The same SDK search calls against a server that answers instantly: the client-side ceiling. */
  readonly sdkCeilingQps: number
  /**
   * Harrier 1 client through a bare grpc-js client replaying the SDK's encoded requests (no SDK
   * work per call), at the ef where the SDK run first reached the target recall.
   */
  readonly rawClient?: SweepPoint
  readonly memory: MemoryPerVector
}

/** Recall of the returned ids against exact ground truth, over all queries. */
export function recallOf(got: readonly number[][], truth: readonly Hits[]): number {
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
  for (const f of walk(dir)) n += statSync(f).size
  return n
}

function walk(dir: string): string[] {
  let entries: string[] = []
  try {
    entries = readdirSync(dir)
  } catch {
    return []
  }
  return entries.flatMap((e) => {
    const p = join(dir, e)
    return statSync(p).isDirectory() ? walk(p) : [p]
  })
}

async function lanceSweep(set: BenchSet, truth: readonly Hits[]): Promise<SweepPoint[]> {
  const { base, rows, dim } = set
  const distance = set.metric === 'L2' ? 'l2' : 'cosine'
  const lancedb = await import('@lancedb/lancedb')
  const dir = await tempDataDir()
  try {
    const db = await lancedb.connect(dir)
    const data = Array.from({ length: rows }, (_, i) => ({ id: i, vector: Array.from(base.subarray(i * dim, (i + 1) * dim)) }))
    const table = await db.createTable('t', data, { mode: 'overwrite' })
    await table.createIndex('vector', { config: lancedb.Index.hnswSq({ numPartitions: 1, distanceType: distance, m: M, efConstruction: EF_CONSTRUCTION }) })
    // LanceDB's HNSW indexes quantize the vectors (SQ here); a refine factor re-ranks the
    // candidates with the full vectors, its own knob for recall (without it, recall stopped at
    // 0.93 on the 128-d set, short of the 0.95 the comparison is made at).
    const out = await sweep(set, truth, async (q, wanted) => {
      const res = (await table.vectorSearch(Array.from(q)).distanceType(distance).select(['id']).limit(K).ef(Math.max(wanted, K * LANCE_REFINE)).refineFactor(LANCE_REFINE).toArray()) as { id: number }[]
      return res.map((r) => r.id)
    })
    table.close()
    db.close()
    return out
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

/**
 * ef sweep of one in-process engine: `search(query, wanted)` returns the first keys (rows) of a
 * beam of `wanted`, nearest first (synchronously, or as a promise for LanceDB).
 */
async function sweep(
  set: BenchSet,
  truth: readonly Hits[],
  search: (q: Float32Array, wanted: number) => ArrayLike<number | bigint> | Promise<ArrayLike<number | bigint>>,
): Promise<SweepPoint[]> {
  const { queries: qdata, dim } = set
  const nq = qdata.length / dim
  const points: SweepPoint[] = []
  // Warm-up: one pass over the queries, as Harrier gets.
  for (let i = 0; i < nq; i++) await search(qdata.slice(i * dim, (i + 1) * dim), Math.max(EFS[0]!, K))
  for (const ef of EFS) {
    const lat: number[] = []
    const got: number[][] = []
    const start = performance.now()
    for (let i = 0; i < nq; i++) {
      const s = performance.now()
      // Same contract as Harrier's wrapper: the beam is max(ef, k), the best k are kept.
      const found = search(qdata.slice(i * dim, (i + 1) * dim), Math.max(ef, K))
      // Synchronous kernels are timed without an await per query.
      const keys = found instanceof Promise ? await found : found
      got.push(Array.from({ length: Math.min(K, keys.length) }, (_, j) => Number(keys[j])))
      lat.push(performance.now() - s)
    }
    const ms = performance.now() - start
    lat.sort((a, b) => a - b)
    points.push({ ef, qps: (nq * 1000) / ms, recall: recallOf(got, truth), p50Ms: pct(lat, 0.5), p99Ms: pct(lat, 0.99) })
  }
  return points
}

/** Harrier's column graph in-process: built on all cores, searched synchronously on one thread. */
async function columnGraphSweep(set: BenchSet, truth: readonly Hits[]): Promise<{ points: SweepPoint[]; buildMs: number }> {
  const t0 = performance.now()
  const g = newColumnGraph(set.base, set.dim, set.metric === 'L2' ? 'l2' : 'cos', M, EF_CONSTRUCTION, null, cpus().length)
  g.add(0, set.rows, cpus().length)
  const buildMs = performance.now() - t0
  return { points: await sweep(set, truth, (q, wanted) => { const m = g.search(q, 1, wanted, null, 0); return m.keys.subarray(0, m.counts[0]) }), buildMs }
}

async function usearchSweep(set: BenchSet, scalar: string, truth: readonly Hits[]): Promise<{ points: SweepPoint[]; buildMs: number }> {
  const { base, rows, dim } = set
  const u = createRequire(import.meta.url)('usearch') as typeof import('usearch')
  const quantization = { f32: u.ScalarKind.F32, f16: u.ScalarKind.F16, bf16: u.ScalarKind.BF16 }[scalar] ?? u.ScalarKind.F32
  const t0 = performance.now()
  const direct = new u.Index({
    dimensions: dim,
    metric: set.metric === 'L2' ? u.MetricKind.L2sq : u.MetricKind.Cos,
    quantization,
    connectivity: M,
    expansion_add: EF_CONSTRUCTION,
    expansion_search: 1,
    multi: false,
  })
  direct.add(BigUint64Array.from({ length: rows }, (_, i) => BigInt(i)), base, 0)
  const buildMs = performance.now() - t0
  return { points: await sweep(set, truth, (q, wanted) => direct.search(q, wanted, 1).keys), buildMs }
}

/** Replays captured SDK Search requests through a bare grpc-js client, one at a time. */
async function rawGrpcSweep(address: string, requests: readonly Record<string, unknown>[], truth: readonly Hits[], ef: number): Promise<SweepPoint> {
  const proto = loadMilvusProto()
  const Ctor = grpc.makeGenericClientConstructor(proto.service, 'MilvusService')
  const client = new Ctor(address, grpc.credentials.createInsecure(), { 'grpc.max_receive_message_length': 256 * 1024 * 1024 })
  const call = (req: Record<string, unknown>) =>
    new Promise<Record<string, unknown>>((resolve, reject) =>
      (client as unknown as Record<string, (r: unknown, cb: (e: Error | null, v: Record<string, unknown>) => void) => void>).Search!.call(client, req, (e, v) => (e ? reject(e) : resolve(v))),
    )
  try {
    for (const req of requests) await call(req) // warm-up: one pass, as every engine gets
    const got: number[][] = []
    const lat: number[] = []
    const start = performance.now()
    for (const req of requests) {
      const s = performance.now()
      const res = await call(req)
      lat.push(performance.now() - s)
      const status = res.status as { code?: number }
      if (status.code) throw new Error(`raw search failed: ${JSON.stringify(res.status)}`)
      const ids = (res.results as { ids?: { int_id?: { data?: string[] } } }).ids?.int_id?.data ?? []
      got.push(ids.map(Number))
    }
    const ms = performance.now() - start
    lat.sort((a, b) => a - b)
    return { ef, qps: (requests.length * 1000) / ms, recall: recallOf(got, truth), p50Ms: pct(lat, 0.5), p99Ms: pct(lat, 0.99) }
  } finally {
    client.close()
  }
}

/** The `bench` collection: id, vector, and the Int32 `bucket` the filtered runs select on. */
export async function createBenchCollection(client: MilvusClient, dim: number): Promise<void> {
  const r = await client.createCollection({
    collection_name: 'bench',
    consistency_level: 'Bounded',
    fields: [
      { name: 'id', data_type: DataType.Int64, is_primary_key: true },
      { name: 'v', data_type: DataType.FloatVector, dim },
      { name: 'bucket', data_type: DataType.Int32 },
    ],
  })
  if (r.error_code !== 'Success') throw new Error(r.reason)
}

/** Waits until the `bench` collection's vector index covers `rows` rows (shared by the benches). */
export async function waitIndexed(client: MilvusClient, rows: number): Promise<void> {
  for (;;) {
    const d = (await client.describeIndex({ collection_name: 'bench', field_name: 'v' })).index_descriptions[0]!
    if (d.state === 'Finished' && Number(d.indexed_rows) >= rows) return
    if (d.state === 'Failed') throw new Error(d.index_state_fail_reason)
    await new Promise((r) => setTimeout(r, 100))
  }
}

interface ServedMemory {
  rss: number
  heapUsed: number
  external: number
  arrayBuffers: number
}

/** A server's memory after GC, with the collection loaded or (no collection) empty; served-memory.ts. */
function servedMemory(dataDir: string, collection?: string, rows?: number): ServedMemory {
  const script = join(dirname(fileURLToPath(import.meta.url)), 'served-memory.js')
  const args = ['--expose-gc', script, dataDir, ...(collection ? [collection, String(rows)] : [])]
  const lines = execFileSync(process.execPath, args, { encoding: 'utf8' }).trim().split('\n')
  return JSON.parse(lines[lines.length - 1]!) as ServedMemory
}

/** The loaded index alone, in a fresh process (index-memory.ts); bytes per indexed vector. */
function indexMemory(indexDir: string): { bytesPerVector: number; scalar: string } {
  const script = join(dirname(fileURLToPath(import.meta.url)), 'index-memory.js')
  const res = JSON.parse(execFileSync(process.execPath, ['--expose-gc', script, indexDir], { encoding: 'utf8' })) as { rssDelta: number; rows: number; scalar: string }
  return { bytesPerVector: res.rssDelta / res.rows, scalar: res.scalar }
}

export async function runSearchBench(set: BenchSet, opts: { filtered: boolean }): Promise<SearchBenchResult> {
  const { base, queries: qdata, rows, dim, metric } = set
  const nq = qdata.length / dim
  const data: VectorColumn = { type: 'FloatVector', dim, data: base }
  const queries: VectorColumn = { type: 'FloatVector', dim, data: qdata }
  const truth = bruteForceSearch(data, queries, { metric, k: K })
  const qArrays = Array.from({ length: nq }, (_, i) => Array.from(qdata.subarray(i * dim, (i + 1) * dim)))

  // ---- LanceDB embedded (HNSW-SQ, one partition), the same data and queries
  const lance = await lanceSweep(set, truth)

  // ---- Harrier through the SDK
  const dir = await tempDataDir()
  let server: ChildServer | undefined
  try {
    const serverArgs = ['--log-level', 'warn', '--segment-max-rows', String(rows + 1)]
    server = await startChildServer(dir, serverArgs)
    const client = server.client()
    await client.connectPromise
    await createBenchCollection(client, dim)
    const batch = Math.max(500, Math.floor(2_000_000 / dim))
    for (let i = 0; i < rows; i += batch) {
      const n = Math.min(batch, rows - i)
      const res = await client.insert({
        collection_name: 'bench',
        data: Array.from({ length: n }, (_, j) => ({ id: i + j, v: qArraysOf(base, i + j, dim), bucket: (i + j) % 1000 })),
      })
      if (res.status.error_code !== 'Success') throw new Error(res.status.reason)
    }
    await client.flushSync({ collection_names: ['bench'] })
    const t0 = performance.now()
    await client.createIndex({ collection_name: 'bench', field_name: 'v', index_type: 'HNSW', metric_type: metric, params: { M, efConstruction: EF_CONSTRUCTION } })
    await client.loadCollection({ collection_name: 'bench' })
    await waitIndexed(client, rows)
    const harrierBuild = performance.now() - t0
    const indexRoot = join(dir, 'objects', 'index_files')
    const indexFileBytes = dirBytes(indexRoot)
    const graphFile = walk(indexRoot).find((f) => f.endsWith('hnsw.graph'))
    if (!graphFile) throw new Error('no HNSW graph file found')
    const indexMem = indexMemory(dirname(graphFile))

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
    // Warm-up, as every engine gets: one pass over the queries before the first measured point
    // (with 20 queries the first ef points ran measurably slower than later, costlier ones).
    await searchAll(client, EFS[0]!, all)
    const harrier: SweepPoint[] = []
    for (const ef of EFS) {
      const start = performance.now()
      const { got, lat } = await searchAll(client, ef, all)
      const ms = performance.now() - start
      lat.sort((a, b) => a - b)
      harrier.push({ ef, qps: (nq * 1000) / ms, recall: recallOf(got, truth), p50Ms: pct(lat, 0.5), p99Ms: pct(lat, 0.99) })
    }
    const harrierAtTarget = harrier.find((p) => p.recall >= TARGET)

    let harrier8Clients: { qps: number; recall: number } | undefined
    if (harrierAtTarget) {
      // Each query four times, so the run lasts long enough to mean something.
      const rounds = [...all, ...all, ...all, ...all]
      const clients = Array.from({ length: 8 }, () => server!.client())
      await Promise.all(clients.map((c) => c.connectPromise))
      const start = performance.now()
      const parts = await Promise.all(clients.map((c, ci) => searchAll(c, harrierAtTarget.ef, rounds.filter((_, j) => j % 8 === ci))))
      const ms = performance.now() - start
      const got: number[][] = []
      for (const p of parts) p.got.forEach((g, i) => g && (got[i] = g))
      harrier8Clients = { qps: (rounds.length * 1000) / ms, recall: recallOf(got, truth) }
    }

    const filtered: { passRate: number; qps: number; recall: number }[] = []
    if (opts.filtered) {
      const ef = harrierAtTarget?.ef ?? 64
      for (const passRate of PASS_RATES) {
        const limit = Math.round(1000 * passRate)
        const allow = new Bitset(rows)
        for (let i = 0; i < rows; i++) if (i % 1000 < limit) allow.set(i)
        const ftruth = bruteForceSearch(data, queries, { metric, k: K, allow })
        const start = performance.now()
        const { got } = await searchAll(client, ef, all, limit >= 1 ? `bucket < ${limit}` : 'bucket < 0')
        const ms = performance.now() - start
        filtered.push({ passRate, qps: (nq * 1000) / ms, recall: recallOf(got, ftruth) })
      }
    }

    // The SDK's own Search requests at Harrier's target ef, captured by the null server and replayed
    // below by a bare gRPC client: what the server does per search without the SDK's client cost.
    const captured: Record<string, unknown>[] = []
    const nul = await startNullServer({
      name: 'bench',
      description: '',
      enableDynamicField: false,
      functions: [],
      fields: [
        { fieldId: 100, name: 'id', description: '', dataType: 'Int64', isPrimaryKey: true, autoId: false, typeParams: {}, nullable: false, isDynamic: false, isPartitionKey: false, isClusteringKey: false },
        { fieldId: 101, name: 'v', description: '', dataType: 'FloatVector', isPrimaryKey: false, autoId: false, typeParams: { dim: String(dim) }, dim, nullable: false, isDynamic: false, isPartitionKey: false, isClusteringKey: false },
      ],
    }, (req) => captured.push(req))
    const nc = new MilvusClient({ address: nul.address, logLevel: 'error' } as never)
    const ceilStart = performance.now()
    const ceilingEf = harrierAtTarget?.ef ?? 64
    for (let i = 0; i < nq; i++) await nc.search({ collection_name: 'bench', data: [qArrays[i]!], limit: K, params: { ef: ceilingEf }, output_fields: ['id'] })
    const sdkCeilingQps = (nq * 1000) / (performance.now() - ceilStart)
    await nc.closeConnection()
    await nul.stop()
    const rawClient = captured.length === nq ? await rawGrpcSweep(server!.address, captured, truth, ceilingEf) : undefined

    // Memory of the served collection: a restarted server holds only what loading it needs.
    await server.stop()
    server = undefined
    const emptyDir = await tempDataDir()
    const empty = servedMemory(emptyDir)
    await rm(emptyDir, { recursive: true, force: true })
    const loaded = servedMemory(dir, 'bench', rows)
    const perRow = (x: number) => x / rows
    const served = {
      total: perRow(loaded.rss - empty.rss),
      arrayBuffers: perRow(loaded.arrayBuffers - empty.arrayBuffers),
      heap: perRow(loaded.heapUsed - empty.heapUsed),
    }

    // ---- the kernel in-process, on the vectors as Harrier's index stores them; usearch as a peer
    const column = indexMem.scalar === 'column'
    const kernel = column ? await columnGraphSweep(set, truth) : await usearchSweep(set, indexMem.scalar, truth)
    const kernelAtTarget = kernel.points.find((p) => p.recall >= TARGET)
    const usearch = column ? await usearchSweep(set, 'f32', truth) : kernel

    return {
      set: set.name,
      label: set.label,
      rows,
      dim,
      metric,
      queries: nq,
      sdkCeilingQps,
      rawClient,
      kernel: kernel.points,
      kernelName: column ? 'column graph' : `usearch ${indexMem.scalar}`,
      usearch: usearch.points,
      harrier,
      lance,
      lanceAtTarget: lance.find((p) => p.recall >= TARGET),
      kernelAtTarget,
      harrierAtTarget,
      harrier8Clients,
      filtered,
      buildMs: { kernel: kernel.buildMs, usearch: usearch.buildMs, harrier: harrierBuild },
      memory: {
        rawBytes: dim * 4,
        indexScalar: indexMem.scalar,
        indexBytes: indexMem.bytesPerVector,
        serverBytes: served.total,
        serverArrayBufferBytes: served.arrayBuffers,
        serverHeapBytes: served.heap,
        indexFileBytes: indexFileBytes / rows,
      },
    }
  } finally {
    await server?.stop()
    await rm(dir, { recursive: true, force: true })
  }
}

function qArraysOf(base: Float32Array, i: number, dim: number): number[] {
  return Array.from(base.subarray(i * dim, (i + 1) * dim))
}
