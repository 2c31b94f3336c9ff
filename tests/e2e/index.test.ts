/**
 * Real vector indexes through the SDK: HNSW builds per flushed segment off the event loop, reports
 * progress, keeps recall against brute force (also under filters at extreme pass rates), and its
 * files persist so a restart serves the index without rebuilding it.
 */
import assert from 'node:assert/strict'
import { rm } from 'node:fs/promises'
import { after, describe, it } from 'node:test'
import { DataType, ErrorCode, type MilvusClient } from '@zilliz/milvus2-sdk-node'
import { startServer, tempDataDir } from './server.js'

const DIM = 16
const N = 3000

function rng(seed: number): () => number {
  let s = seed >>> 0
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0
    return s / 2 ** 32
  }
}

/** A Gaussian mixture, so the graph has real work to do. */
function dataset(seed: number, n: number): number[][] {
  const r = rng(seed)
  const gauss = () => Math.sqrt(-2 * Math.log(r() + 1e-12)) * Math.cos(2 * Math.PI * r())
  const centers = Array.from({ length: 20 }, () => Array.from({ length: DIM }, () => gauss() * 3))
  return Array.from({ length: n }, () => {
    const c = centers[Math.floor(r() * centers.length)]!
    return c.map((x) => x + gauss())
  })
}

const l2 = (a: number[], b: number[]) => a.reduce((s, x, i) => s + (x - b[i]!) ** 2, 0)

async function waitIndexed(client: MilvusClient, collection: string, field = 'v'): Promise<void> {
  const deadline = Date.now() + 60_000
  for (;;) {
    const d = await client.describeIndex({ collection_name: collection, field_name: field })
    const x = d.index_descriptions[0]!
    if (x.state === 'Finished' && Number(x.pending_index_rows) === 0 && Number(x.indexed_rows) > 0) return
    assert.notEqual(x.state, 'Failed', x.index_state_fail_reason)
    if (Date.now() > deadline) assert.fail(`index not built: ${JSON.stringify(x)}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

describe('vector indexes', () => {
  const dirs: string[] = []
  after(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true })
  })

  it('builds HNSW per flushed segment, keeps recall, and serves it after a restart without rebuilding', async () => {
    const dataDir = await tempDataDir()
    dirs.push(dataDir)
    let server = await startServer({ dataDir })
    let client = server.client()
    const vectors = dataset(7, N)
    const r = await client.createCollection({
      collection_name: 'ann',
      consistency_level: 'Strong',
      fields: [
        { name: 'id', data_type: DataType.Int64, is_primary_key: true },
        { name: 'v', data_type: DataType.FloatVector, dim: DIM },
        { name: 'bucket', data_type: DataType.Int32 },
      ],
    })
    assert.equal(r.error_code, ErrorCode.SUCCESS, r.reason)
    const idx = await client.createIndex({ collection_name: 'ann', field_name: 'v', index_type: 'HNSW', metric_type: 'L2', params: { M: 16, efConstruction: 100 } })
    assert.equal(idx.error_code, ErrorCode.SUCCESS, idx.reason)
    const bad = await client.createIndex({ collection_name: 'ann', field_name: 'bucket', index_type: 'HNSW', metric_type: 'L2' })
    assert.equal(bad.error_code, 'IllegalArgument')
    for (let i = 0; i < N; i += 1000) {
      const ins = await client.insert({ collection_name: 'ann', data: vectors.slice(i, i + 1000).map((v, j) => ({ id: i + j, v, bucket: (i + j) % 1000 })) })
      assert.equal(ins.status.error_code, ErrorCode.SUCCESS, ins.status.reason)
    }
    await client.flushSync({ collection_names: ['ann'] })
    await client.loadCollection({ collection_name: 'ann' })
    await waitIndexed(client, 'ann')
    const segs = await client.getQuerySegmentInfo({ collectionName: 'ann' })
    assert.ok(segs.infos.length > 0 && segs.infos.every((s) => s.index_name === 'v'), 'every flushed segment serves the built index')

    const queries = dataset(8, 30)
    const recallAt10 = async (filter?: string, pass: (id: number) => boolean = () => true): Promise<number> => {
      let hit = 0
      let want = 0
      for (const q of queries) {
        const res = await client.search({ collection_name: 'ann', data: [q], limit: 10, filter, params: { ef: 64 } })
        assert.equal(res.status.error_code, ErrorCode.SUCCESS, res.status.reason)
        const truth = vectors.map((v, id) => ({ id, d: l2(v, q) })).filter((x) => pass(x.id)).sort((a, b) => a.d - b.d).slice(0, 10)
        const got = new Set(res.results.map((h) => Number(h.id)))
        want += truth.length
        for (const t of truth) if (got.has(t.id)) hit++
        assert.ok(res.results.every((h) => pass(Number(h.id))), 'every hit passes the filter')
      }
      return want === 0 ? 1 : hit / want
    }
    assert.ok((await recallAt10()) >= 0.95)
    assert.ok((await recallAt10('bucket < 500', (id) => id % 1000 < 500)) >= 0.95, '50% pass rate')
    assert.ok((await recallAt10('bucket < 10', (id) => id % 1000 < 10)) >= 0.95, '1% pass rate')
    assert.ok((await recallAt10('id == 1234', (id) => id === 1234)) === 1, 'one row')
    const none = await client.search({ collection_name: 'ann', data: [queries[0]!], limit: 10, filter: 'bucket < 0' })
    assert.equal(none.results.length, 0)
    const badEf = await client.search({ collection_name: 'ann', data: [queries[0]!], limit: 100, params: { ef: 10 } })
    assert.equal(badEf.status.error_code, 'IllegalArgument', 'ef below topk is refused as in Milvus')

    await server.stop()
    server = await startServer({ dataDir })
    client = server.client()
    // Built indexes come back with their segments: nothing is pending right after the restart.
    const d = await client.describeIndex({ collection_name: 'ann', field_name: 'v' })
    assert.equal(d.index_descriptions[0]!.state, 'Finished')
    assert.equal(Number(d.index_descriptions[0]!.indexed_rows), N)
    const again = await client.getQuerySegmentInfo({ collectionName: 'ann' })
    assert.ok(again.infos.every((s) => s.index_name === 'v'))
    assert.ok((await recallAt10()) >= 0.95)
    assert.equal((await client.dropIndex({ collection_name: 'ann', field_name: 'v' })).error_code !== ErrorCode.SUCCESS, true, 'loaded collections keep their index')
    await client.releaseCollection({ collection_name: 'ann' })
    assert.equal((await client.dropIndex({ collection_name: 'ann', field_name: 'v' })).error_code, ErrorCode.SUCCESS)
    await server.stop()
  })

  it('builds IVF_FLAT and a sparse inverted index per flushed segment, with results matching brute force', async () => {
    const server = await startServer()
    const client = server.client()
    const vectors = dataset(11, 2000)
    await client.createCollection({
      collection_name: 'ivf',
      consistency_level: 'Strong',
      fields: [
        { name: 'id', data_type: DataType.Int64, is_primary_key: true },
        { name: 'v', data_type: DataType.FloatVector, dim: DIM },
        { name: 'sp', data_type: DataType.SparseFloatVector },
      ],
    })
    const r = rng(5)
    const sparse = vectors.map(() => {
      const row: Record<number, number> = {}
      for (let j = 0; j < 6; j++) row[Math.floor(r() * 200)] = Math.round(r() * 1000) / 1000 + 0.001
      return row
    })
    await client.insert({ collection_name: 'ivf', data: vectors.map((v, id) => ({ id, v, sp: sparse[id]! })) })
    await client.flushSync({ collection_names: ['ivf'] })
    assert.equal((await client.createIndex({ collection_name: 'ivf', field_name: 'v', index_type: 'IVF_FLAT', metric_type: 'L2', params: { nlist: 32 } })).error_code, ErrorCode.SUCCESS)
    assert.equal((await client.createIndex({ collection_name: 'ivf', field_name: 'sp', index_type: 'SPARSE_INVERTED_INDEX', metric_type: 'IP', params: { drop_ratio_build: 0 } })).error_code, ErrorCode.SUCCESS)
    await client.loadCollection({ collection_name: 'ivf' })
    await waitIndexed(client, 'ivf')
    await waitIndexed(client, 'ivf', 'sp')
    const segs = await client.getQuerySegmentInfo({ collectionName: 'ivf' })
    assert.ok(segs.infos.length > 0)

    let hit = 0
    const queries = dataset(12, 20)
    for (const q of queries) {
      const res = await client.search({ collection_name: 'ivf', anns_field: 'v', data: [q], limit: 10, params: { nprobe: 16 } })
      assert.equal(res.status.error_code, ErrorCode.SUCCESS, res.status.reason)
      const truth = new Set(vectors.map((v, id) => ({ id, d: l2(v, q) })).sort((a, b) => a.d - b.d).slice(0, 10).map((x) => x.id))
      for (const h of res.results) if (truth.has(Number(h.id))) hit++
    }
    assert.ok(hit / (10 * queries.length) >= 0.95, `IVF_FLAT recall ${hit / (10 * queries.length)}`)
    const dot = (a: Record<number, number>, b: Record<number, number>) => Object.entries(a).reduce((s, [k, x]) => s + x * (b[Number(k)] ?? 0), 0)
    for (const q of sparse.slice(0, 10)) {
      const res = await client.search({ collection_name: 'ivf', anns_field: 'sp', data: [q], limit: 5 })
      assert.equal(res.status.error_code, ErrorCode.SUCCESS, res.status.reason)
      const want = sparse.map((s, id) => ({ id, d: dot(q, s) })).filter((x) => x.d > 0).sort((a, b) => b.d - a.d || a.id - b.id).slice(0, 5)
      assert.deepEqual(res.results.map((h) => Math.round(h.score * 1e4)), want.map((w) => Math.round(Math.fround(w.d) * 1e4)))
    }
    await server.close()
  })
})
