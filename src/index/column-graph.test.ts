import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { Bitset } from '../common/bitset.js'
import { gaussianMixture } from './ann-fixture.js'
import { bruteForceSearch } from './brute-force.js'
import { columnGraphAvailable, filterWords, newColumnGraph } from './column-graph.js'
import { bfloat16ToFloat32, float16ToFloat32, float32ToBfloat16, float32ToFloat16 } from './half-float.js'
import type { VectorColumn } from '../schema/columns.js'

const N = 3000
const DIM = 24
const data = gaussianMixture({ rows: N, dim: DIM, clusters: 12, seed: 7 })
const queries = gaussianMixture({ rows: 40, dim: DIM, clusters: 12, seed: 8 })

function recallOf(got: { keys: Uint32Array; counts: Int32Array }, wanted: number, truth: Int32Array[], k: number): number {
  let hit = 0
  truth.forEach((t, q) => {
    const mine = new Set(Array.from(got.keys.subarray(q * wanted, q * wanted + Math.min(k, got.counts[q]!))))
    for (const row of t) if (mine.has(row)) hit++
  })
  return hit / (truth.length * k)
}

const truthOf = (metric: 'L2' | 'IP' | 'COSINE', allow?: Bitset) =>
  bruteForceSearch({ type: 'FloatVector', dim: DIM, data }, { type: 'FloatVector', dim: DIM, data: queries }, { metric, k: 10, allow }).map((h) => h.rows)

describe('column graph addon', { skip: process.env.HARRIER_NATIVE_GRAPH === '0' && 'HARRIER_NATIVE_GRAPH=0' }, () => {
  it('is built here (npm ci builds it; a silent fallback would hide a broken build)', () => {
    assert.ok(columnGraphAvailable(), 'native/build/Release/harrier_graph.node did not load; run npm ci or npm run build:native')
  })

  for (const [metric, kind] of [['L2', 'l2'], ['IP', 'mips'], ['COSINE', 'cos']] as const) {
    it(`${metric}: recall@10 >= 0.95 against brute force, sync and async alike`, async () => {
      const g = newColumnGraph(data, DIM, kind, 16, 100, null, 2)
      g.add(0, N, 2)
      assert.equal(g.size(), N)
      const truth = truthOf(metric)
      const sync = g.search(queries, 40, 64, null, 0)
      assert.ok(recallOf(sync, 64, truth, 10) >= 0.95, `recall ${recallOf(sync, 64, truth, 10)}`)
      const async = await g.searchAsync(queries, 40, 64, null, 0)
      assert.deepEqual(async.keys, sync.keys)
      assert.deepEqual(async.counts, sync.counts)
    })
  }

  it('returns only allowed rows, and finds them as brute force does', async () => {
    const g = newColumnGraph(data, DIM, 'l2', 16, 100, null, 1)
    g.add(0, N, 1)
    const allow = new Bitset(N)
    for (let i = 0; i < N; i += 5) allow.set(i)
    const m = await g.searchAsync(queries, 40, 64, ...filterWords(allow))
    for (let q = 0; q < 40; q++) {
      assert.equal(m.counts[q], 64)
      for (const row of m.keys.subarray(q * 64, (q + 1) * 64)) assert.ok(allow.get(row), `row ${row} is not allowed`)
    }
    assert.ok(recallOf(m, 64, truthOf('L2', allow), 10) >= 0.95)
    // Nothing allowed: nothing found.
    const none = g.search(queries, 2, 10, ...filterWords(new Bitset(N)))
    assert.deepEqual(Array.from(none.counts), [0, 0])
  })

  it('indexes only the listed rows and reloads only over the same rows', () => {
    const rows = Uint32Array.from({ length: N / 2 }, (_, i) => i * 2)
    const g = newColumnGraph(data, DIM, 'cos', 8, 50, rows, 2)
    g.add(0, rows.length, 2)
    const m = g.search(queries, 40, 20, null, 0)
    for (const row of m.keys.subarray(0, m.counts[0]!)) assert.equal(row % 2, 0)
    const bytes = g.save()
    const back = newColumnGraph(data, DIM, 'cos', 8, 50, rows, 1)
    back.load(bytes)
    assert.deepEqual(back.search(queries, 40, 20, null, 0), m)
    // Another row list, a truncated file, or garbage: refused, never read past the column.
    const odd = newColumnGraph(data, DIM, 'cos', 8, 50, Uint32Array.from(rows, (x) => x + 1), 1)
    assert.throws(() => odd.load(bytes), /unexpected key|size disagrees/)
    // A refused file leaves nothing behind: the object still searches its own (empty) graph.
    assert.deepEqual(Array.from(odd.search(queries, 1, 1, null, 0).counts), [0])
    assert.throws(() => newColumnGraph(data, DIM, 'cos', 8, 50, rows, 1).load(bytes.subarray(0, bytes.length - 7)), /load failed/)
    assert.throws(() => newColumnGraph(data, DIM, 'cos', 8, 50, rows, 1).load(new Uint8Array(10)), /load failed/)
  })

  it('rejects bad arguments with errors, not crashes', () => {
    assert.throws(() => newColumnGraph(data.subarray(0, DIM * 3 + 1), DIM, 'l2', 16, 10, null, 1), /multiple of dim/)
    assert.throws(() => newColumnGraph(data, DIM, 'l2', 16, 10, Uint32Array.of(N), 1), /out of range/)
    const g = newColumnGraph(data, DIM, 'l2', 16, 10, null, 1)
    g.add(0, 100, 1)
    assert.throws(() => g.search(queries.subarray(0, DIM - 1), 1, 10, null, 0), /shorter/)
  })

  it('keeps only neighbour lists: far below the raw rows at 768 dimensions', () => {
    const dim = 768
    const rows = 2000
    const col = gaussianMixture({ rows, dim, clusters: 8, seed: 3 })
    const g = newColumnGraph(col, dim, 'l2', 16, 40, null, 2)
    g.add(0, rows, 2)
    assert.ok(g.memoryBytes() < 0.2 * col.byteLength, `graph ${g.memoryBytes()} bytes for ${col.byteLength} raw`)
  })

  it('serves many concurrent searches over several graphs', async () => {
    const graphs = [0, 1, 2].map(() => {
      const g = newColumnGraph(data, DIM, 'l2', 16, 60, null, 1)
      g.add(0, N, 1)
      return g
    })
    const expected = graphs[0]!.search(queries, 40, 30, null, 0)
    const all = await Promise.all(Array.from({ length: 60 }, (_, i) => graphs[i % 3]!.searchAsync(queries, 40, 30, null, 0)))
    // Same rows in every graph; builds may differ in tie order, so compare the first graph's own results.
    all.filter((_, i) => i % 3 === 0).forEach((m) => assert.deepEqual(m, expected))
  })
})

describe('column graph completions', { skip: process.env.HARRIER_NATIVE_GRAPH === '0' && 'HARRIER_NATIVE_GRAPH=0' }, () => {
  it('a pending search keeps the process alive; an idle addon lets it exit', () => {
    const addon = JSON.stringify(fileURLToPath(new URL('../../../native/build/Release/harrier_graph.node', import.meta.url)))
    const script = `
      const { ColumnGraph } = require(${addon})
      const g = new ColumnGraph(new Float32Array([1, 2, 3, 4]), 2, 'l2', 4, 8, null, 1)
      g.add(0, 2, 1)
      g.searchAsync(new Float32Array([3, 4]), 1, 1, null, 0).then((m) => process.stdout.write('resolved ' + m.keys[0]))`
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 20_000 })
    assert.equal(r.signal, null, 'the process did not exit on its own')
    assert.equal(r.status, 0, r.stderr)
    assert.equal(r.stdout, 'resolved 1')
  })
})

describe('column graph robustness', { skip: process.env.HARRIER_NATIVE_GRAPH === '0' && 'HARRIER_NATIVE_GRAPH=0' }, () => {
  const addon = JSON.stringify(fileURLToPath(new URL('../../../native/build/Release/harrier_graph.node', import.meta.url)))

  it('worker threads that exit with searches pending leave the process running', () => {
    // Each worker starts graph and exact searches and exits at once: its environment must wait
    // for the native threads before freeing what they read.
    const worker = `
      const { ColumnGraph, exactSearchAsync } = require(${addon})
      const dim = 16, n = 8000
      const col = Float32Array.from({ length: n * dim }, (_, i) => Math.sin(i * 12.9898) * 43758.5453 % 1)
      const g = new ColumnGraph(col, dim, 'l2', 8, 16, null, 2)
      g.add(0, n, 2)
      const q = col.subarray(0, 500 * dim)
      for (let i = 0; i < 4; i++) g.searchAsync(q, 500, 50, null, 0)
      for (let i = 0; i < 4; i++) exactSearchAsync(col, dim, 'l2', null, q, 500, 50, null, 0)
      setTimeout(() => process.exit(0), 2)`
    const script = `
      const { Worker } = require('node:worker_threads')
      let done = 0
      const go = () => { const w = new Worker(${JSON.stringify(worker)}, { eval: true }); w.on('exit', () => { if (++done < 6) go(); else process.stdout.write('survived ' + done) }) }
      go()`
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 60_000 })
    assert.equal(r.signal, null, r.stderr)
    assert.equal(r.status, 0, r.stderr)
    assert.equal(r.stdout, 'survived 6')
  })

  it('a graph file with a neighbour outside the graph is refused at load', () => {
    const g = newColumnGraph(data, DIM, 'l2', 8, 32, null, 1)
    g.add(0, 500, 1)
    const rows = Uint32Array.from({ length: 500 }, (_, i) => i)
    const bytes = new Uint8Array(g.save())
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    // Header (5 x u64), then one i16 level per node, then the nodes: key u64, level i16, and per
    // level a u32 count and the slots (2M on level 0, M above). Point the first used slot away.
    let off = 40 + 2 * 500
    for (let i = 0; i < 500; i++) {
      const level = dv.getInt16(40 + 2 * i, true)
      if (dv.getUint32(off + 10, true) > 0) {
        dv.setUint32(off + 14, 0x7ffffff0, true)
        break
      }
      off += 10 + (4 + 4 * 16) + level * (4 + 4 * 8)
    }
    const back = newColumnGraph(data, DIM, 'l2', 8, 32, rows, 1)
    assert.throws(() => back.load(bytes), /bad neighbour/)
  })

  it('rejects typed arrays of the wrong element type and impossible sizes', () => {
    const g = newColumnGraph(data, DIM, 'l2', 8, 32, null, 1)
    g.add(0, 200, 1)
    const q = queries.subarray(0, DIM)
    assert.throws(() => g.search(q, 1, 10, new Uint8Array(4) as unknown as Uint32Array, 32), /Uint32Array/)
    assert.throws(() => g.search(q, 1, 1e9, null, 0), /wanted exceeds/)
    assert.throws(() => newColumnGraph(data, DIM, 'l2', 0, 32, null, 1), /M must be/)
  })
})

describe('column graph kernels', { skip: process.env.HARRIER_NATIVE_GRAPH === '0' && 'HARRIER_NATIVE_GRAPH=0' }, () => {
  // Every ISA path (AVX-512, AVX2+FMA, scalar) on a dimension with a ragged tail, in a child
  // process per path (the choice is made once per process): an exhaustive beam must give exactly
  // brute force's top rows for every distance form.
  const half = JSON.stringify(new URL('./half-float.js', import.meta.url).href)
  const script = `
    import { createRequire } from 'node:module'
    import { float32ToFloat16, float32ToBfloat16 } from ${half}
    const { ColumnGraph, isa } = createRequire(import.meta.url)(${JSON.stringify(fileURLToPath(new URL('../../../native/build/Release/harrier_graph.node', import.meta.url)))})
    const dim = 37, n = 400
    let a = 1; const r = () => ((a = (a * 48271) % 2147483647) / 2147483647) * 2 - 1
    const data = Float32Array.from({ length: n * dim }, r), q = Float32Array.from({ length: 5 * dim }, r)
    const columns = {
      f32: data,
      f16: Uint16Array.from(data, float32ToFloat16),
      bf16: Uint16Array.from(data, float32ToBfloat16),
      i8: Int8Array.from(data, (x) => Math.round(x * 127)),
    }
    const out = { isa }
    for (const [elem, col] of Object.entries(columns)) {
      for (const kind of ['l2', 'mips', 'cos']) {
        const g = new ColumnGraph(col, dim, kind, 8, 64, null, 1, elem)
        g.add(0, n, 1)
        const m = g.search(q, 5, n, null, 0)
        out[elem + ' ' + kind] = Array.from({ length: 5 }, (_, i) => Array.from(m.keys.subarray(i * n, i * n + 10)))
      }
    }
    process.stdout.write(JSON.stringify(out))`

  const exact = (kind: 'l2' | 'mips' | 'cos', data: VectorColumn, q: Float32Array, dim: number): number[][] => {
    const metric = kind === 'l2' ? 'L2' : kind === 'mips' ? 'IP' : 'COSINE'
    // The graph widens rows to float32 and keeps queries in float32: brute force over the widened
    // rows is the reference.
    const src = data.data as Float32Array | Uint16Array | Int8Array
    const n = src.length / dim
    const wide = new Float32Array(n * dim)
    for (let i = 0; i < n * dim; i++) {
      const x = src[i]!
      wide[i] = data.type === 'Float16Vector' ? float16ToFloat32(x) : data.type === 'BFloat16Vector' ? bfloat16ToFloat32(x) : x
    }
    return bruteForceSearch({ type: 'FloatVector', dim, data: wide }, { type: 'FloatVector', dim, data: q }, { metric, k: 10 }).map((h) => Array.from(h.rows))
  }

  for (const isa of ['avx512', 'avx2', 'scalar']) {
    it(`${isa}: exhaustive search equals brute force for L2, IP and COSINE over f32, f16, bf16 and int8 rows`, (t) => {
      const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { env: { ...process.env, HARRIER_GRAPH_ISA: isa }, encoding: 'utf8' })
      assert.equal(r.status, 0, r.stderr)
      const got = JSON.parse(r.stdout) as Record<string, unknown> & { isa: string }
      if (got.isa !== isa) return t.skip(`this CPU has no ${isa} (ran ${got.isa})`)
      const dim = 37
      const n = 400
      let a = 1
      const rnd = () => ((a = (a * 48271) % 2147483647) / 2147483647) * 2 - 1
      const data = Float32Array.from({ length: n * dim }, rnd)
      const q = Float32Array.from({ length: 5 * dim }, rnd)
      const columns: Record<string, VectorColumn> = {
        f32: { type: 'FloatVector', dim, data },
        f16: { type: 'Float16Vector', dim, data: Uint16Array.from(data, float32ToFloat16) },
        bf16: { type: 'BFloat16Vector', dim, data: Uint16Array.from(data, float32ToBfloat16) },
        i8: { type: 'Int8Vector', dim, data: Int8Array.from(data, (x) => Math.round(x * 127)) },
      }
      for (const [elem, col] of Object.entries(columns)) {
        for (const kind of ['l2', 'mips', 'cos'] as const) assert.deepEqual(got[`${elem} ${kind}`], exact(kind, col, q, dim), `${elem} ${kind}`)
      }
    })
  }
})
