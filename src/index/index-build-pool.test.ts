import { after, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { DbError } from '../common/errors.js'
import type { VectorColumn } from '../schema/columns.js'
import { gaussianMixture } from './ann-fixture.js'
import { bruteForceSearch } from './brute-force.js'
import { IndexBuildPool } from './index-build-pool.js'
import { buildVectorIndex, loadVectorIndex } from './index-factory.js'

const DIM = 32
const PARAMS = { M: '16', efConstruction: '100' }
const col = (rows: number, seed: number): VectorColumn => ({ type: 'FloatVector', dim: DIM, data: gaussianMixture({ rows, dim: DIM, seed }) })

async function rejectsWith(p: Promise<unknown>, kind: DbError['kind'], message?: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof DbError, String(e))
    assert.equal(e.kind, kind, e.message)
    if (message !== undefined) assert.match(e.message, message)
    return true
  })
}

describe('IndexBuildPool', () => {
  const pool = new IndexBuildPool({ size: 2, threadsPerBuild: 1 })
  after(() => pool.close())

  it('builds the same index as the main thread', async () => {
    const data: VectorColumn = { ...col(3000, 1), valid: Uint8Array.from({ length: 3000 }, (_, i) => (i % 5 === 0 ? 0 : 1)) }
    const queries = col(20, 2)
    const files = await pool.build({ indexType: 'HNSW', metric: 'L2', params: PARAMS, data })
    // Single-threaded usearch builds are deterministic, so the graphs match byte for byte.
    const local = buildVectorIndex('HNSW', data, 'L2', PARAMS, { threads: 1 })
    const localFiles = local.serialize()
    assert.deepEqual([...files.keys()].sort(), [...localFiles.keys()].sort())
    for (const [name, bytes] of localFiles) assert.deepEqual(files.get(name), bytes, name)
    const opts = { k: 10, params: { ef: 32 } }
    assert.deepEqual(loadVectorIndex(files).search(queries, opts), local.search(queries, opts))
    assert.deepEqual(loadVectorIndex(files, data).search(queries, opts), local.search(queries, opts))
  })

  it('keeps the event loop responsive and reports progress', async () => {
    const data = col(20000, 3)
    const progress: number[] = []
    let last = performance.now()
    let maxGap = 0
    let ticks = 0
    const timer = setInterval(() => {
      const now = performance.now()
      maxGap = Math.max(maxGap, now - last)
      last = now
      ticks++
    }, 5)
    const t0 = performance.now()
    try {
      await pool.build({ indexType: 'HNSW', metric: 'COSINE', params: PARAMS, data }, { onProgress: (f) => progress.push(f) })
    } finally {
      clearInterval(timer)
    }
    const ms = performance.now() - t0
    assert.ok(ms > 100, `build took ${ms} ms; too short to show anything`)
    // Relative bounds: a build on the event loop would block it for (nearly) the whole build, while
    // a busy CI machine may still delay single ticks by a few hundred ms.
    assert.ok(ticks >= ms / 5 / 10, `${ticks} ticks in ${ms} ms`)
    assert.ok(maxGap < Math.max(300, ms / 2), `event loop blocked for ${maxGap} ms of a ${ms} ms build`)
    assert.ok(progress.length >= 3, `progress ${progress.join()}`)
    assert.equal(progress.at(-1), 1)
    for (let i = 1; i < progress.length; i++) assert.ok(progress[i]! >= progress[i - 1]!)
  })

  it('runs builds side by side and queues beyond its size', async () => {
    const jobs = [1, 2, 3].map((s) => col(1000, 10 + s))
    const all = await Promise.all(jobs.map((data) => pool.build({ indexType: 'AUTOINDEX', metric: 'IP', params: {}, data })))
    const q = col(5, 9)
    all.forEach((files, i) => {
      const ix = loadVectorIndex(files)
      assert.equal(ix.indexType, 'AUTOINDEX')
      const got = ix.search(q, { k: 5 })
      const truth = bruteForceSearch(jobs[i]!, q, { metric: 'IP', k: 5 })
      assert.ok(got.every((h, j) => h.rows.filter((r) => truth[j]!.rows.includes(r)).length >= 4))
    })
  })

  it('builds sparse and binary columns with nulls too', async () => {
    const sparse: VectorColumn = {
      type: 'SparseFloatVector',
      data: [
        { indices: Uint32Array.from([1, 5]), values: Float32Array.from([1, 2]) },
        { indices: Uint32Array.from([]), values: Float32Array.from([]) },
        { indices: Uint32Array.from([5, 9]), values: Float32Array.from([3, 1]) },
      ],
      valid: Uint8Array.from([1, 0, 1]),
    }
    const sp = loadVectorIndex(await pool.build({ indexType: 'SPARSE_INVERTED_INDEX', metric: 'IP', params: {}, data: sparse }))
    assert.equal(sp.indexType, 'SPARSE_INVERTED_INDEX')
    assert.deepEqual(sp.search(sparse, { k: 3 }), bruteForceSearch(sparse, sparse, { metric: 'IP', k: 3 }))
    const bin: VectorColumn = { type: 'BinaryVector', dim: 16, data: Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8]), valid: Uint8Array.from([1, 1, 0, 1]) }
    for (const indexType of ['BIN_FLAT', 'BIN_IVF_FLAT']) {
      const ix = loadVectorIndex(await pool.build({ indexType, metric: 'HAMMING', params: {}, data: bin }))
      assert.equal(ix.indexType, indexType)
      assert.deepEqual(ix.search(bin, { k: 4 }), bruteForceSearch(bin, bin, { metric: 'HAMMING', k: 4 }))
    }
  })

  it('builds the IVF family and the sparse inverted index exactly as the main thread does', async () => {
    const data: VectorColumn = { ...col(3000, 21), valid: Uint8Array.from({ length: 3000 }, (_, i) => (i % 11 === 0 ? 0 : 1)) }
    const queries = col(20, 22)
    const bits: VectorColumn = { type: 'BinaryVector', dim: 64, data: Uint8Array.from({ length: 8 * 500 }, (_, i) => (i * 2654435761) >>> 24) }
    const sparseRows = Array.from({ length: 400 }, (_, i) => ({
      indices: Uint32Array.from([i % 7, 10 + (i % 13), 40 + (i % 29)]),
      values: Float32Array.from([1 + (i % 3), 0.5, (i % 5) / 4 + 0.1]),
    }))
    const sparse: VectorColumn = { type: 'SparseFloatVector', data: sparseRows }
    const jobs: [string, VectorColumn, 'L2' | 'IP' | 'COSINE' | 'HAMMING', Record<string, string>, VectorColumn][] = [
      ['IVF_FLAT', data, 'COSINE', { nlist: '32' }, queries],
      ['IVF_SQ8', data, 'L2', { nlist: '32' }, queries],
      ['IVF_PQ', data, 'IP', { nlist: '16', m: '8' }, queries],
      ['BIN_IVF_FLAT', bits, 'HAMMING', { nlist: '8' }, bits],
      ['SPARSE_WAND', sparse, 'IP', {}, sparse],
    ]
    const built = await Promise.all(jobs.map(([indexType, d, metric, params]) => pool.build({ indexType, metric, params, data: d })))
    jobs.forEach(([indexType, d, metric, params, q], i) => {
      const files = built[i]!
      // IVF and sparse builds are deterministic, so the worker's files match the main thread's.
      const local = buildVectorIndex(indexType, d, metric, params).serialize()
      assert.deepEqual([...files.keys()].sort(), [...local.keys()].sort(), indexType)
      for (const [name, bytes] of local) assert.deepEqual(files.get(name), bytes, `${indexType} ${name}`)
      const ix = loadVectorIndex(files)
      assert.equal(ix.indexType, indexType)
      const opts = { k: 5, params: { nprobe: 64 } }
      // Probing every list is exact for the exact-scan kinds and the sparse index.
      if (indexType !== 'IVF_SQ8' && indexType !== 'IVF_PQ') assert.deepEqual(ix.search(q, opts), bruteForceSearch(d, q, { metric, k: 5 }), indexType)
    })
  })

  it('reports build errors as the DbError the worker threw', async () => {
    const data = col(100, 4)
    await rejectsWith(pool.build({ indexType: 'HNSW', metric: 'L2', params: { M: '1' }, data }), 'ParameterInvalid', /^param 'M' \(1\) should be in range \[2, 2048\]: invalid parameter$/)
    await rejectsWith(pool.build({ indexType: 'GPU_CAGRA', metric: 'L2', params: {}, data }), 'IndexNotSupported')
    await rejectsWith(pool.build({ indexType: 'HNSW', metric: 'HAMMING', params: {}, data }), 'ParameterInvalid', /metric type HAMMING/)
    await rejectsWith(pool.build({ indexType: 'IVF_PQ', metric: 'L2', params: {}, data }), 'ParameterInvalid', /^parameter `m` not found/)
  })

  it('aborts queued and running builds, then keeps working', async () => {
    const small = new IndexBuildPool({ size: 1, threadsPerBuild: 1 })
    try {
      const data = col(20000, 5)
      const ac = new AbortController()
      const running = small.build({ indexType: 'HNSW', metric: 'L2', params: PARAMS, data }, {
        signal: ac.signal,
        onProgress: (f) => {
          if (f > 0 && f < 1) ac.abort(new Error('user'))
        },
      })
      const queued = new AbortController()
      const waiting = small.build({ indexType: 'HNSW', metric: 'L2', params: PARAMS, data }, { signal: queued.signal })
      // Handlers go on before anything settles, so no rejection is ever unhandled.
      const checks = [rejectsWith(running, 'ServiceUnavailable', /aborted/), rejectsWith(waiting, 'ServiceUnavailable', /aborted/)]
      queued.abort()
      await Promise.all(checks)
      await rejectsWith(small.build({ indexType: 'FLAT', metric: 'L2', params: {}, data }, { signal: AbortSignal.abort() }), 'ServiceUnavailable')
      // The worker stops at its next chunk and takes the next job.
      const files = await small.build({ indexType: 'HNSW', metric: 'L2', params: PARAMS, data: col(500, 6) })
      assert.equal(loadVectorIndex(files).indexType, 'HNSW')
    } finally {
      await small.close()
    }
  })

  it('close() rejects pending builds and later ones', async () => {
    const p = new IndexBuildPool({ size: 1 })
    const data = col(20000, 7)
    const checks = [1, 2].map(() => rejectsWith(p.build({ indexType: 'HNSW', metric: 'L2', params: PARAMS, data }), 'ServiceUnavailable', /closed/))
    await p.close()
    await Promise.all(checks)
    await rejectsWith(p.build({ indexType: 'FLAT', metric: 'L2', params: {}, data }), 'ServiceUnavailable', /closed/)
    assert.throws(() => new IndexBuildPool({ size: 0 }), (e: unknown) => e instanceof DbError && e.kind === 'ParameterInvalid')
  })

  it('close() during a native build waits for the worker instead of killing it mid-kernel', async () => {
    // Terminating a worker inside usearch's add made the addon throw during teardown and abort the
    // whole process; reaching the end of this test is the assertion.
    const p = new IndexBuildPool({ size: 1 })
    let started!: () => void
    const inKernel = new Promise<void>((resolve) => (started = resolve))
    const build = p.build({ indexType: 'HNSW', metric: 'L2', params: PARAMS, data: col(30000, 8) }, { onProgress: (f) => f > 0 && started() })
    const rejected = rejectsWith(build, 'ServiceUnavailable', /closed/)
    await inKernel
    await p.close()
    await rejected
  })
})
