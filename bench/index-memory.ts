/**
 * Child process of the search bench: the resident memory one HNSW index takes once loaded, measured
 * in a fresh process so nothing else allocates meanwhile. Reads the index's header
 * (`hnsw.meta.json`) from the directory given as argv[2], loads `hnsw.graph` into usearch exactly as
 * Harrier does (same metric, storage and dimensions; the column graph over the rows of `hnsw.data`)
 * and prints {rssDelta, rows} as JSON.
 * RSS is read after the load, once the loader's file buffer is gone, and again after a GC.
 */
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { newColumnGraph } from '../src/index/column-graph.js'

interface Meta {
  metric: string
  dim: number
  indexed: number
  M: number
  scalar: string
  transform: string
}

const dir = process.argv[2]!
const meta = JSON.parse(readFileSync(join(dir, 'hnsw.meta.json'), 'utf8')) as Meta & { efConstruction: number }
const u = createRequire(import.meta.url)('usearch') as typeof import('usearch')
const gc = (globalThis as { gc?: () => void }).gc
const settle = () => {
  gc?.()
  gc?.()
  return process.memoryUsage().rss
}
const metric = meta.metric === 'L2' || meta.transform === 'mips' ? u.MetricKind.L2sq : meta.metric === 'COSINE' ? u.MetricKind.Cos : u.MetricKind.IP
const scalar = { f32: u.ScalarKind.F32, f16: u.ScalarKind.F16, bf16: u.ScalarKind.BF16, b1: u.ScalarKind.B1 }[meta.scalar] ?? u.ScalarKind.F32
if (meta.scalar === 'column') {
  // The column graph reads the segment's rows in place: load them first, so that only the graph
  // (neighbour lists and per-row values) counts.
  const raw = readFileSync(join(dir, 'hnsw.data'))
  const column = new Float32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4)
  const valid = (() => {
    try {
      return readFileSync(join(dir, 'hnsw.valid'))
    } catch {
      return undefined
    }
  })()
  const rows = valid === undefined ? null : Uint32Array.from(Array.from(valid.keys()).filter((i) => valid[i] !== 0))
  const graphBytes = readFileSync(join(dir, 'hnsw.graph'))
  const kind = meta.metric === 'IP' ? 'mips' : meta.metric === 'COSINE' ? 'cos' : 'l2'
  const before = settle()
  const g = newColumnGraph(column, meta.dim, kind, meta.M, 1, rows, 1)
  g.load(graphBytes)
  const after = settle()
  process.stdout.write(`${JSON.stringify({ rssDelta: after - before, rows: g.size(), scalar: meta.scalar })}\n`)
  process.exit(0)
}
const before = settle()
const index = new u.Index({
  dimensions: meta.transform === 'mips' ? meta.dim + 1 : meta.dim,
  metric,
  quantization: scalar,
  connectivity: meta.M,
  expansion_add: 1,
  expansion_search: 1,
  multi: false,
})
index.load(join(dir, 'hnsw.graph'))
const after = settle()
process.stdout.write(`${JSON.stringify({ rssDelta: after - before, rows: index.size(), scalar: meta.scalar })}\n`)
