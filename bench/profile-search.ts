/**
 * Where the server spends a search's time: loads BENCH_SEARCH_ROWS x BENCH_SEARCH_DIM
 * Gaussian-mixture rows into a child server once (kept in PROFILE_DIR between runs), restarts it
 * under `--cpu-prof`, drives SDK searches (1 client, then 8), stops it and prints the profile's
 * heaviest functions by self time and the share of time spent in a few cost centres.
 *
 * Data: datasets.ts's `768` set when BENCH_SEARCH_DIM is 768, else the `128` one.
 * Env: PROFILE_DIR (data dir to reuse; default a fixed temp path), PROFILE_QUERIES (2000),
 * PROFILE_EF (48), PROFILE_CLIENTS (1,8), PROFILE_CPU=0 to measure without the profiler,
 * HARRIER_CLI (another build's dist/src/roles/cli.js, for A/B runs on the same data),
 * PROFILE_SEGMENT_ROWS (rows per sealed segment; default all rows in one; keep it for a reused
 * PROFILE_DIR, or compaction merges the segments). Besides QPS
 * it reports CPU time per search of the server (from /proc) and of the client process.
 *
 * Run: `npx tsc -p . && node dist/bench/profile-search.js`
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { benchSet } from './datasets.js'
import { createBenchCollection, waitIndexed } from './search.js'
import { startChildServer } from '../tests/e2e/server.js'

const out = (s: string) => process.stdout.write(`${s}\n`)
const envNum = (k: string, d: number) => (process.env[k] ? Number(process.env[k]) : d)

/** --segment-max-rows for preparing and serving (a smaller cap lets compaction merge segments). */
function segmentArgs(rows: number): string[] {
  return ['--segment-max-rows', String(envNum('PROFILE_SEGMENT_ROWS', rows + 1))]
}

async function prepare(dir: string, rows: number, dim: number, base: Float32Array, metric: string): Promise<void> {
  const marker = join(dir, '.profile-ready')
  if (existsSync(marker)) return
  rmSync(dir, { recursive: true, force: true })
  mkdirSync(dir, { recursive: true })
  const server = await startChildServer(dir, ['--log-level', 'warn', ...segmentArgs(rows)])
  try {
    const client = server.client()
    await createBenchCollection(client, dim)
    // A flush seals every growing segment: batches that each fill one segment keep the layout fixed.
    const batch = process.env.PROFILE_SEGMENT_ROWS ? Math.min(20_000, envNum('PROFILE_SEGMENT_ROWS', 0)) : 5000
    for (let i = 0; i < rows; i += batch) {
      const n = Math.min(batch, rows - i)
      await client.insert({
        collection_name: 'bench',
        data: Array.from({ length: n }, (_, j) => ({ id: i + j, v: Array.from(base.subarray((i + j) * dim, (i + j + 1) * dim)), bucket: (i + j) % 1000 })),
      })
    }
    await client.flushSync({ collection_names: ['bench'] })
    await client.createIndex({ collection_name: 'bench', field_name: 'v', index_type: 'HNSW', metric_type: metric, params: { M: 16, efConstruction: 128 } })
    await client.loadCollection({ collection_name: 'bench' })
    await waitIndexed(client, rows)
  } finally {
    await server.stop()
  }
  writeFileSync(marker, '')
}

const CLI = fileURLToPath(new URL('../src/roles/cli.js', import.meta.url))

/** startChildServer with node flags (NODE_OPTIONS refuses --cpu-prof). */
/** CPU seconds (user + system) a process has used, from /proc (Linux). */
function cpuSeconds(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')
  return (Number(f[11]) + Number(f[12])) / 100
}

interface ProfileNode {
  id: number
  callFrame: { functionName: string; url: string; lineNumber: number }
  hitCount?: number
  children?: number[]
}

function summarize(file: string, searches: number): void {
  const p = JSON.parse(readFileSync(file, 'utf8')) as { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] }
  const byId = new Map(p.nodes.map((n) => [n.id, n]))
  const parent = new Map<number, number>()
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
  const self = new Map<number, number>()
  p.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (p.timeDeltas[i] ?? 0)))
  const total = [...self.values()].reduce((a, b) => a + b, 0)
  const label = (n: ProfileNode) => {
    const url = n.callFrame.url.replace(/^.*node_modules\//, '~/').replace(/^file:\/\/.*\/dist\//, '')
    return `${n.callFrame.functionName || '(anon)'} ${url}:${n.callFrame.lineNumber + 1}`
  }
  const selfByLabel = new Map<string, number>()
  for (const [id, t] of self) {
    const l = label(byId.get(id)!)
    selfByLabel.set(l, (selfByLabel.get(l) ?? 0) + t)
  }
  const idle = [...self].filter(([id]) => ['(idle)', '(program)', '(garbage collector)'].includes(byId.get(id)!.callFrame.functionName))
  out(`\nprofile ${file}: ${(total / 1e6).toFixed(2)} s sampled over ${searches} searches`)
  for (const [id, t] of idle) out(`  ${byId.get(id)!.callFrame.functionName}: ${((100 * t) / total).toFixed(1)}%`)
  out('\ntop self time:')
  for (const [l, t] of [...selfByLabel].sort((a, b) => b[1] - a[1]).slice(0, 40)) out(`  ${((100 * t) / total).toFixed(1).padStart(5)}%  ${l}`)
  // Inclusive time of frames whose name or file matches a cost centre (counted once per sample).
  const centres: [string, (n: ProfileNode) => boolean][] = [
    ['usearch native search', (n) => n.callFrame.functionName === 'search' && n.callFrame.url.includes('usearch')],
    ['HnswIndex.search', (n) => n.callFrame.functionName === 'search' && n.callFrame.url.includes('hnsw-index')],
    ['executor search', (n) => n.callFrame.functionName === 'search' && n.callFrame.url.includes('query/executor')],
    ['visibility', (n) => n.callFrame.functionName === 'visibility'],
    ['ReadPath.search', (n) => n.callFrame.functionName === 'search' && n.callFrame.url.includes('read-path')],
    ['searchSpec', (n) => n.callFrame.functionName === 'searchSpec'],
    ['searchResults', (n) => n.callFrame.functionName === 'searchResults'],
    ['requestDeserialize', (n) => n.callFrame.functionName === 'requestDeserialize'],
    ['responseSerialize', (n) => n.callFrame.functionName === 'responseSerialize'],
    ['grpc-js', (n) => n.callFrame.url.includes('@grpc/grpc-js')],
    ['http2 (node)', (n) => n.callFrame.url.startsWith('node:internal/http2')],
    ['protobufjs', (n) => n.callFrame.url.includes('protobufjs')],
    ['pino', (n) => n.callFrame.url.includes('pino')],
    ['prom-client', (n) => n.callFrame.url.includes('prom-client')],
    ['MilvusService.call', (n) => n.callFrame.functionName === 'call' && n.callFrame.url.includes('milvus-service')],
  ]
  out('\ninclusive time by cost centre:')
  for (const [name, match] of centres) {
    let t = 0
    for (const [id, dt] of self) {
      for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
        if (match(byId.get(cur)!)) {
          t += dt
          break
        }
      }
    }
    out(`  ${((100 * t) / total).toFixed(1).padStart(5)}%  ${(t / searches).toFixed(0).padStart(5)} us/search  ${name}`)
  }
}

async function main(): Promise<void> {
  const rows = envNum('BENCH_SEARCH_ROWS', 100_000)
  const dim = envNum('BENCH_SEARCH_DIM', 128)
  const nq = envNum('PROFILE_QUERIES', 2000)
  const ef = envNum('PROFILE_EF', 48)
  const clientCounts = (process.env.PROFILE_CLIENTS ?? '1,8').split(',').map(Number)
  const dir = process.env.PROFILE_DIR ?? join(tmpdir(), `harrier-profile-${rows}x${dim}`)
  const set = benchSet(dim === 768 ? '768' : '128', rows, dim, 1000)
  const qArrays = Array.from({ length: 1000 }, (_, i) => Array.from(set.queries.subarray(i * dim, (i + 1) * dim)))
  await prepare(dir, rows, dim, set.base, set.metric)
  const profDir = join(dir, 'cpuprof')
  rmSync(profDir, { recursive: true, force: true })
  const profile = process.env.PROFILE_CPU !== '0'
  const server = await startChildServer(dir, ['--log-level', 'warn', ...segmentArgs(rows)], { cli: process.env.HARRIER_CLI ?? CLI, nodeFlags: profile ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : [] })
  try {
    const warm = server.client()
    await warm.connectPromise
    await waitIndexed(warm, rows)
    for (let i = 0; i < 200; i++) await warm.search({ collection_name: 'bench', data: [qArrays[i % 1000]!], limit: 10, params: { ef }, output_fields: ['id'] })
    for (const nc of clientCounts) {
      const clients = Array.from({ length: nc }, () => server.client())
      await Promise.all(clients.map((c) => c.connectPromise))
      const t0 = performance.now()
      const server0 = cpuSeconds(server.child.pid!)
      const client0 = process.cpuUsage()
      await Promise.all(
        clients.map(async (c, ci) => {
          for (let i = ci; i < nq; i += nc) {
            const r = await c.search({ collection_name: 'bench', data: [qArrays[i % 1000]!], limit: 10, params: { ef }, output_fields: ['id'] })
            if (r.status.error_code !== 'Success') throw new Error(r.status.reason)
          }
        }),
      )
      const wall = performance.now() - t0
      const serverUs = ((cpuSeconds(server.child.pid!) - server0) * 1e6) / nq
      const c = process.cpuUsage(client0)
      const clientUs = (c.user + c.system) / nq
      out(`${nc} client(s): ${((nq * 1000) / wall).toFixed(0)} QPS (ef ${ef}, ${rows} x ${dim}); per search: wall ${((wall * 1000) / nq).toFixed(0)} us, server CPU ${serverUs.toFixed(0)} us, client CPU ${clientUs.toFixed(0)} us`)
    }
  } finally {
    await server.stop()
  }
  if (profile) for (const f of readdirSync(profDir)) summarize(join(profDir, f), 200 + nq * clientCounts.length)
}

main().catch((e: unknown) => {
  process.stderr.write(`profile failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`)
  process.exitCode = 1
})
