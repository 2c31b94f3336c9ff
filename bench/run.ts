/**
 * `npm run bench`: Harrier's performance figures, each beside a peer measured in the same run on
 * the same data so that ratios, not absolute times, carry the meaning on a noisy machine.
 *
 *  - insert: rows/s through the official SDK into a durable server (768-dim, batches of 1,000),
 *    against the floor any durable server pays: appending the same bytes to a file with fdatasync.
 *  - restart: time from process start to serving (first successful count) for a collection of
 *    BENCH_RESTART_ROWS rows (default 1,000,000 x 128-dim), once flushed and once from the WAL.
 *  - filter: rows/s of the columnar filter evaluator over 1M rows against the issue's goals.
 *  - search: see search.ts; one section per data set of BENCH_SEARCH_SETS (default `128,768`),
 *    filtered pass rates on the sets of BENCH_FILTERED_SETS (default `128`).
 *
 * Sizes: BENCH_INSERT_ROWS (default 50,000), BENCH_RESTART_ROWS (1,000,000), BENCH_WAL_ROWS (200,000),
 * BENCH_SEARCH_ROWS x BENCH_SEARCH_DIM (100,000 x 128), BENCH_SEARCH768_ROWS (25,000),
 * BENCH_SEARCH_QUERIES (300). BENCH_SECTIONS picks sections (default filter,insert,restart,search;
 * `cluster` adds cluster.ts: cluster vs standalone on one machine, a collection spread over two
 * query nodes vs one replicated on both, and failover times;
 * `segments` adds segments.ts: one collection in several sealed HNSW segments, BENCH_SEGMENTS_*).
 * Results are printed as markdown and written to bench/results/<timestamp>.json.
 */
import { closeSync, fdatasyncSync, mkdirSync, openSync, writeFileSync, writeSync } from 'node:fs'
import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import { DataType, MilvusClient } from '@zilliz/milvus2-sdk-node'
import type { CollectionSchema } from '../src/schema/types.js'
import { startNullServer } from './null-server.js'
import { benchSet } from './datasets.js'
import { runSearchBench, type SearchBenchResult } from './search.js'
import { clusterMarkdown, runClusterBench } from './cluster.js'
import { runSegmentsBench, segmentsBenchOptions, segmentsMarkdown } from './segments.js'
import { runFilterBench } from '../src/expr/filter.bench.js'
import { startChildServer, tempDataDir, type ChildServer } from '../tests/e2e/server.js'
import { rng } from '../src/index/ann-fixture.js'

const out = (s: string) => process.stdout.write(`${s}\n`)
const envInt = (k: string, d: number) => (process.env[k] ? Number(process.env[k]) : d)


function rows(from: number, n: number, dim: number, r: () => number): { id: number; v: number[] }[] {
  return Array.from({ length: n }, (_, i) => ({ id: from + i, v: Array.from({ length: dim }, () => r() * 2 - 1) }))
}

async function createCollection(client: MilvusClient, name: string, dim: number): Promise<void> {
  await client.createCollection({
    collection_name: name,
    fields: [
      { name: 'id', data_type: DataType.Int64, is_primary_key: true },
      { name: 'v', data_type: DataType.FloatVector, dim },
    ],
  })
  await client.createIndex({ collection_name: name, field_name: 'v', index_type: 'FLAT', metric_type: 'L2' })
  await client.loadCollection({ collection_name: name })
}

interface InsertResult {
  rowsPerSec: number
  concurrentRowsPerSec: number
  peerRowsPerSec: number
  sdkCeilingRowsPerSec: number
  /** Harrier / SDK ceiling: how close the server gets to costing nothing. */
  ratio: number
}

function insertSchema(dim: number): CollectionSchema {
  const base = { description: '', typeParams: {}, nullable: false, isDynamic: false, isPartitionKey: false, isClusteringKey: false, autoId: false }
  return {
    name: 'ins',
    description: '',
    enableDynamicField: false,
    functions: [],
    fields: [
      { ...base, fieldId: 100, name: 'id', dataType: 'Int64', isPrimaryKey: true },
      { ...base, fieldId: 101, name: 'v', dataType: 'FloatVector', isPrimaryKey: false, dim, typeParams: { dim: String(dim) } },
    ],
  }
}

async function benchInsert(): Promise<InsertResult> {
  const total = envInt('BENCH_INSERT_ROWS', 50_000)
  const dim = 768
  const batch = 1000
  const dir = await tempDataDir()
  let server: ChildServer | undefined
  try {
    server = await startChildServer(dir, ['--log-level', 'warn'])
    const client = server.client()
    await client.connectPromise
    await createCollection(client, 'ins', dim)
    const r = rng(1)
    const batches = Array.from({ length: Math.ceil(total / batch) }, (_, b) => rows(b * batch, batch, dim, r))
    await client.insert({ collection_name: 'ins', data: batches[0]! }) // warm-up
    let t0 = performance.now()
    for (const b of batches) {
      const res = await client.insert({ collection_name: 'ins', data: b.map((x) => ({ ...x, id: x.id + 10_000_000 })) })
      if (res.status.error_code !== 'Success') throw new Error(res.status.reason)
    }
    const rowsPerSec = (batches.length * batch * 1000) / (performance.now() - t0)
    // 4 clients at once: group commit should share fsyncs between them.
    const clients = Array.from({ length: 4 }, () => server!.client())
    t0 = performance.now()
    await Promise.all(
      clients.map(async (c, ci) => {
        for (let i = ci; i < batches.length; i += clients.length) {
          await c.insert({ collection_name: 'ins', data: batches[i]!.map((x) => ({ ...x, id: x.id + 20_000_000 })) })
        }
      }),
    )
    const concurrentRowsPerSec = (batches.length * batch * 1000) / (performance.now() - t0)
    // Peer: the durability floor, the same float32 bytes appended and fdatasync'd per batch.
    const file = join(dir, 'peer.bin')
    const fd = openSync(file, 'w')
    const bytes = Buffer.alloc(batch * (dim * 4 + 8))
    t0 = performance.now()
    for (let i = 0; i < batches.length; i++) {
      const f = new Float32Array(bytes.buffer, bytes.byteOffset, (batch * dim))
      const src = batches[i]!
      for (let j = 0; j < batch; j++) f.set(src[j]!.v, j * dim)
      writeSync(fd, bytes)
      fdatasyncSync(fd)
    }
    const peerRowsPerSec = (batches.length * batch * 1000) / (performance.now() - t0)
    closeSync(fd)
    // Peer 2: the same SDK calls against a server that acknowledges without doing anything.
    const nul = await startNullServer(insertSchema(dim))
    const nc = new MilvusClient({ address: nul.address, logLevel: 'error' } as never)
    await nc.connectPromise
    t0 = performance.now()
    for (const b of batches) await nc.insert({ collection_name: 'ins', data: b })
    const sdkCeilingRowsPerSec = (batches.length * batch * 1000) / (performance.now() - t0)
    await nc.closeConnection()
    await nul.stop()
    return { rowsPerSec, concurrentRowsPerSec, peerRowsPerSec, sdkCeilingRowsPerSec, ratio: rowsPerSec / sdkCeilingRowsPerSec }
  } finally {
    await server?.stop()
    await rm(dir, { recursive: true, force: true })
  }
}

interface RestartResult {
  rows: number
  indexed: boolean
  indexBuildMs: number
  flushedMs: number
  walRows: number
  walMs: number
}

async function timeToServe(dir: string): Promise<{ ms: number; server: ChildServer; count: number }> {
  const t0 = performance.now()
  const server = await startChildServer(dir, ['--log-level', 'warn'])
  const client = server.client()
  const c = await client.count({ collection_name: 'rs' })
  if (c.status.error_code !== 'Success') throw new Error(c.status.reason)
  return { ms: performance.now() - t0, server, count: c.data }
}

async function benchRestart(): Promise<RestartResult> {
  const total = envInt('BENCH_RESTART_ROWS', 1_000_000)
  const walRows = envInt('BENCH_WAL_ROWS', 200_000)
  const dim = 128
  const batch = 10_000
  const dir = await tempDataDir()
  let server: ChildServer | undefined
  try {
    server = await startChildServer(dir, ['--log-level', 'warn', '--flush-interval-ms', '3600000'])
    let client = server.client()
    await client.connectPromise
    await createCollection(client, 'rs', dim)
    const r = rng(2)
    for (let i = 0; i < total; i += batch) await client.insert({ collection_name: 'rs', data: rows(i, Math.min(batch, total - i), dim, r) })
    await client.flushSync({ collection_names: ['rs'] })
    // With an HNSW index (the issue's case): restart must load the built index, not rebuild it.
    const indexed = process.env.BENCH_RESTART_INDEX !== '0'
    let indexBuildMs = 0
    if (indexed) {
      const t0 = performance.now()
      await client.releaseCollection({ collection_name: 'rs' })
      await client.dropIndex({ collection_name: 'rs', field_name: 'v' })
      await client.createIndex({ collection_name: 'rs', field_name: 'v', index_type: 'HNSW', metric_type: 'L2', params: { M: 16, efConstruction: 64 } })
      await client.loadCollection({ collection_name: 'rs' })
      for (;;) {
        const d = (await client.describeIndex({ collection_name: 'rs', field_name: 'v' })).index_descriptions[0]!
        if (d.state === 'Finished' && Number(d.indexed_rows) >= total) break
        if (d.state === 'Failed') throw new Error(d.index_state_fail_reason)
        await new Promise((r) => setTimeout(r, 500))
      }
      indexBuildMs = performance.now() - t0
    }
    await server.stop()
    const flushed = await timeToServe(dir)
    if (flushed.count !== total) throw new Error(`restart served ${flushed.count} rows, expected ${total}`)
    server = flushed.server
    client = server.client()
    for (let i = 0; i < walRows; i += batch) await client.insert({ collection_name: 'rs', data: rows(total + i, Math.min(batch, walRows - i), dim, r) })
    await server.kill9()
    const replay = await timeToServe(dir)
    server = replay.server
    if (replay.count !== total + walRows) throw new Error(`replay served ${replay.count} rows, expected ${total + walRows}`)
    return { rows: total, indexed, indexBuildMs, flushedMs: flushed.ms, walRows, walMs: replay.ms }
  } finally {
    await server?.kill9()
    await rm(dir, { recursive: true, force: true })
  }
}

function searchSection(r: SearchBenchResult): void {
  out(`\n## Vector search: ${r.rows} x ${r.dim} (${r.label}; HNSW M=16 efConstruction=128), recall@10 vs exact, ${r.queries} queries\n`)
  out(`Kernel: ${r.kernelName} in-process, one thread (what Harrier's index runs); usearch f32 in-process as a peer.\n`)
  out('| ef | kernel QPS | kernel recall | usearch QPS | usearch recall | Harrier SDK QPS | Harrier recall | Harrier p50 / p99 ms | LanceDB QPS | LanceDB recall |\n|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|')
  r.kernel.forEach((k, i) => {
    const h = r.harrier[i]!
    const l = r.lance[i]
    const u = r.usearch[i]!
    out(`| ${k.ef} | ${k.qps.toFixed(0)} | ${k.recall.toFixed(3)} | ${u.qps.toFixed(0)} | ${u.recall.toFixed(3)} | ${h.qps.toFixed(0)} | ${h.recall.toFixed(3)} | ${h.p50Ms.toFixed(2)} / ${h.p99Ms.toFixed(2)} | ${l ? l.qps.toFixed(0) : '-'} | ${l ? l.recall.toFixed(3) : '-'} |`)
  })
  const k = r.kernelAtTarget
  const h = r.harrierAtTarget
  out('')
  out(`- build: kernel in-process ${(r.buildMs.kernel / 1000).toFixed(1)} s, usearch ${(r.buildMs.usearch / 1000).toFixed(1)} s (all cores); Harrier (index build after flush, worker thread) ${(r.buildMs.harrier / 1000).toFixed(1)} s`)
  if (k && h) {
    out(`- **1 client: Harrier ${h.qps.toFixed(0)} QPS (ef ${h.ef}, recall ${h.recall.toFixed(3)}) / kernel ${k.qps.toFixed(0)} QPS (ef ${k.ef}, recall ${k.recall.toFixed(3)}) = ${(h.qps / k.qps).toFixed(2)}** (goal >= 0.65)`)
    if (r.harrier8Clients) out(`- **8 clients: ${r.harrier8Clients.qps.toFixed(0)} QPS, recall ${r.harrier8Clients.recall.toFixed(3)}; / (2 x kernel 1-thread) = ${(r.harrier8Clients.qps / (2 * k.qps)).toFixed(2)}** (goal >= 0.7)`)
  }
  out(`- SDK ceiling (the same search calls against a server that answers instantly): ${r.sdkCeilingQps.toFixed(0)} QPS; **Harrier / SDK ceiling = ${h ? (h.qps / r.sdkCeilingQps).toFixed(2) : '-'}**`)
  const raw = r.rawClient
  if (raw && k) out(`- without the SDK's client work (the SDK's requests replayed by a bare grpc-js client, 1 client): ${raw.qps.toFixed(0)} QPS (ef ${raw.ef}, recall ${raw.recall.toFixed(3)}, p50 ${raw.p50Ms.toFixed(2)} ms); / kernel = ${(raw.qps / k.qps).toFixed(2)}`)
  const l = r.lanceAtTarget
  if (h && l) out(`- **Harrier / LanceDB embedded at recall >= 0.95: ${(h.qps / l.qps).toFixed(2)}** (${h.qps.toFixed(0)} vs ${l.qps.toFixed(0)} QPS; goal >= 10)`)
  else if (h) out(`- LanceDB embedded never reached recall 0.95 (best ${Math.max(...r.lance.map((x) => x.recall)).toFixed(3)})`)
  const unfiltered = h?.qps ?? 0
  for (const f of r.filtered) out(`- filtered, pass rate ${(f.passRate * 100).toString()}%: ${f.qps.toFixed(0)} QPS (${unfiltered ? (f.qps / unfiltered).toFixed(2) : '-'} x unfiltered), recall ${f.recall.toFixed(3)}`)
  const m = r.memory
  out('')
  out('| memory per vector | bytes | x raw |\n|---|---:|---:|')
  out(`| raw float32 vector | ${m.rawBytes} | 1.00 |`)
  out(`| HNSW index alone, in memory (${m.indexScalar === 'column' ? 'column graph: neighbour lists and per-row values' : `graph + usearch's own ${m.indexScalar} copy of the vectors`}) | ${m.indexBytes.toFixed(0)} | ${(m.indexBytes / m.rawBytes).toFixed(2)} |`)
  out(`| index + the segment's float32 column (${m.indexScalar === 'column' ? 'which the column graph reads in place' : 'the index does not share it'}) | ${(m.indexBytes + m.rawBytes).toFixed(0)} | ${((m.indexBytes + m.rawBytes) / m.rawBytes).toFixed(2)} |`)
  out(`| server RSS for the loaded, indexed collection (restart, GC; all columns, index, rest) | ${m.serverBytes.toFixed(0)} | ${(m.serverBytes / m.rawBytes).toFixed(2)} |`)
  out(`| - of which ArrayBuffers (the segment's columns) | ${m.serverArrayBufferBytes.toFixed(0)} | ${(m.serverArrayBufferBytes / m.rawBytes).toFixed(2)} |`)
  out(`| - of which native and other (the graph, allocator slack, V8 beyond live objects) | ${(m.serverBytes - m.serverArrayBufferBytes - m.serverHeapBytes).toFixed(0)} | ${((m.serverBytes - m.serverArrayBufferBytes - m.serverHeapBytes) / m.rawBytes).toFixed(2)} |`)
  out(`| index files in the object store | ${m.indexFileBytes.toFixed(0)} | ${(m.indexFileBytes / m.rawBytes).toFixed(2)} |`)
}

async function main(): Promise<void> {
  const results: Record<string, unknown> = { startedAt: new Date().toISOString(), node: process.version }
  const sections = new Set((process.env.BENCH_SECTIONS ?? 'filter,insert,restart,search').split(','))
  out('# Harrier benchmarks\n')
  if (sections.has('filter')) {
  out('## Filter evaluation (1M rows, one core)\n')
  const goals: Record<string, number> = { numeric: 100e6, in: 20e6, like: 20e6, JSON: 5e6 }
  const filter = await runFilterBench({ rows: 1_000_000 })
  results.filter = filter
  out('| filter | rows/s | goal |\n|---|---:|---:|')
  for (const f of filter) {
    const key = Object.keys(goals).find((g) => f.name.toLowerCase().includes(g.toLowerCase()))
    out(`| ${f.name} | ${(f.rowsPerSec / 1e6).toFixed(1)}M | ${key ? `${goals[key]! / 1e6}M` : '-'} |`)
  }
  }
  if (sections.has('insert')) {
  out('\n## Durable insert through the SDK (768-dim, batches of 1,000)\n')
  const ins = await benchInsert()
  results.insert = ins
  out('| measure | rows/s |\n|---|---:|')
  out(`| Harrier, 1 client | ${ins.rowsPerSec.toFixed(0)} |`)
  out(`| Harrier, 4 clients | ${ins.concurrentRowsPerSec.toFixed(0)} |`)
  out(`| peer: SDK against a server that does nothing (the SDK ceiling) | ${ins.sdkCeilingRowsPerSec.toFixed(0)} |`)
  out(`| peer: raw append + fdatasync of the same float32 bytes | ${ins.peerRowsPerSec.toFixed(0)} |`)
  out(`| **ratio Harrier 1 client / SDK ceiling** | **${ins.ratio.toFixed(2)}** |`)
  }
  if (sections.has('restart')) {
  out('\n## Restart to serving\n')
  const rs = await benchRestart()
  results.restart = rs
  out('| state on disk | rows | time to first answer |\n|---|---:|---:|')
  out(`| flushed segments (128-dim)${rs.indexed ? ', HNSW index built' : ''} | ${rs.rows} | ${(rs.flushedMs / 1000).toFixed(2)} s |`)
  out(`| same + WAL tail after kill -9 | +${rs.walRows} | ${(rs.walMs / 1000).toFixed(2)} s |`)
  if (rs.indexed) out(`\nHNSW build for ${rs.rows} rows (M=16, efConstruction=64, index worker threads): ${(rs.indexBuildMs / 1000).toFixed(1)} s`)
  }
  if (sections.has('search')) {
    const nq = envInt('BENCH_SEARCH_QUERIES', 300)
    const sets = (process.env.BENCH_SEARCH_SETS ?? '128,768').split(',')
    const filteredSets = new Set((process.env.BENCH_FILTERED_SETS ?? '128').split(','))
    const all: SearchBenchResult[] = []
    for (const name of sets) {
      const set =
        name === '768'
          ? benchSet('768', envInt('BENCH_SEARCH768_ROWS', 25_000), 768, nq)
          : benchSet(name, envInt('BENCH_SEARCH_ROWS', 100_000), envInt('BENCH_SEARCH_DIM', 128), nq)
      const sr = await runSearchBench(set, { filtered: filteredSets.has(name) })
      all.push(sr)
      searchSection(sr)
    }
    results.search = all
  }
  if (sections.has('segments')) {
    // Opt-in (BENCH_SECTIONS=...,segments): what a search pays per sealed segment.
    const r = await runSegmentsBench(segmentsBenchOptions(process.env))
    out(`\n${segmentsMarkdown(r)}`)
    results.segments = r
  }
  if (sections.has('cluster')) {
    // Opt-in (BENCH_SECTIONS=...,cluster): starts etcd, NATS and Ceph RGW like the cluster tests.
    const r = await runClusterBench()
    out(`\n${clusterMarkdown(r)}`)
    results.cluster = r
  }
  // dist/bench/run.js -> <repo>/bench/results
  const dir = new URL('../../bench/results/', import.meta.url)
  mkdirSync(dir, { recursive: true })
  const file = new URL(`${new Date().toISOString().replace(/[:.]/g, '-')}.json`, dir)
  writeFileSync(file, JSON.stringify(results, null, 2))
  out(`\nwrote ${file.pathname}`)
}

main().catch((e: unknown) => {
  process.stderr.write(`bench failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`)
  process.exitCode = 1
})
