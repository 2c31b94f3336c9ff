/**
 * Multi-segment search: one collection sealed into several indexed segments (--segment-max-rows),
 * searched through the official SDK by 1 client (latency, QPS) and by 8 (QPS), with recall@10
 * against exact ground truth. Issue 4's single-segment numbers hide what a search pays per
 * segment (a graph search each, merged); this measures it.
 *
 * The data directory is prepared once (PROFILE-style: kept in BENCH_SEGMENTS_DIR when given, else
 * a temp dir removed afterwards). Every round restarts the server on it, with the same
 * --segment-max-rows (a smaller cap lets compaction merge the segments back into one).
 *
 * A/B: BENCH_SEGMENTS_CLIS=<a>/dist/src/roles/cli.js,<b>/dist/src/roles/cli.js runs the builds
 * in turn, round after round (the machine is noisy: interleaving spreads the noise over both), and
 * reports each build's median. Default: this build alone.
 *
 * Env: BENCH_SEGMENTS_ROWS (100,000), BENCH_SEGMENTS_DIM (128), BENCH_SEGMENT_ROWS (20,000 rows
 * per segment), BENCH_SEGMENTS_QUERIES (1,000 per measurement), BENCH_SEGMENTS_EF (48),
 * BENCH_SEGMENTS_ROUNDS (3).
 *
 * Run alone: `npx tsc -p . && node dist/bench/segments.js`; in `npm run bench` with
 * BENCH_SECTIONS=...,segments.
 */
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { join } from 'node:path'
import { DataType, MilvusClient } from '@zilliz/milvus2-sdk-node'
import { benchSet } from './datasets.js'
import { bruteForceSearch, type Hits } from '../src/index/index.js'
import { startChildServer, tempDataDir, type ChildServer } from '../tests/e2e/server.js'
import { recallOf, waitIndexed } from './search.js'

const K = 10
const THIS_CLI = fileURLToPath(new URL('../src/roles/cli.js', import.meta.url))

export interface SegmentsBenchOptions {
  readonly rows: number
  readonly dim: number
  readonly segmentRows: number
  readonly queries: number
  readonly ef: number
  readonly rounds: number
  /** dist/src/roles/cli.js of each build to compare; default this build. */
  readonly clis?: readonly string[]
  /** Data directory to prepare once and reuse; default a temp dir removed at the end. */
  readonly dir?: string
}

export interface SegmentsRun {
  readonly qps1: number
  readonly p50Ms: number
  readonly p99Ms: number
  readonly qps8: number
  readonly recall: number
}

export interface SegmentsBenchResult {
  readonly rows: number
  readonly dim: number
  readonly segments: number
  readonly ef: number
  readonly queries: number
  /** Per build (as given in clis): every round, then the medians. */
  readonly builds: readonly { readonly cli: string; readonly runs: readonly SegmentsRun[]; readonly median: SegmentsRun }[]
}

/** Inserts, seals (one segment per segmentRows rows), flushes and indexes the set, once per dir. */
async function prepare(dir: string, base: Float32Array, metric: string, o: SegmentsBenchOptions, serverArgs: readonly string[]): Promise<void> {
  const marker = join(dir, '.segments-ready')
  if (existsSync(marker)) return
  rmSync(dir, { recursive: true, force: true })
  mkdirSync(dir, { recursive: true })
  const server = await startChildServer(dir, ['--log-level', 'warn', ...serverArgs], { cli: THIS_CLI, startTimeoutMs: 180_000 })
  try {
    const client = server.client()
    await client.connectPromise
    await client.createCollection({
      collection_name: 'bench',
      consistency_level: 'Bounded',
      fields: [
        { name: 'id', data_type: DataType.Int64, is_primary_key: true },
        { name: 'v', data_type: DataType.FloatVector, dim: o.dim },
      ],
    })
    // A flush seals every growing segment, so batches that each fill exactly one segment keep the
    // layout independent of when the periodic flush fires.
    const batch = o.segmentRows <= 20_000 ? o.segmentRows : 5000
    for (let i = 0; i < o.rows; i += batch) {
      const n = Math.min(batch, o.rows - i)
      const res = await client.insert({
        collection_name: 'bench',
        data: Array.from({ length: n }, (_, j) => ({ id: i + j, v: Array.from(base.subarray((i + j) * o.dim, (i + j + 1) * o.dim)) })),
      })
      if (res.status.error_code !== 'Success') throw new Error(res.status.reason)
    }
    await client.flushSync({ collection_names: ['bench'] })
    await client.createIndex({ collection_name: 'bench', field_name: 'v', index_type: 'HNSW', metric_type: metric, params: { M: 16, efConstruction: 128 } })
    await client.loadCollection({ collection_name: 'bench' })
    await waitIndexed(client, o.rows)
  } finally {
    await server.stop()
  }
  writeFileSync(marker, '')
}


function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2
}

async function measure(server: ChildServer, qArrays: readonly number[][], o: SegmentsBenchOptions, truth: readonly Hits[]): Promise<{ run: SegmentsRun; segments: number }> {
  const search = async (c: MilvusClient, i: number) => {
    const r = await c.search({ collection_name: 'bench', data: [qArrays[i % qArrays.length]!], limit: K, params: { ef: o.ef }, output_fields: ['id'] })
    if (r.status.error_code !== 'Success') throw new Error(r.status.reason)
    return r.results.map((h) => Number(h.id))
  }
  const one = server.client()
  await one.connectPromise
  await waitIndexed(one, o.rows)
  const segments = (await one.getQuerySegmentInfo({ collectionName: 'bench' })).infos.length
  for (let i = 0; i < 200; i++) await search(one, i)
  const got: number[][] = []
  const lat: number[] = []
  let t0 = performance.now()
  for (let i = 0; i < o.queries; i++) {
    const s = performance.now()
    const ids = await search(one, i)
    lat.push(performance.now() - s)
    if (i < qArrays.length) got[i] = ids
  }
  const qps1 = (o.queries * 1000) / (performance.now() - t0)
  lat.sort((a, b) => a - b)
  const clients = Array.from({ length: 8 }, () => server.client())
  await Promise.all(clients.map((c) => c.connectPromise))
  const n8 = o.queries * 2
  t0 = performance.now()
  await Promise.all(
    clients.map(async (c, ci) => {
      for (let i = ci; i < n8; i += clients.length) await search(c, i)
    }),
  )
  const qps8 = (n8 * 1000) / (performance.now() - t0)
  const p = (f: number) => lat[Math.min(lat.length - 1, Math.floor(f * lat.length))]!
  return { run: { qps1, p50Ms: p(0.5), p99Ms: p(0.99), qps8, recall: recallOf(got, truth) }, segments }
}

export async function runSegmentsBench(o: SegmentsBenchOptions): Promise<SegmentsBenchResult> {
  const set = benchSet(o.dim === 768 ? '768' : '128', o.rows, o.dim, Math.min(o.queries, 1000))
  const nq = set.queries.length / o.dim
  const qArrays = Array.from({ length: nq }, (_, i) => Array.from(set.queries.subarray(i * o.dim, (i + 1) * o.dim)))
  const truth = bruteForceSearch({ type: 'FloatVector', dim: o.dim, data: set.base }, { type: 'FloatVector', dim: o.dim, data: set.queries }, { metric: set.metric, k: K })
  const serverArgs = ['--segment-max-rows', String(o.segmentRows)]
  const dir = o.dir ?? join(await tempDataDir(), 'data')
  const clis = o.clis && o.clis.length > 0 ? o.clis : [THIS_CLI]
  const runs: SegmentsRun[][] = clis.map(() => [])
  let segments = 0
  try {
    await prepare(dir, set.base, set.metric, o, serverArgs)
    for (let r = 0; r < o.rounds; r++) {
      // Alternate the order too, so neither build always runs first in a round.
      const order = clis.map((_, i) => i)
      if (r % 2 === 1) order.reverse()
      for (const b of order) {
        const server = await startChildServer(dir, ['--log-level', 'warn', ...serverArgs], { cli: clis[b]!, startTimeoutMs: 180_000 })
        try {
          const m = await measure(server, qArrays, o, truth)
          segments = m.segments
          runs[b]!.push(m.run)
          process.stderr.write(`segments round ${r} build ${b}: ${JSON.stringify(m.run)}\n`)
        } finally {
          await server.stop()
        }
      }
    }
  } finally {
    if (o.dir === undefined) rmSync(join(dir, '..'), { recursive: true, force: true })
  }
  return {
    rows: o.rows,
    dim: o.dim,
    segments,
    ef: o.ef,
    queries: o.queries,
    builds: clis.map((cli, b) => {
      const rs = runs[b]!
      const med = (f: (x: SegmentsRun) => number) => median(rs.map(f))
      return { cli, runs: rs, median: { qps1: med((x) => x.qps1), p50Ms: med((x) => x.p50Ms), p99Ms: med((x) => x.p99Ms), qps8: med((x) => x.qps8), recall: med((x) => x.recall) } }
    }),
  }
}

export function segmentsBenchOptions(env: NodeJS.ProcessEnv): SegmentsBenchOptions {
  const n = (k: string, d: number) => (env[k] ? Number(env[k]) : d)
  return {
    rows: n('BENCH_SEGMENTS_ROWS', 100_000),
    dim: n('BENCH_SEGMENTS_DIM', 128),
    segmentRows: n('BENCH_SEGMENT_ROWS', 20_000),
    queries: n('BENCH_SEGMENTS_QUERIES', 1000),
    ef: n('BENCH_SEGMENTS_EF', 48),
    rounds: n('BENCH_SEGMENTS_ROUNDS', 3),
    clis: env.BENCH_SEGMENTS_CLIS ? env.BENCH_SEGMENTS_CLIS.split(',') : undefined,
    dir: env.BENCH_SEGMENTS_DIR,
  }
}

export function segmentsMarkdown(r: SegmentsBenchResult): string {
  const lines = [
    `## Multi-segment search (${r.rows} x ${r.dim} in ${r.segments} sealed HNSW segments, ef ${r.ef}, through the SDK; medians of ${r.builds[0]?.runs.length ?? 0} rounds)\n`,
    '| build | 1 client QPS | p50 ms | p99 ms | 8 clients QPS | recall@10 |',
    '|---|---:|---:|---:|---:|---:|',
  ]
  for (const b of r.builds) {
    const m = b.median
    lines.push(`| ${b.cli} | ${m.qps1.toFixed(0)} | ${m.p50Ms.toFixed(3)} | ${m.p99Ms.toFixed(3)} | ${m.qps8.toFixed(0)} | ${m.recall.toFixed(3)} |`)
  }
  return lines.join('\n')
}

// Run directly: node dist/bench/segments.js
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  runSegmentsBench(segmentsBenchOptions(process.env)).then(
    (r) => process.stdout.write(`${segmentsMarkdown(r)}\n`),
    (e: unknown) => {
      process.stderr.write(`segments bench failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`)
      process.exitCode = 1
    },
  )
}
