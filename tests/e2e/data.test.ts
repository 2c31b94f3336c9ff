/** Insert, upsert, delete, query, search and consistency through the official SDK, checked against brute force. */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { DataType, ErrorCode, type MilvusClient } from '@zilliz/milvus2-sdk-node'
import { startServer, type TestServer } from './server.js'

const DIM = 8

function rng(seed: number): () => number {
  let s = seed >>> 0
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0
    return s / 2 ** 32
  }
}

function vec(r: () => number, dim = DIM): number[] {
  return Array.from({ length: dim }, () => Math.round((r() * 2 - 1) * 1000) / 1000)
}

function l2(a: number[], b: number[]): number {
  let s = 0
  for (let i = 0; i < a.length; i++) s += (a[i]! - b[i]!) ** 2
  return s
}

describe('data path through the official SDK', () => {
  let server: TestServer
  let client: MilvusClient

  before(async () => {
    server = await startServer()
    client = server.client()
    await client.connectPromise
  })
  after(async () => {
    await server.close()
  })

  it('round-trips every scalar and vector type, with nullable and default values', async () => {
    const res = await client.createCollection({
      collection_name: 'all_types',
      enable_dynamic_field: true,
      fields: [
        { name: 'pk', data_type: DataType.VarChar, is_primary_key: true, max_length: 32 },
        { name: 'b', data_type: DataType.Bool },
        { name: 'i8', data_type: DataType.Int8 },
        { name: 'i16', data_type: DataType.Int16 },
        { name: 'i32', data_type: DataType.Int32, nullable: true },
        { name: 'i64', data_type: DataType.Int64, default_value: 7 },
        { name: 'f', data_type: DataType.Float },
        { name: 'd', data_type: DataType.Double },
        { name: 's', data_type: DataType.VarChar, max_length: 16, nullable: true },
        { name: 'j', data_type: DataType.JSON },
        { name: 'arr', data_type: DataType.Array, element_type: DataType.Int64, max_capacity: 4 },
        { name: 'sarr', data_type: DataType.Array, element_type: DataType.VarChar, max_capacity: 3, max_length: 8 },
        { name: 'fv', data_type: DataType.FloatVector, dim: 4 },
        { name: 'bv', data_type: DataType.BinaryVector, dim: 16 },
        { name: 'hv', data_type: DataType.Float16Vector, dim: 4 },
        { name: 'sv', data_type: DataType.SparseFloatVector },
      ],
    })
    assert.equal(res.error_code, ErrorCode.SUCCESS, res.reason)
    const rows = [
      { pk: 'a', b: true, i8: -128, i16: 32767, i32: 5, i64: 9007199254740993n.toString(), f: 1.5, d: 2.25, s: 'héllo', j: { x: 1, y: [1, 2] }, arr: [1, 2], sarr: ['p', 'q'], fv: [0.1, 0.2, 0.3, 0.4], bv: [1, 255], hv: [0.5, -1, 2, 0.25], sv: { 3: 0.5, 10: 1.25 }, extra: 'dyn' },
      { pk: 'b', b: false, i8: 127, i16: -5, i32: null, i64: null, f: -3, d: 1e100, s: null, j: [1, 'two'], arr: [], sarr: [], fv: [1, 0, 0, 0], bv: [0, 1], hv: [1, 1, 1, 1], sv: { 0: 2 }, other: 3 },
    ]
    const ins = await client.insert({ collection_name: 'all_types', data: rows })
    assert.equal(ins.status.error_code, ErrorCode.SUCCESS, ins.status.reason)
    assert.equal(ins.insert_cnt, '2')
    for (const [field, type] of [['fv', 'FLAT'], ['bv', 'BIN_FLAT'], ['hv', 'FLAT'], ['sv', 'SPARSE_INVERTED_INDEX']] as const) {
      const metric = field === 'bv' ? 'HAMMING' : field === 'sv' ? 'IP' : 'L2'
      const r = await client.createIndex({ collection_name: 'all_types', field_name: field, index_type: type, metric_type: metric })
      assert.equal(r.error_code, ErrorCode.SUCCESS, r.reason)
    }
    await client.loadCollection({ collection_name: 'all_types' })
    const q = await client.query({ collection_name: 'all_types', filter: 'pk in ["a", "b"]', output_fields: ['*'], consistency_level: 'Strong' as never })
    assert.equal(q.status.error_code, ErrorCode.SUCCESS, q.status.reason)
    const byPk = new Map(q.data.map((r) => [r.pk, r]))
    const a = byPk.get('a')!
    const b = byPk.get('b')!
    assert.equal(a.b, true)
    assert.equal(a.i8, -128)
    assert.equal(a.i16, 32767)
    assert.equal(a.i32, 5)
    assert.equal(String(a.i64), '9007199254740993')
    assert.equal(a.f, 1.5)
    assert.equal(a.d, 2.25)
    assert.equal(a.s, 'héllo')
    assert.deepEqual(a.j, { x: 1, y: [1, 2] })
    assert.deepEqual(a.arr.map(String), ['1', '2'])
    assert.deepEqual(a.sarr, ['p', 'q'])
    assert.deepEqual(a.fv.map((x: number) => Math.round(x * 1000) / 1000), [0.1, 0.2, 0.3, 0.4])
    assert.deepEqual(a.bv, [1, 255])
    assert.deepEqual(a.hv, [0.5, -1, 2, 0.25])
    assert.deepEqual(a.sv, { 3: 0.5, 10: 1.25 })
    assert.deepEqual(a.$meta, { extra: 'dyn' })
    assert.equal(b.i32, null)
    assert.equal(String(b.i64), '7', 'default value fills a null on a default-valued field')
    assert.equal(b.s, null)
    assert.deepEqual(b.j, [1, 'two'])
    assert.equal(b.d, 1e100)
    assert.deepEqual(b.$meta, { other: 3 })
    const dyn = await client.query({ collection_name: 'all_types', filter: 'other == 3', output_fields: ['pk', 'other'] })
    assert.deepEqual(dyn.data.map((r) => r.pk), ['b'])
  })

  it('searches with L2, IP and COSINE exactly like brute force, with filters, offset and output fields', async () => {
    await client.createCollection({
      collection_name: 'vecs',
      fields: [
        { name: 'id', data_type: DataType.Int64, is_primary_key: true },
        { name: 'v', data_type: DataType.FloatVector, dim: DIM },
        { name: 'n', data_type: DataType.Int32 },
        { name: 'tag', data_type: DataType.VarChar, max_length: 10 },
        { name: 'meta', data_type: DataType.JSON },
      ],
      consistency_level: 'Strong',
    })
    const r = rng(42)
    const data = Array.from({ length: 500 }, (_, i) => ({ id: i, v: vec(r), n: i % 10, tag: i % 2 ? 'odd' : 'even', meta: { g: i % 3 } }))
    for (let i = 0; i < data.length; i += 100) {
      const ins = await client.insert({ collection_name: 'vecs', data: data.slice(i, i + 100) })
      assert.equal(ins.status.error_code, ErrorCode.SUCCESS, ins.status.reason)
    }
    await client.createIndex({ collection_name: 'vecs', field_name: 'v', index_type: 'FLAT', metric_type: 'L2' })
    await client.loadCollection({ collection_name: 'vecs' })
    const q = vec(r)
    const res = await client.search({ collection_name: 'vecs', data: [q], limit: 5, output_fields: ['n', 'tag'] })
    assert.equal(res.status.error_code, ErrorCode.SUCCESS, res.status.reason)
    const expected = [...data].sort((x, y) => l2(x.v, q) - l2(y.v, q) || x.id - y.id).slice(0, 5)
    assert.deepEqual(res.results.map((h) => Number(h.id)), expected.map((e) => e.id))
    for (const h of res.results) {
      const row = data[Number(h.id)]!
      assert.ok(Math.abs(h.score - l2(row.v, q)) < 1e-4)
      assert.equal(h.n, row.n)
      assert.equal(h.tag, row.tag)
    }
    const filtered = await client.search({ collection_name: 'vecs', data: [q], limit: 5, filter: 'n in [1, 2] and tag == "odd" and meta["g"] >= 1', output_fields: ['n'] })
    const exp2 = data.filter((d) => [1, 2].includes(d.n) && d.tag === 'odd' && d.meta.g >= 1).sort((x, y) => l2(x.v, q) - l2(y.v, q)).slice(0, 5)
    assert.deepEqual(filtered.results.map((h) => Number(h.id)), exp2.map((e) => e.id))
    const paged = await client.search({ collection_name: 'vecs', data: [q], limit: 3, offset: 2 })
    assert.deepEqual(paged.results.map((h) => Number(h.id)), expected.slice(2, 5).map((e) => e.id))
    const multi = await client.search({ collection_name: 'vecs', data: [q, data[7]!.v], limit: 2 })
    assert.equal(multi.results.length, 2)
    assert.equal(Number((multi.results[1] as unknown as { id: string }[])[0]!.id), 7)
    const rounded = await client.search({ collection_name: 'vecs', data: [q], limit: 1, params: { round_decimal: 2 } } as never)
    assert.equal(rounded.status.error_code, ErrorCode.SUCCESS)
    const wrongMetric = await client.search({ collection_name: 'vecs', data: [q], limit: 1, metric_type: 'IP' })
    assert.equal(wrongMetric.status.error_code, 'IllegalArgument')
  })

  it('upserts replace rows, deletes remove them, count(*) follows, Strong reads see every write', async () => {
    await client.createCollection({
      collection_name: 'mut',
      fields: [
        { name: 'id', data_type: DataType.Int64, is_primary_key: true },
        { name: 'v', data_type: DataType.FloatVector, dim: 2 },
        { name: 'val', data_type: DataType.Int64 },
      ],
      consistency_level: 'Strong',
    })
    await client.createIndex({ collection_name: 'mut', field_name: 'v', index_type: 'AUTOINDEX', metric_type: 'COSINE' })
    await client.loadCollection({ collection_name: 'mut' })
    await client.insert({ collection_name: 'mut', data: Array.from({ length: 10 }, (_, i) => ({ id: i, v: [1, i], val: i })) })
    const up = await client.upsert({ collection_name: 'mut', data: [{ id: 3, v: [0, 1], val: 300 }, { id: 20, v: [1, 1], val: 2000 }] })
    assert.equal(up.status.error_code, ErrorCode.SUCCESS, up.status.reason)
    let c = await client.count({ collection_name: 'mut' })
    assert.equal(c.data, 11)
    const got = await client.query({ collection_name: 'mut', filter: 'id == 3', output_fields: ['val'] })
    assert.deepEqual(got.data.map((r) => Number(r.val)), [300])
    const del = await client.delete({ collection_name: 'mut', filter: 'id in [1, 2, 3]' })
    assert.equal(del.status.error_code, ErrorCode.SUCCESS)
    assert.equal(del.delete_cnt, '3')
    const delExpr = await client.delete({ collection_name: 'mut', filter: 'val >= 1000' })
    assert.equal(delExpr.delete_cnt, '1')
    c = await client.count({ collection_name: 'mut' })
    assert.equal(c.data, 7)
    const rest = await client.query({ collection_name: 'mut', filter: 'id >= 0', output_fields: ['id'], limit: 100 })
    assert.deepEqual(rest.data.map((r) => Number(r.id)), [0, 4, 5, 6, 7, 8, 9])
    const page = await client.query({ collection_name: 'mut', filter: '', output_fields: ['id'], limit: 2, offset: 2 })
    assert.deepEqual(page.data.map((r) => Number(r.id)), [5, 6])
    const flushed = await client.flushSync({ collection_names: ['mut'] })
    assert.equal(flushed.status.error_code, ErrorCode.SUCCESS)
    c = await client.count({ collection_name: 'mut' })
    assert.equal(c.data, 7)
    await client.insert({ collection_name: 'mut', data: [{ id: 1, v: [1, 1], val: 1 }] })
    c = await client.count({ collection_name: 'mut' })
    assert.equal(c.data, 8, 'a re-inserted key after a delete is visible')
    const stats = await client.getCollectionStatistics({ collection_name: 'mut' })
    assert.equal(stats.data.row_count, '8')
    const persisted = await client.getPersistentSegmentInfo({ collectionName: 'mut' })
    assert.equal(persisted.status.error_code, ErrorCode.SUCCESS, persisted.status.reason)
    assert.equal(persisted.infos.reduce((a, s) => a + Number(s.num_rows), 0), 12, 'flushed segments hold the 12 rows ever written before the flush')
    assert.ok(persisted.infos.every((s) => String(s.state) === 'Flushed'))
    const loaded = await client.getQuerySegmentInfo({ collectionName: 'mut' })
    assert.equal(loaded.status.error_code, ErrorCode.SUCCESS, loaded.status.reason)
    assert.ok(loaded.infos.some((s) => String(s.state) === 'Growing'))
    const replicas = await client.getReplicas({ collectionID: persisted.infos[0]!.collectionID } as never)
    assert.equal(replicas.replicas.length, 1)
  })

  it('partitions scope inserts, queries and searches', async () => {
    await client.createCollection({
      collection_name: 'parts',
      fields: [
        { name: 'id', data_type: DataType.Int64, is_primary_key: true, autoID: true },
        { name: 'v', data_type: DataType.FloatVector, dim: 2 },
      ],
      consistency_level: 'Strong',
    })
    await client.createPartition({ collection_name: 'parts', partition_name: 'p1' })
    const a = await client.insert({ collection_name: 'parts', data: [{ v: [1, 0] }, { v: [0, 1] }] })
    const b = await client.insert({ collection_name: 'parts', partition_name: 'p1', data: [{ v: [1, 1] }] })
    const idsA = (a.IDs as unknown as { int_id: { data: string[] } }).int_id.data
    const idsB = (b.IDs as unknown as { int_id: { data: string[] } }).int_id.data
    assert.equal(idsA.length, 2)
    assert.notEqual(idsA[0], idsB[0])
    await client.createIndex({ collection_name: 'parts', field_name: 'v', index_type: 'FLAT', metric_type: 'L2' })
    await client.loadCollection({ collection_name: 'parts' })
    const inP1 = await client.query({ collection_name: 'parts', filter: 'id > 0', partition_names: ['p1'], output_fields: ['id'] })
    assert.deepEqual(inP1.data.map((r) => String(r.id)), idsB.map(String))
    const s = await client.search({ collection_name: 'parts', data: [[1, 0]], limit: 10, partition_names: ['p1'] })
    assert.equal(s.results.length, 1)
    const stats = await client.getPartitionStatistics({ collection_name: 'parts', partition_name: 'p1' })
    assert.equal(stats.data.row_count, '1')
  })
})
