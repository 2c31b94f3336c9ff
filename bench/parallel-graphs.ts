/**
 * What searching one query's segment graphs in parallel on worker threads would buy over searching
 * them one after another on the calling thread (what GraphSearchBatcher does for a lone request:
 * usearch's `search` is synchronous and spreads only the queries of one call, on one graph, over
 * its threads, so a request's graphs cannot share a call).
 *
 * A prototype measurement, not a design: each worker builds its own copies of the graphs it serves
 * (a real pool would have to own graphs without copying them, as usearch cannot share one across
 * threads of JS). Reports per-query time for: S graphs searched in turn here; the same graphs split
 * over W workers (one message each way per worker); and an empty message round trip, the floor of
 * any worker design.
 *
 * Env: PAR_SEGMENTS (5), PAR_SEGMENT_ROWS (20,000), PAR_WORKERS (2), PAR_EF (48), PAR_QUERIES (500).
 * Run: `npx tsc -p . && node dist/bench/parallel-graphs.js`
 */
import { createRequire } from 'node:module'
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads'
import type { Index as UsearchIndex } from 'usearch'
import { benchSet } from './datasets.js'

const env = (k: string, d: number) => (process.env[k] ? Number(process.env[k]) : d)
const S = env('PAR_SEGMENTS', 5)
const R = env('PAR_SEGMENT_ROWS', 20_000)
const W = env('PAR_WORKERS', 2)
const EF = env('PAR_EF', 48)
const NQ = env('PAR_QUERIES', 500)
const DIM = 128

function build(base: Float32Array, s: number): UsearchIndex {
  const u = createRequire(import.meta.url)('usearch') as typeof import('usearch')
  const g = new u.Index({ dimensions: DIM, metric: u.MetricKind.L2sq, quantization: u.ScalarKind.BF16, connectivity: 16, expansion_add: 128, expansion_search: 1, multi: false })
  g.add(BigUint64Array.from({ length: R }, (_, i) => BigInt(i)), base.subarray(s * R * DIM, (s + 1) * R * DIM), 1)
  return g
}

interface Job {
  readonly q?: Float32Array
}

async function main(): Promise<void> {
  const set = benchSet('128', S * R, DIM, NQ)
  const graphs = Array.from({ length: S }, (_, s) => build(set.base, s))
  const groups = Array.from({ length: W }, (_, w) => graphs.map((_, s) => s).filter((s) => s % W === w))
  const workers = groups.map((segs) => new Worker(new URL(import.meta.url), { workerData: { segs } }))
  await Promise.all(workers.map((w) => new Promise((r) => w.once('message', r))))
  const ask = (w: Worker, job: Job) =>
    new Promise((r) => {
      w.once('message', r)
      w.postMessage(job)
    })
  const q = (i: number) => set.queries.slice(i * DIM, (i + 1) * DIM)
  const out = (s: string) => process.stdout.write(`${s}\n`)
  out(`${S} graphs of ${R} x ${DIM} (bf16, M 16), ef ${EF}, ${W} workers; per query:`)
  for (let rep = 0; rep < 3; rep++) {
    let t = performance.now()
    for (let i = 0; i < NQ; i++) for (const g of graphs) g.search(q(i), EF, 1)
    const seq = ((performance.now() - t) * 1000) / NQ
    t = performance.now()
    for (let i = 0; i < NQ; i++) await Promise.all(workers.map((w) => ask(w, { q: q(i) })))
    const par = ((performance.now() - t) * 1000) / NQ
    t = performance.now()
    for (let i = 0; i < NQ; i++) await Promise.all(workers.map((w) => ask(w, {})))
    const trip = ((performance.now() - t) * 1000) / NQ
    out(`  in turn on this thread ${seq.toFixed(0)} us | on ${W} workers ${par.toFixed(0)} us | empty round trip to ${W} workers ${trip.toFixed(0)} us`)
  }
  for (const w of workers) await w.terminate()
}

if (isMainThread) {
  main().catch((e: unknown) => {
    process.stderr.write(`parallel-graphs failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`)
    process.exitCode = 1
  })
} else {
  const set = benchSet('128', S * R, DIM, 1)
  const graphs = (workerData as { segs: number[] }).segs.map((s) => build(set.base, s))
  parentPort!.postMessage('ready')
  parentPort!.on('message', (job: Job) => {
    parentPort!.postMessage(job.q ? graphs.map((g) => g.search(job.q!, EF, 1).keys) : null)
  })
}
