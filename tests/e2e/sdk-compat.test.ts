/**
 * Where Harrier must behave as Milvus 2.6 does, seen through the official Node SDK: the less common
 * vector types (BFloat16, Int8, Binary, Sparse) against brute force, partition keys, partial loads,
 * the filter language end to end, consistency levels, VarChar keys, output fields, range search,
 * aliases, the SDK's query iterator, and statistics. Expected results are computed here from the
 * inserted rows, never taken from the server.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { DataType, ErrorCode, RRFRanker, type MilvusClient } from '@zilliz/milvus2-sdk-node'
import { startServer, type TestServer } from './server.js'

// ------------------------------------------------------------------ helpers

type Row = Record<string, any>
type Hit = Record<string, any> & { score: number }
type Metric = 'L2' | 'IP' | 'COSINE' | 'HAMMING' | 'JACCARD'

interface Status {
  error_code: string | number
  code?: number
  reason: string
}

function rng(seed: number): () => number {
  let s = seed >>> 0
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0
    return s / 2 ** 32
  }
}

function randVec(r: () => number, dim: number): number[] {
  return Array.from({ length: dim }, () => Math.round((r() * 2 - 1) * 1000) / 1000)
}

/** What the SDK stores for a float in a BFloat16 vector: the top 16 bits of the float32 (truncation). */
function bf16(x: number): number {
  const f = new Float32Array([x])
  const u = new Uint32Array(f.buffer)
  u[0] = u[0]! & 0xffff0000
  return f[0]!
}

function l2(a: readonly number[], b: readonly number[]): number {
  let s = 0
  for (let i = 0; i < a.length; i++) s += (a[i]! - b[i]!) ** 2
  return s
}

function ip(a: readonly number[], b: readonly number[]): number {
  let s = 0
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!
  return s
}

function cosine(a: readonly number[], b: readonly number[]): number {
  return ip(a, b) / Math.sqrt(ip(a, a) * ip(b, b))
}

function popcount(x: number): number {
  let c = 0
  for (let v = x & 0xff; v; v &= v - 1) c++
  return c
}

function hamming(a: readonly number[], b: readonly number[]): number {
  let s = 0
  for (let i = 0; i < a.length; i++) s += popcount(a[i]! ^ b[i]!)
  return s
}

function jaccard(a: readonly number[], b: readonly number[]): number {
  let inter = 0
  let union = 0
  for (let i = 0; i < a.length; i++) {
    inter += popcount(a[i]! & b[i]!)
    union += popcount(a[i]! | b[i]!)
  }
  return union === 0 ? 0 : 1 - inter / union
}

function sparseIp(a: Record<string, number>, b: Record<string, number>): number {
  let s = 0
  for (const [k, v] of Object.entries(a)) if (b[k] !== undefined) s += v * b[k]!
  return s
}

function dist(metric: Metric, a: readonly number[], b: readonly number[]): number {
  switch (metric) {
    case 'L2':
      return l2(a, b)
    case 'IP':
      return ip(a, b)
    case 'COSINE':
      return cosine(a, b)
    case 'HAMMING':
      return hamming(a, b)
    case 'JACCARD':
      return jaccard(a, b)
  }
}

const higherIsBetter = (m: Metric) => m === 'IP' || m === 'COSINE'

function close(a: number, b: number, tol = 1e-3): boolean {
  return Math.abs(a - b) <= tol * Math.max(1, Math.abs(b))
}

/**
 * The hits are a correct top-k: each hit's score is its brute-force score, and the scores by rank
 * are the best k brute-force scores (so ties may come in any order).
 */
function assertTopK(hits: readonly Hit[], scoreOf: ReadonlyMap<string, number>, k: number, metric: Metric, label: string, pk = 'id', tol = 1e-3): void {
  const desc = higherIsBetter(metric)
  const expected = [...scoreOf.values()].sort((a, b) => (desc ? b - a : a - b)).slice(0, k)
  assert.equal(hits.length, expected.length, `${label}: number of hits`)
  const seen = new Set<string>()
  hits.forEach((h, i) => {
    const id = String(h[pk])
    assert.ok(!seen.has(id), `${label}: duplicate hit ${id}`)
    seen.add(id)
    const own = scoreOf.get(id)
    assert.ok(own !== undefined, `${label}: hit ${id} is not a candidate`)
    assert.ok(close(h.score, own, tol), `${label}: score of ${id} is ${h.score}, brute force says ${own}`)
    assert.ok(close(h.score, expected[i]!, tol), `${label}: rank ${i} has score ${h.score}, brute force says ${expected[i]}`)
  })
}

function scores(rows: readonly Row[], field: string, q: readonly number[], metric: Metric, pk = 'id'): Map<string, number> {
  return new Map(rows.map((r) => [String(r[pk]), dist(metric, r[field] as number[], q)]))
}

/** The SDK returns some failures and throws others; both carry a Status. */
async function statusOf(p: Promise<unknown>): Promise<Status> {
  try {
    const r = (await p) as Status & { status?: Status }
    return r.status ?? r
  } catch (e) {
    if (e && typeof e === 'object' && 'error_code' in e) return e as Status
    throw e
  }
}

function ok(s: Status, what: string): void {
  assert.equal(s.error_code, ErrorCode.SUCCESS, `${what}: ${s.reason}`)
}

function failed(s: Status, what: string, reason?: RegExp): void {
  assert.notEqual(s.error_code, ErrorCode.SUCCESS, `${what} should fail`)
  assert.ok(s.code === undefined || s.code !== 0, `${what}: a failure carries a non-zero code`)
  if (reason) assert.match(s.reason, reason, `${what}: reason`)
}

const sortedNums = (xs: Iterable<unknown>) => [...xs].map(Number).sort((a, b) => a - b)

// ------------------------------------------------------------------ tests

describe('Milvus 2.6 compatibility through the official SDK', () => {
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

  async function create(req: Record<string, unknown>): Promise<void> {
    ok(await statusOf(client.createCollection(req as never)), `create ${String(req.collection_name)}`)
  }

  async function insert(collection: string, data: Row[], partition?: string): Promise<void> {
    for (let i = 0; i < data.length; i += 500) {
      const r = await client.insert({ collection_name: collection, data: data.slice(i, i + 500), ...(partition ? { partition_name: partition } : {}) })
      ok(r.status, `insert into ${collection}`)
      assert.equal(r.insert_cnt, String(Math.min(500, data.length - i)))
    }
  }

  async function indexAndLoad(collection: string, field: string, indexType: string, metric: string, params: Record<string, unknown> = {}): Promise<void> {
    ok(await statusOf(client.createIndex({ collection_name: collection, field_name: field, index_type: indexType, metric_type: metric, params } as never)), `index ${collection}.${field}`)
    ok(await statusOf(client.loadCollection({ collection_name: collection })), `load ${collection}`)
  }

  async function dropIndex(collection: string, field: string): Promise<void> {
    ok(await statusOf(client.releaseCollection({ collection_name: collection })), `release ${collection}`)
    ok(await statusOf(client.dropIndex({ collection_name: collection, field_name: field })), `drop index ${collection}.${field}`)
  }

  async function queryIds(collection: string, filter: string, extra: Record<string, unknown> = {}): Promise<number[]> {
    const q = await client.query({ collection_name: collection, filter, output_fields: ['id'], ...extra } as never)
    ok(q.status, `query ${collection} [${filter}]`)
    return sortedNums(q.data.map((r) => r.id))
  }

  async function countOf(collection: string, filter = '', extra: Record<string, unknown> = {}): Promise<number> {
    const q = await client.query({ collection_name: collection, filter, output_fields: ['count(*)'], ...extra } as never)
    ok(q.status, `count(*) ${collection} [${filter}]`)
    return Number(q.data[0]!['count(*)'])
  }

  // ---------------------------------------------------------------- 1
  it('BFloat16Vector and Int8Vector: FLAT/HNSW with L2/IP/COSINE match brute force; query returns the vectors', async () => {
    const DIM = 8
    const N = 200
    const r = rng(11)

    // BFloat16: the SDK truncates float32 to bf16 on the way in, for rows and for query vectors alike.
    await create({
      collection_name: 'bf16_vecs',
      consistency_level: 'Strong',
      fields: [
        { name: 'id', data_type: DataType.Int64, is_primary_key: true },
        { name: 'v', data_type: DataType.BFloat16Vector, dim: DIM },
      ],
    })
    const bfRows = Array.from({ length: N }, (_, i) => ({ id: i, v: randVec(r, DIM) }))
    await insert('bf16_vecs', bfRows)
    const bfStored = bfRows.map((row) => ({ id: row.id, v: row.v.map(bf16) }))
    const bfQueries = [randVec(r, DIM), randVec(r, DIM)]
    for (const [indexType, metric] of [['FLAT', 'L2'], ['HNSW', 'IP'], ['HNSW', 'COSINE']] as const) {
      await indexAndLoad('bf16_vecs', 'v', indexType, metric, indexType === 'HNSW' ? { M: 16, efConstruction: 200 } : {})
      const res = await client.search({ collection_name: 'bf16_vecs', data: bfQueries, limit: 10, output_fields: ['id'], params: indexType === 'HNSW' ? { ef: 256 } : {} })
      ok(res.status, `bf16 ${indexType}/${metric} search`)
      const perQuery = res.results as unknown as Hit[][]
      assert.equal(perQuery.length, 2)
      bfQueries.forEach((q, qi) => assertTopK(perQuery[qi]!, scores(bfStored, 'v', q.map(bf16), metric), 10, metric, `bf16 ${indexType}/${metric} q${qi}`))
      if (metric === 'L2') {
        const got = await client.query({ collection_name: 'bf16_vecs', filter: 'id in [0, 1, 2]', output_fields: ['v'] })
        ok(got.status, 'bf16 query')
        assert.equal(got.data.length, 3)
        for (const row of got.data) assert.deepEqual(row.v, bfStored[Number(row.id)]!.v, `bf16 vector of row ${row.id} reads back as stored`)
      }
      await dropIndex('bf16_vecs', 'v')
    }

    // Int8: inserted as signed integers; the SDK decodes int8_vector bytes with Array.from(Buffer),
    // so against Milvus it reads each element back as an unsigned byte (x & 0xff).
    await create({
      collection_name: 'int8_vecs',
      consistency_level: 'Strong',
      fields: [
        { name: 'id', data_type: DataType.Int64, is_primary_key: true },
        { name: 'v', data_type: DataType.Int8Vector, dim: DIM },
      ],
    })
    const randInt8 = () => Array.from({ length: DIM }, () => Math.floor(r() * 256) - 128)
    const i8Rows = Array.from({ length: N }, (_, i) => ({ id: i, v: randInt8() }))
    await insert('int8_vecs', i8Rows)
    const i8Queries = [randInt8(), randInt8()]
    for (const metric of ['L2', 'IP', 'COSINE'] as const) {
      await indexAndLoad('int8_vecs', 'v', 'HNSW', metric, { M: 16, efConstruction: 200 })
      const res = await client.search({ collection_name: 'int8_vecs', data: i8Queries, limit: 10, output_fields: ['id', 'v'], params: { ef: 256 } })
      ok(res.status, `int8 HNSW/${metric} search`)
      const perQuery = res.results as unknown as Hit[][]
      assert.equal(perQuery.length, 2)
      i8Queries.forEach((q, qi) => assertTopK(perQuery[qi]!, scores(i8Rows, 'v', q, metric), 10, metric, `int8 HNSW/${metric} q${qi}`))
      const top = perQuery[0]![0]!
      assert.deepEqual(top.v, i8Rows[Number(top.id)]!.v.map((x) => x & 0xff), 'int8 vector in a search hit reads back as unsigned bytes')
      await dropIndex('int8_vecs', 'v')
    }
    await indexAndLoad('int8_vecs', 'v', 'HNSW', 'L2', { M: 16, efConstruction: 200 })
    const got = await client.query({ collection_name: 'int8_vecs', filter: 'id in [3, 4]', output_fields: ['v'] })
    ok(got.status, 'int8 query')
    assert.equal(got.data.length, 2)
    for (const row of got.data) assert.deepEqual(row.v, i8Rows[Number(row.id)]!.v.map((x) => x & 0xff), `int8 vector of row ${row.id}`)
  })

  // ---------------------------------------------------------------- 2
  it('BinaryVector with HAMMING and JACCARD, SparseFloatVector with IP, match brute force', async () => {
    const r = rng(22)
    const BYTES = 4
    await create({
      collection_name: 'bin_vecs',
      consistency_level: 'Strong',
      fields: [
        { name: 'id', data_type: DataType.Int64, is_primary_key: true },
        { name: 'bv', data_type: DataType.BinaryVector, dim: BYTES * 8 },
      ],
    })
    const randBytes = () => {
      const b = Array.from({ length: BYTES }, () => Math.floor(r() * 256))
      b[0] = b[0]! | 1 // never all-zero, so JACCARD is always defined
      return b
    }
    const binRows = Array.from({ length: 300 }, (_, i) => ({ id: i, bv: randBytes() }))
    await insert('bin_vecs', binRows)
    const binQueries = [randBytes(), randBytes()]
    for (const metric of ['HAMMING', 'JACCARD'] as const) {
      await indexAndLoad('bin_vecs', 'bv', 'BIN_FLAT', metric)
      const res = await client.search({ collection_name: 'bin_vecs', data: binQueries, limit: 12, output_fields: ['id'] })
      ok(res.status, `binary ${metric} search`)
      const perQuery = res.results as unknown as Hit[][]
      binQueries.forEach((q, qi) => assertTopK(perQuery[qi]!, scores(binRows, 'bv', q, metric), 12, metric, `binary ${metric} q${qi}`, 'id', 1e-4))
      if (metric === 'HAMMING') {
        // Range search on a binary metric: range_filter <= d < radius.
        const rs = await client.search({ collection_name: 'bin_vecs', data: [binQueries[0]!], limit: 300, output_fields: ['id'], params: { radius: 14, range_filter: 10 } })
        ok(rs.status, 'HAMMING range search')
        const inRange = new Map([...scores(binRows, 'bv', binQueries[0]!, 'HAMMING')].filter(([, d]) => d >= 10 && d < 14))
        assertTopK(rs.results as unknown as Hit[], inRange, 300, 'HAMMING', 'HAMMING range search', 'id', 1e-4)
        const got = await client.query({ collection_name: 'bin_vecs', filter: 'id in [0, 1]', output_fields: ['bv'] })
        ok(got.status, 'binary query')
        for (const row of got.data) assert.deepEqual(row.bv, binRows[Number(row.id)]!.bv)
      }
      await dropIndex('bin_vecs', 'bv')
    }

    await create({
      collection_name: 'sparse_vecs',
      consistency_level: 'Strong',
      fields: [
        { name: 'id', data_type: DataType.Int64, is_primary_key: true },
        { name: 'sv', data_type: DataType.SparseFloatVector },
      ],
    })
    const randSparse = (nnz: number) => {
      const out: Record<string, number> = {}
      while (Object.keys(out).length < nnz) out[String(Math.floor(r() * 40))] = Math.fround(0.1 + r() * 0.9)
      return out
    }
    const spRows = Array.from({ length: 200 }, (_, i) => ({ id: i, sv: randSparse(6) }))
    await insert('sparse_vecs', spRows)
    await indexAndLoad('sparse_vecs', 'sv', 'SPARSE_INVERTED_INDEX', 'IP')
    for (let qi = 0; qi < 3; qi++) {
      const q = randSparse(8)
      const candidates = new Map<string, number>()
      for (const row of spRows) {
        const s = sparseIp(row.sv, q)
        if (s > 0) candidates.set(String(row.id), s)
      }
      assert.ok(candidates.size > 10, 'enough rows overlap the query')
      const res = await client.search({ collection_name: 'sparse_vecs', data: [q], limit: 10, output_fields: ['id'], params: { drop_ratio_search: 0 } })
      ok(res.status, 'sparse search')
      assertTopK(res.results as unknown as Hit[], candidates, 10, 'IP', `sparse IP q${qi}`)
    }
    const got = await client.query({ collection_name: 'sparse_vecs', filter: 'id in [5, 6]', output_fields: ['sv'] })
    ok(got.status, 'sparse query')
    for (const row of got.data) assert.deepEqual(row.sv, spRows[Number(row.id)]!.sv)
  })

  // ---------------------------------------------------------------- 3
  const PKEY_FIELDS = [
    { name: 'id', data_type: DataType.Int64, is_primary_key: true },
    { name: 'v', data_type: DataType.FloatVector, dim: 4 },
    { name: 'tenant', data_type: DataType.VarChar, max_length: 16, is_partition_key: true },
    { name: 'n', data_type: DataType.Int64 },
  ]

  it('partition key: automatic partitions, routing, filtered search and query, createPartition refused', async () => {
    await create({ collection_name: 'pkey', consistency_level: 'Strong', num_partitions: 8, fields: PKEY_FIELDS })
    const d = await client.describeCollection({ collection_name: 'pkey' })
    ok(d.status, 'describe pkey')
    assert.equal(d.schema.fields.find((f) => f.name === 'tenant')!.is_partition_key, true)
    assert.equal(String(d.num_partitions), '8')
    const parts = await client.showPartitions({ collection_name: 'pkey' })
    ok(parts.status, 'showPartitions')
    assert.deepEqual([...parts.partition_names].sort(), Array.from({ length: 8 }, (_, i) => `_default_${i}`).sort())

    const r = rng(33)
    const rows = Array.from({ length: 400 }, (_, i) => ({ id: i, v: randVec(r, 4), tenant: `t${i % 10}`, n: i }))
    await insert('pkey', rows)
    await indexAndLoad('pkey', 'v', 'FLAT', 'L2')

    assert.deepEqual(await queryIds('pkey', 'tenant == "t3"'), rows.filter((x) => x.tenant === 't3').map((x) => x.id))
    assert.deepEqual(await queryIds('pkey', 'tenant in ["t1", "t2"] and n >= 200'), rows.filter((x) => ['t1', 't2'].includes(x.tenant) && x.n >= 200).map((x) => x.id))
    const q = randVec(r, 4)
    const res = await client.search({ collection_name: 'pkey', data: [q], limit: 5, filter: 'tenant == "t5"', output_fields: ['id', 'tenant'] })
    ok(res.status, 'pkey search')
    const hits = res.results as unknown as Hit[]
    assertTopK(hits, scores(rows.filter((x) => x.tenant === 't5'), 'v', q, 'L2'), 5, 'L2', 'partition-key filtered search')
    for (const h of hits) assert.equal(h.tenant, 't5')
    assert.equal(await countOf('pkey'), 400)

    let sum = 0
    let nonEmpty = 0
    for (const p of parts.partition_names) {
      const st = await client.getPartitionStatistics({ collection_name: 'pkey', partition_name: p })
      ok(st.status, `stats of ${p}`)
      sum += Number(st.data.row_count)
      if (Number(st.data.row_count) > 0) nonEmpty++
    }
    assert.equal(sum, 400, 'every row lands in exactly one automatic partition')
    assert.ok(nonEmpty > 1, 'rows are spread over several partitions by the key hash')

    // Upserting a new key value moves the row: the old tenant loses it, the new one has it once.
    ok((await client.upsert({ collection_name: 'pkey', data: [{ id: 3, v: [9, 9, 9, 9], tenant: 't9', n: 3 }] })).status, 'upsert to another tenant')
    assert.equal(await countOf('pkey'), 400)
    assert.deepEqual(await queryIds('pkey', 'tenant == "t3" and id < 20'), [13])
    assert.deepEqual(await queryIds('pkey', 'tenant == "t9" and id < 20'), [3, 9, 19])
    ok((await client.delete({ collection_name: 'pkey', filter: 'tenant == "t9" and id < 10' })).status, 'delete by key value')
    assert.deepEqual(await queryIds('pkey', 'id < 20 and tenant in ["t3", "t9"]'), [13, 19])

    failed(await statusOf(client.createPartition({ collection_name: 'pkey', partition_name: 'manual' })), 'createPartition in partition-key mode', /partition key/)
    failed(await statusOf(client.dropPartition({ collection_name: 'pkey', partition_name: '_default_0' })), 'dropPartition in partition-key mode', /partition key/)
    assert.equal((await client.hasPartition({ collection_name: 'pkey', partition_name: 'manual' })).value, false)
  })

  it('partition key: requests naming partitions manually are refused, as in Milvus', async () => {
    await create({ collection_name: 'pkey_manual', consistency_level: 'Strong', num_partitions: 4, fields: PKEY_FIELDS })
    await insert('pkey_manual', [{ id: 1, v: [1, 0, 0, 0], tenant: 'a', n: 1 }])
    await indexAndLoad('pkey_manual', 'v', 'FLAT', 'L2')
    // Milvus's proxy answers each of these "not support manually specifying the partition names if
    // partition key mode is used" or "disable load/release partitions if partition key mode is used".
    const attempts: [string, () => Promise<unknown>][] = [
      ['insert with partition_name', () => client.insert({ collection_name: 'pkey_manual', partition_name: '_default_0', data: [{ id: 2, v: [0, 1, 0, 0], tenant: 'b', n: 2 }] })],
      ['upsert with partition_name', () => client.upsert({ collection_name: 'pkey_manual', partition_name: '_default_0', data: [{ id: 3, v: [0, 1, 0, 0], tenant: 'b', n: 2 }] })],
      ['query with partition_names', () => client.query({ collection_name: 'pkey_manual', filter: 'id > 0', partition_names: ['_default_0'] })],
      ['search with partition_names', () => client.search({ collection_name: 'pkey_manual', data: [[1, 0, 0, 0]], limit: 1, partition_names: ['_default_0'] })],
      ['delete with partition_name', () => client.delete({ collection_name: 'pkey_manual', filter: 'id == 1', partition_name: '_default_0' })],
      ['loadPartitions', () => client.loadPartitions({ collection_name: 'pkey_manual', partition_names: ['_default_0'] })],
      ['releasePartitions', () => client.releasePartitions({ collection_name: 'pkey_manual', partition_names: ['_default_0'] })],
    ]
    const accepted: string[] = []
    for (const [what, p] of attempts) {
      const st = await statusOf(p())
      if (st.error_code === ErrorCode.SUCCESS) accepted.push(what)
      else assert.match(st.reason, /partition key mode/, what)
    }
    assert.deepEqual(accepted, [], 'partition-key collections refuse manual partition names')
    assert.equal(await countOf('pkey_manual'), 1)
  })

  // ---------------------------------------------------------------- 4
  it('loadPartitions / releasePartitions / getLoadState by partition; reads are scoped to loaded partitions', async () => {
    await create({
      collection_name: 'partial',
      consistency_level: 'Strong',
      fields: [
        { name: 'id', data_type: DataType.Int64, is_primary_key: true },
        { name: 'v', data_type: DataType.FloatVector, dim: 2 },
      ],
    })
    for (const p of ['pA', 'pB']) ok(await statusOf(client.createPartition({ collection_name: 'partial', partition_name: p })), `create ${p}`)
    const mk = (from: number) => Array.from({ length: 10 }, (_, i) => ({ id: from + i, v: [from + i, 1] }))
    await insert('partial', mk(0))
    await insert('partial', mk(10), 'pA')
    await insert('partial', mk(20), 'pB')
    const ids = (from: number) => Array.from({ length: 10 }, (_, i) => from + i)
    ok(await statusOf(client.createIndex({ collection_name: 'partial', field_name: 'v', index_type: 'FLAT', metric_type: 'L2' })), 'index')
    const state = async (partition_names?: string[]) => {
      const s = await client.getLoadState({ collection_name: 'partial', ...(partition_names ? { partition_names } : {}) })
      ok(s.status, 'getLoadState')
      return s.state as string
    }
    assert.equal(await state(), 'LoadStateNotLoad')

    ok(await statusOf(client.loadPartitions({ collection_name: 'partial', partition_names: ['pA'] })), 'load pA')
    assert.equal(await state(['pA']), 'LoadStateLoaded')
    assert.equal(await state(['pB']), 'LoadStateNotLoad')
    assert.equal(await state(['pA', 'pB']), 'LoadStateNotLoad')
    assert.equal(await state(), 'LoadStateLoaded', 'a collection with a loaded partition is loaded')

    assert.deepEqual(await queryIds('partial', 'id >= 0'), ids(10), 'an unscoped query reads only loaded partitions')
    assert.deepEqual(await queryIds('partial', 'id >= 0', { partition_names: ['pA'] }), ids(10))
    const s1 = await client.search({ collection_name: 'partial', data: [[25, 1]], limit: 30, output_fields: ['id'] })
    ok(s1.status, 'unscoped search')
    assert.deepEqual(sortedNums((s1.results as unknown as Hit[]).map((h) => h.id)), ids(10))
    failed((await client.search({ collection_name: 'partial', data: [[25, 1]], limit: 3, partition_names: ['pB'] })).status, 'search of a partition that is not loaded', /not loaded/i)
    failed((await client.query({ collection_name: 'partial', filter: 'id >= 0', partition_names: ['pB'] })).status, 'query of a partition that is not loaded', /not loaded/i)

    ok(await statusOf(client.loadPartitions({ collection_name: 'partial', partition_names: ['pB'] })), 'load pB')
    assert.equal(await state(['pA', 'pB']), 'LoadStateLoaded')
    assert.deepEqual(await queryIds('partial', 'id >= 0', { partition_names: ['pB'] }), ids(20))
    assert.deepEqual(await queryIds('partial', 'id >= 0', { partition_names: ['pA', 'pB'] }), [...ids(10), ...ids(20)])
    assert.equal(await countOf('partial'), 20)
    assert.equal(await countOf('partial', 'id >= 0', { partition_names: ['pB'] }), 10)
    const s2 = await client.search({ collection_name: 'partial', data: [[25, 1]], limit: 3, partition_names: ['pB'], output_fields: ['id'] })
    ok(s2.status, 'search pB')
    const s2ids = (s2.results as unknown as Hit[]).map((h) => Number(h.id))
    assert.equal(s2ids[0], 25)
    assert.deepEqual(sortedNums(s2ids), [24, 25, 26])

    ok(await statusOf(client.releasePartitions({ collection_name: 'partial', partition_names: ['pA'] })), 'release pA')
    assert.equal(await state(['pA']), 'LoadStateNotLoad')
    assert.equal(await state(['pB']), 'LoadStateLoaded')
    assert.deepEqual(await queryIds('partial', 'id >= 0'), ids(20))
    failed((await client.search({ collection_name: 'partial', data: [[15, 1]], limit: 3, partition_names: ['pA'] })).status, 'search of a released partition', /not loaded/i)

    ok(await statusOf(client.releasePartitions({ collection_name: 'partial', partition_names: ['pB'] })), 'release pB')
    assert.equal(await state(), 'LoadStateNotLoad', 'releasing the last loaded partition releases the collection')
    failed((await client.query({ collection_name: 'partial', filter: 'id >= 0' })).status, 'query after every partition is released', /not loaded/i)

    // A fully loaded collection can shed one partition and take it back.
    ok(await statusOf(client.loadCollection({ collection_name: 'partial' })), 'load all')
    assert.equal(await countOf('partial'), 30)
    ok(await statusOf(client.releasePartitions({ collection_name: 'partial', partition_names: ['_default'] })), 'release _default')
    assert.equal(await state(), 'LoadStateLoaded')
    assert.equal(await state(['_default']), 'LoadStateNotLoad')
    assert.deepEqual(await queryIds('partial', 'id >= 0'), [...ids(10), ...ids(20)])
    ok(await statusOf(client.loadPartitions({ collection_name: 'partial', partition_names: ['_default'] })), 'reload _default')
    assert.equal(await countOf('partial'), 30)
  })

  // ---------------------------------------------------------------- 5
  it('filters through query, search and delete match a computation over the inserted rows', async () => {
    const filterSchema = {
      collection_name: 'filters',
      consistency_level: 'Strong',
      enable_dynamic_field: true,
      fields: [
        { name: 'id', data_type: DataType.Int64, is_primary_key: true },
        { name: 'v', data_type: DataType.FloatVector, dim: 2 },
        { name: 'n', data_type: DataType.Int32 },
        { name: 'f', data_type: DataType.Double },
        { name: 's', data_type: DataType.VarChar, max_length: 32 },
        { name: 'meta', data_type: DataType.JSON },
        { name: 'arr', data_type: DataType.Array, element_type: DataType.Int64, max_capacity: 8 },
        { name: 'tags', data_type: DataType.Array, element_type: DataType.VarChar, max_capacity: 4, max_length: 8 },
        { name: 'opt', data_type: DataType.Int32, nullable: true },
        { name: 'b', data_type: DataType.Bool },
      ],
    }
    await create(filterSchema)
    const words = ['red', 'blue', 'redwood', 'green']
    const N = 120
    const rows: Row[] = Array.from({ length: N }, (_, i) => ({
      id: i,
      v: [Math.round(Math.cos(i * 0.7) * (1 + i / 50) * 1000) / 1000, Math.round(Math.sin(i * 0.7) * 1000) / 1000],
      n: (i % 17) - 8,
      f: i * 0.5,
      s: `${words[i % 4]}_${i}`,
      meta: { a: { b: i % 5 }, list: [i % 4, (i + 1) % 4], ...(i % 3 === 0 ? { k: 'x' } : {}) },
      arr: Array.from({ length: i % 5 }, (_, j) => i + j),
      tags: ['x', 'y', 'z'].filter((_, b) => (i >> b) & 1),
      opt: i % 4 === 0 ? null : i,
      b: i % 3 !== 1,
      ...(i % 2 === 0 ? { color: ['red', 'blue', 'green'][i % 3] } : {}),
      ...(i % 3 === 0 ? { score: i / 2 } : {}),
    }))
    await insert('filters', rows)
    await indexAndLoad('filters', 'v', 'FLAT', 'L2')

    const cases: [string, (r: Row) => boolean][] = [
      ['n > 3', (r) => r.n > 3],
      ['n >= -2 and n < 2', (r) => r.n >= -2 && r.n < 2],
      ['-3 < n <= 4', (r) => -3 < r.n && r.n <= 4],
      ['10 > f >= 2.5', (r) => 10 > r.f && r.f >= 2.5],
      ['id in [1, 5, 7, 200]', (r) => [1, 5, 7, 200].includes(r.id)],
      ['id not in [1, 2, 3]', (r) => ![1, 2, 3].includes(r.id)],
      ['s like "red%"', (r) => r.s.startsWith('red')],
      ['s like "%5"', (r) => r.s.endsWith('5')],
      ['s like "%ee%"', (r) => r.s.includes('ee')],
      ["s == 'blue_1'", (r) => r.s === 'blue_1'],
      ['id % 3 == 0', (r) => r.id % 3 === 0],
      ['n + 2 == 5', (r) => r.n + 2 === 5],
      ['n > 0 && f < 20', (r) => r.n > 0 && r.f < 20],
      ['n < -5 || n > 6', (r) => r.n < -5 || r.n > 6],
      ['!(n > 0)', (r) => !(r.n > 0)],
      ['n > 0 AND NOT (id % 2 == 0) OR id == 4', (r) => (r.n > 0 && !(r.id % 2 === 0)) || r.id === 4],
      ['not (id in [1, 2]) and id < 6', (r) => ![1, 2].includes(r.id) && r.id < 6],
      ['meta["a"]["b"] == 2', (r) => r.meta.a.b === 2],
      ['meta["a"]["b"] in [1, 3]', (r) => [1, 3].includes(r.meta.a.b)],
      ['color == "red"', (r) => r.color === 'red'],
      ['$meta["color"] == "blue"', (r) => r.color === 'blue'],
      ['score >= 10', (r) => typeof r.score === 'number' && r.score >= 10],
      ['exists meta["k"]', (r) => 'k' in r.meta],
      ['json_contains(meta["list"], 2)', (r) => r.meta.list.includes(2)],
      ['JSON_CONTAINS(meta["list"], 1)', (r) => r.meta.list.includes(1)],
      ['json_contains_all(meta["list"], [0, 1])', (r) => r.meta.list.includes(0) && r.meta.list.includes(1)],
      ['json_contains_any(meta["list"], [3])', (r) => r.meta.list.includes(3)],
      ['array_contains(arr, 10)', (r) => r.arr.includes(10)],
      ['array_contains_all(arr, [20, 21])', (r) => r.arr.includes(20) && r.arr.includes(21)],
      ['array_contains_any(tags, ["x", "z"])', (r) => r.tags.includes('x') || r.tags.includes('z')],
      ['array_length(arr) == 2', (r) => r.arr.length === 2],
      ['ARRAY_LENGTH(arr) >= 3', (r) => r.arr.length >= 3],
      ['arr[0] == 20', (r) => r.arr[0] === 20],
      ['opt is null', (r) => r.opt === null],
      ['opt IS NOT NULL and opt > 50', (r) => r.opt !== null && r.opt > 50],
      ['opt > 100 or opt is null', (r) => r.opt === null || r.opt > 100],
      ['opt in [1, 2, 3, 5, 6]', (r) => r.opt !== null && [1, 2, 3, 5, 6].includes(r.opt)],
      ['b == true and id < 20', (r) => r.b && r.id < 20],
      ['b != true', (r) => !r.b],
      ['n < id and id < 12', (r) => r.n < r.id && r.id < 12],
      ['f >= n', (r) => r.f >= r.n],
      ['s > "red"', (r) => r.s > 'red'],
      ['s <= "blue_3"', (r) => r.s <= 'blue_3'],
      ['id IN [1, 2]', (r) => [1, 2].includes(r.id)],
      ['id NOT IN [0, 1]', (r) => ![0, 1].includes(r.id)],
      ['s LIKE "blue%"', (r) => r.s.startsWith('blue')],
      ['s like "re_w%"', (r) => /^re.w/.test(r.s)],
      ['s like "%_1_"', (r) => /.1.$/.test(r.s)],
      ['id == 0x10', (r) => r.id === 16],
      ['n in [-8, 8]', (r) => [-8, 8].includes(r.n)],
      ['n * 2 > 10', (r) => r.n * 2 > 10],
      ['f / 2 == 5', (r) => r.f / 2 === 5],
      ['id % 10 != 3', (r) => r.id % 10 !== 3],
      ['n != 0 and not (s like "%1")', (r) => r.n !== 0 && !r.s.endsWith('1')],
      ['meta["list"][0] == 1', (r) => r.meta.list[0] === 1],
      ['1 < meta["a"]["b"] < 4', (r) => 1 < r.meta.a.b && r.meta.a.b < 4],
      ['meta["a"]["b"] >= 3 && meta["k"] == "x"', (r) => r.meta.a.b >= 3 && r.meta.k === 'x'],
      ['meta["missing"] == 1', () => false],
      ['exists meta["a"]["b"]', () => true],
      ['tags[0] == "y"', (r) => r.tags[0] === 'y'],
      ['array_length(tags) == 0', (r) => r.tags.length === 0],
      ['array_contains(tags, "z") and not array_contains(tags, "x")', (r) => r.tags.includes('z') && !r.tags.includes('x')],
      ['color in ["red", "green"] and score > 5', (r) => ['red', 'green'].includes(r.color) && typeof r.score === 'number' && r.score > 5],
      ['color like "gr%"', (r) => typeof r.color === 'string' && r.color.startsWith('gr')],
    ]
    const q = [0.5, 0.25]
    const failures: string[] = []
    for (const [expr, pred] of cases) {
      const expected = rows.filter(pred)
      const qr = await client.query({ collection_name: 'filters', filter: expr, output_fields: ['id'] })
      if (qr.status.error_code !== ErrorCode.SUCCESS) {
        failures.push(`query [${expr}] failed: ${qr.status.reason}`)
        continue
      }
      const got = sortedNums(qr.data.map((x) => x.id))
      const want = expected.map((x) => x.id as number)
      if (JSON.stringify(got) !== JSON.stringify(want)) failures.push(`query [${expr}]: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`)
      const sr = await client.search({ collection_name: 'filters', data: [q], limit: 5, filter: expr, output_fields: ['id'] })
      if (sr.status.error_code !== ErrorCode.SUCCESS) {
        failures.push(`search [${expr}] failed: ${sr.status.reason}`)
        continue
      }
      try {
        assertTopK(sr.results as unknown as Hit[], scores(expected, 'v', q, 'L2'), 5, 'L2', `search [${expr}]`)
      } catch (e) {
        failures.push((e as Error).message)
      }
    }
    assert.deepEqual(failures, [], 'every filter selects exactly the expected rows')

    // Every construct also drives Delete: restore all rows (upsert), delete by the filter, and exactly
    // the rows the filter does not match remain.
    await create({ ...filterSchema, collection_name: 'filters_del' })
    await insert('filters_del', rows)
    await indexAndLoad('filters_del', 'v', 'FLAT', 'L2')
    const delFailures: string[] = []
    for (const [expr, pred] of cases) {
      ok((await client.upsert({ collection_name: 'filters_del', data: rows })).status, 'restore rows')
      const del = await client.delete({ collection_name: 'filters_del', filter: expr })
      if (del.status.error_code !== ErrorCode.SUCCESS) {
        delFailures.push(`delete [${expr}] failed: ${del.status.reason}`)
        continue
      }
      const left = await queryIds('filters_del', 'id >= 0')
      const want = rows.filter((r) => !pred(r)).map((r) => r.id as number)
      if (JSON.stringify(left) !== JSON.stringify(want)) delFailures.push(`delete [${expr}]: left ${JSON.stringify(left)}, want ${JSON.stringify(want)}`)
    }
    assert.deepEqual(delFailures, [], 'every filter deletes exactly the rows it matches')

    // Template parameters: the SDK sends `exprValues` as expr_template_values (int64_val, float_val,
    // string_val, array_val).
    const tq = await client.query({ collection_name: 'filters', filter: 'n > {lo} and id in {ids} and s != {name}', exprValues: { lo: 0, ids: [1, 2, 3, 4, 5, 6, 7, 8], name: 'red_4' }, output_fields: ['id'] })
    ok(tq.status, 'templated query')
    assert.deepEqual(sortedNums(tq.data.map((x) => x.id)), rows.filter((x) => x.n > 0 && x.id >= 1 && x.id <= 8 && x.s !== 'red_4').map((x) => x.id))
    const tf = await client.query({ collection_name: 'filters', filter: 'f >= {x} and meta["a"]["b"] == {b}', exprValues: { x: 40.5, b: 2 }, output_fields: ['id'] })
    ok(tf.status, 'templated float query')
    assert.deepEqual(sortedNums(tf.data.map((x) => x.id)), rows.filter((x) => x.f >= 40.5 && x.meta.a.b === 2).map((x) => x.id))
    const ts = await client.search({ collection_name: 'filters', data: [q], limit: 4, filter: 'array_contains_any(tags, {t}) and n <= {hi}', exprValues: { t: ['y'], hi: 3 }, output_fields: ['id'] })
    ok(ts.status, 'templated search')
    assertTopK(ts.results as unknown as Hit[], scores(rows.filter((x) => x.tags.includes('y') && x.n <= 3), 'v', q, 'L2'), 4, 'L2', 'templated search')

    // random_sample keeps roughly the asked fraction; only bounds are asserted.
    const sample = await client.query({ collection_name: 'filters', filter: 'random_sample(0.5)', output_fields: ['id'] })
    ok(sample.status, 'random_sample query')
    assert.ok(sample.data.length > N * 0.15 && sample.data.length < N * 0.85, `random_sample(0.5) kept ${sample.data.length} of ${N}`)
    const positives = new Set(rows.filter((x) => x.n > 0).map((x) => x.id as number))
    const sample2 = await client.query({ collection_name: 'filters', filter: 'n > 0 AND RANDOM_SAMPLE(0.5)', output_fields: ['id'] })
    ok(sample2.status, 'filtered random_sample query')
    assert.ok(sample2.data.every((x) => positives.has(Number(x.id))), 'sampling applies after the filter')
    assert.ok(sample2.data.length < positives.size, 'sampling removes some of the filtered rows')

    // Delete through filters, then the same filters find nothing.
    const before = await countOf('filters')
    assert.equal(before, N)
    const del1 = await client.delete({ collection_name: 'filters', filter: 's like "green%" and n > 0' })
    ok(del1.status, 'delete by like')
    const gone1 = rows.filter((x) => x.s.startsWith('green') && x.n > 0).map((x) => x.id as number)
    assert.equal(del1.delete_cnt, String(gone1.length))
    const del2 = await client.delete({ collection_name: 'filters', filter: 'array_length(arr) == 4 and id in {ids}', exprValues: { ids: [4, 9, 14, 19, 24] } } as never)
    ok(del2.status, 'templated delete')
    const gone2 = rows.filter((x) => x.arr.length === 4 && [4, 9, 14, 19, 24].includes(x.id) && !gone1.includes(x.id)).map((x) => x.id as number)
    assert.equal(del2.delete_cnt, String(gone2.length))
    const del3 = await client.delete({ collection_name: 'filters', filter: 'color == "blue" and opt is null' })
    ok(del3.status, 'delete by dynamic key and null test')
    const gone3 = rows.filter((x) => x.color === 'blue' && x.opt === null && !gone1.includes(x.id) && !gone2.includes(x.id)).map((x) => x.id as number)
    assert.equal(del3.delete_cnt, String(gone3.length))
    const allGone = new Set([...gone1, ...gone2, ...gone3])
    assert.ok(allGone.size > 5)
    assert.equal(await countOf('filters'), N - allGone.size)
    assert.deepEqual(await queryIds('filters', 's like "green%" and n > 0'), [])
    assert.deepEqual(await queryIds('filters', 'id >= 0'), rows.filter((x) => !allGone.has(x.id)).map((x) => x.id))
  })

  // ---------------------------------------------------------------- 6
  it('consistency levels per request: every level succeeds, Strong sees the preceding write', async () => {
    // Created without a level: the SDK asks for Bounded, the Milvus default.
    await create({
      collection_name: 'levels',
      fields: [
        { name: 'id', data_type: DataType.Int64, is_primary_key: true },
        { name: 'v', data_type: DataType.FloatVector, dim: 2 },
      ],
    })
    assert.equal((await client.describeCollection({ collection_name: 'levels' })).consistency_level, 'Bounded')
    await indexAndLoad('levels', 'v', 'FLAT', 'L2')
    const strong = { consistency_level: 'Strong' }
    for (let i = 0; i < 5; i++) {
      ok((await client.insert({ collection_name: 'levels', data: [{ id: i, v: [i, 0] }] })).status, 'insert')
      assert.deepEqual(await queryIds('levels', `id == ${i}`, strong), [i], `Strong query sees insert ${i}`)
      assert.equal(await countOf('levels', '', strong), i + 1)
      const s = await client.search({ collection_name: 'levels', data: [[i, 0]], limit: 1, output_fields: ['id'], consistency_level: 'Strong' as never })
      ok(s.status, 'Strong search')
      assert.equal(Number((s.results as unknown as Hit[])[0]!.id), i, 'Strong search sees the newest row')
    }
    ok((await client.delete({ collection_name: 'levels', filter: 'id == 4' })).status, 'delete')
    assert.deepEqual(await queryIds('levels', 'id == 4', strong), [], 'Strong query sees the delete')
    ok((await client.upsert({ collection_name: 'levels', data: [{ id: 3, v: [30, 0] }] })).status, 'upsert')
    const up = await client.query({ collection_name: 'levels', filter: 'id == 3', output_fields: ['v'], consistency_level: 'Strong' as never })
    assert.deepEqual(up.data[0]!.v, [30, 0], 'Strong query sees the upsert')

    for (const level of ['Strong', 'Bounded', 'Session', 'Eventually']) {
      const lv = { consistency_level: level }
      const qr = await client.query({ collection_name: 'levels', filter: 'id >= 0', output_fields: ['id'], ...lv } as never)
      ok(qr.status, `${level} query`)
      assert.ok(qr.data.length <= 4)
      const c = await countOf('levels', 'id >= 0', lv)
      assert.ok(c >= 0 && c <= 5, `${level} count`)
      const s = await client.search({ collection_name: 'levels', data: [[1, 0]], limit: 2, ...lv } as never)
      ok(s.status, `${level} search`)
    }
    const sdkCount = await client.count({ collection_name: 'levels' })
    ok(sdkCount.status, 'SDK count')
  })

  // ---------------------------------------------------------------- 7
  it('VarChar primary keys: upsert, delete by pk in [...], and get by ids', async () => {
    await create({
      collection_name: 'vpk',
      consistency_level: 'Strong',
      fields: [
        { name: 'pk', data_type: DataType.VarChar, is_primary_key: true, max_length: 32 },
        { name: 'v', data_type: DataType.FloatVector, dim: 2 },
        { name: 'val', data_type: DataType.Int64 },
      ],
    })
    const keys = [...Array.from({ length: 10 }, (_, i) => `k${i}`), 'with space', 'üñí']
    const ins = await client.insert({ collection_name: 'vpk', data: keys.map((k, i) => ({ pk: k, v: [i, 1], val: i })) })
    ok(ins.status, 'insert')
    assert.deepEqual((ins.IDs as unknown as { str_id: { data: string[] } }).str_id.data, keys)
    await indexAndLoad('vpk', 'v', 'FLAT', 'L2')

    const up = await client.upsert({ collection_name: 'vpk', data: [{ pk: 'k3', v: [3, 3], val: 300 }, { pk: 'new', v: [9, 9], val: 900 }] })
    ok(up.status, 'upsert')
    assert.equal(up.upsert_cnt, '2')
    assert.deepEqual((up.IDs as unknown as { str_id: { data: string[] } }).str_id.data, ['k3', 'new'])
    assert.equal(await countOf('vpk'), keys.length + 1)
    // Milvus 2.6 (PR #46035) rejects an upsert batch that repeats a primary key.
    failed(await statusOf(client.upsert({ collection_name: 'vpk', data: [{ pk: 'k5', v: [5, 5], val: 1 }, { pk: 'k5', v: [5, 6], val: 2 }] })), 'upsert with a repeated key', /duplicate primary keys/)
    assert.equal(await countOf('vpk'), keys.length + 1)

    const got = await client.get({ collection_name: 'vpk', ids: ['k3', 'new', 'missing', 'with space'], output_fields: ['pk', 'val'] })
    ok(got.status, 'get')
    assert.deepEqual(
      got.data.map((r) => [r.pk, Number(r.val)]).sort(),
      [['k3', 300], ['new', 900], ['with space', 10]].sort(),
    )
    const getV = await client.get({ collection_name: 'vpk', ids: ['üñí'], output_fields: ['v'] })
    assert.deepEqual(getV.data.map((r) => [r.pk, r.v]), [['üñí', [11, 1]]], 'get returns the pk even when not asked for')

    const d1 = await client.delete({ collection_name: 'vpk', filter: 'pk in ["k0", "k1", "with space"]' })
    ok(d1.status, 'delete by pk in [...]')
    assert.equal(d1.delete_cnt, '3')
    const d2 = await client.delete({ collection_name: 'vpk', ids: ['k2'] })
    ok(d2.status, 'delete by ids')
    assert.equal(d2.delete_cnt, '1')
    assert.deepEqual((d2.IDs as unknown as { str_id: { data: string[] } }).str_id.data, ['k2'])
    assert.equal(await countOf('vpk'), keys.length + 1 - 4)
    const after = await client.get({ collection_name: 'vpk', ids: ['k0', 'k2', 'k4', 'with space'], output_fields: ['val'] })
    assert.deepEqual(after.data.map((r) => r.pk), ['k4'])
    const s = await client.search({ collection_name: 'vpk', data: [[3, 3]], limit: 1, output_fields: ['pk', 'val'] })
    ok(s.status, 'search')
    const hit = (s.results as unknown as Hit[])[0]!
    assert.equal(hit.pk, 'k3')
    assert.equal(Number(hit.val), 300)
    assert.equal(hit.score, 0)
    assert.deepEqual(await client.query({ collection_name: 'vpk', filter: 'pk > "k7"', output_fields: ['pk'] }).then((r) => r.data.map((x) => x.pk).sort()), ['k8', 'k9', 'new', 'üñí'].sort())

    // Keys that need escaping in a filter literal.
    const odd = ['say "hi"', "it's", 'back\\slash']
    ok((await client.insert({ collection_name: 'vpk', data: odd.map((k, i) => ({ pk: k, v: [50 + i, 0], val: 50 + i })) })).status, 'insert odd keys')
    const byFilter = async (filter: string) => (await client.query({ collection_name: 'vpk', filter, output_fields: ['val'] })).data.map((x) => Number(x.val))
    assert.deepEqual(await byFilter('pk == "say \\"hi\\""'), [50])
    assert.deepEqual(await byFilter("pk == 'it\\'s'"), [51])
    assert.deepEqual(await byFilter('pk == "it\'s"'), [51])
    assert.deepEqual(await byFilter('pk == "back\\\\slash"'), [52])
    assert.deepEqual(await byFilter('pk like "say%"'), [50])
  })

  // ---------------------------------------------------------------- 8
  it('search output_fields (* and dynamic keys), round_decimal, range search for L2 and COSINE, nq > 1', async () => {
    const fields = [
      { name: 'id', data_type: DataType.Int64, is_primary_key: true },
      { name: 'v', data_type: DataType.FloatVector, dim: 4 },
      { name: 'n', data_type: DataType.Int64 },
      { name: 'tag', data_type: DataType.VarChar, max_length: 8 },
    ]
    await create({ collection_name: 'outl2', consistency_level: 'Strong', enable_dynamic_field: true, fields })
    await create({ collection_name: 'outcos', consistency_level: 'Strong', enable_dynamic_field: true, fields })
    const r = rng(88)
    const rows: Row[] = Array.from({ length: 300 }, (_, i) => ({ id: i, v: randVec(r, 4), n: i * 10, tag: `t${i % 7}`, extra: `e${i}`, ...(i % 2 ? { num: i * 2 } : {}) }))
    await insert('outl2', rows)
    await insert('outcos', rows)
    await indexAndLoad('outl2', 'v', 'FLAT', 'L2')
    await indexAndLoad('outcos', 'v', 'FLAT', 'COSINE')
    const q = randVec(r, 4)

    const star = await client.search({ collection_name: 'outl2', data: [q], limit: 3, output_fields: ['*'] })
    ok(star.status, 'search *')
    const starHits = star.results as unknown as Hit[]
    assertTopK(starHits, scores(rows, 'v', q, 'L2'), 3, 'L2', 'search *')
    for (const h of starHits) {
      const row = rows[Number(h.id)]!
      assert.deepEqual(Object.keys(h).sort(), ['$meta', 'id', 'n', 'score', 'tag', 'v'], '* returns every field, vectors included, and the dynamic field')
      assert.equal(Number(h.n), row.n)
      assert.equal(h.tag, row.tag)
      assert.deepEqual(h.v, (row.v as number[]).map(Math.fround))
      assert.deepEqual(h.$meta, row.num === undefined ? { extra: row.extra } : { extra: row.extra, num: row.num })
    }
    const dyn = await client.search({ collection_name: 'outl2', data: [q], limit: 6, output_fields: ['extra', 'num', 'tag'] })
    ok(dyn.status, 'search with dynamic keys')
    for (const h of dyn.results as unknown as Hit[]) {
      const row = rows[Number(h.id)]!
      assert.equal(h.extra, row.extra)
      assert.equal(h.num, row.num)
      assert.equal(h.tag, row.tag)
      assert.equal(h.v, undefined, 'vectors only when asked')
      assert.equal(h.$meta, undefined, 'named dynamic keys come back by name, not as $meta')
    }

    // The server rounds (Milvus: std::round(d * 100) / 100 in float32); the SDK then cuts the decimal
    // string of that float32 after two digits, so 0.16f (0.1599999…) reaches the caller as 0.15.
    const rounded = await client.search({ collection_name: 'outl2', data: [q], limit: 10, output_fields: ['id'], params: { round_decimal: 2 } })
    ok(rounded.status, 'round_decimal search')
    const sdkCut = (x: number) => Number(String(x).replace(/(\.\d{2})\d*$/, '$1'))
    for (const h of rounded.results as unknown as Hit[]) {
      const exact = l2(rows[Number(h.id)]!.v, q)
      if (Math.abs(((exact * 100) % 1) - 0.5) < 1e-3) continue // too close to a rounding boundary to call
      assert.equal(h.score, sdkCut(Math.fround(Math.round(exact * 100) / 100)), `score of ${h.id} (exact ${exact})`)
    }

    // L2 range: range_filter <= d < radius; thresholds sit between neighbouring distances.
    const dl = rows.map((x) => l2(x.v, q)).sort((a, b) => a - b)
    const rfL2 = (dl[4]! + dl[5]!) / 2
    const radL2 = (dl[40]! + dl[41]!) / 2
    const rangeL2 = await client.search({ collection_name: 'outl2', data: [q], limit: 100, output_fields: ['id'], params: { radius: radL2, range_filter: rfL2 } })
    ok(rangeL2.status, 'L2 range search')
    const inL2 = new Map([...scores(rows, 'v', q, 'L2')].filter(([, d]) => d >= rfL2 && d < radL2))
    assert.equal(inL2.size, 36)
    assertTopK(rangeL2.results as unknown as Hit[], inL2, 100, 'L2', 'L2 range search')

    // COSINE range: radius < s <= range_filter.
    const sc = rows.map((x) => cosine(x.v, q)).sort((a, b) => b - a)
    const rfCos = (sc[4]! + sc[5]!) / 2
    const radCos = (sc[40]! + sc[41]!) / 2
    const rangeCos = await client.search({ collection_name: 'outcos', data: [q], limit: 100, output_fields: ['id'], params: { radius: radCos, range_filter: rfCos } })
    ok(rangeCos.status, 'COSINE range search')
    const inCos = new Map([...scores(rows, 'v', q, 'COSINE')].filter(([, s]) => s > radCos && s <= rfCos))
    assert.equal(inCos.size, 36)
    assertTopK(rangeCos.results as unknown as Hit[], inCos, 100, 'COSINE', 'COSINE range search')

    // IP range: radius < s <= range_filter, on a third copy indexed with IP.
    await create({ collection_name: 'outip', consistency_level: 'Strong', enable_dynamic_field: true, fields })
    await insert('outip', rows)
    await indexAndLoad('outip', 'v', 'FLAT', 'IP')
    const si = rows.map((x) => ip(x.v, q)).sort((a, b) => b - a)
    const rfIp = (si[9]! + si[10]!) / 2
    const radIp = (si[60]! + si[61]!) / 2
    const rangeIp = await client.search({ collection_name: 'outip', data: [q], limit: 30, output_fields: ['id'], params: { radius: radIp, range_filter: rfIp } })
    ok(rangeIp.status, 'IP range search')
    const inIp = new Map([...scores(rows, 'v', q, 'IP')].filter(([, x]) => x > radIp && x <= rfIp))
    assert.equal(inIp.size, 51)
    assertTopK(rangeIp.results as unknown as Hit[], inIp, 30, 'IP', 'IP range search, limit below the matches')

    const qs = [q, randVec(r, 4), rows[17]!.v as number[]]
    for (const [coll, metric] of [['outl2', 'L2'], ['outcos', 'COSINE']] as const) {
      const multi = await client.search({ collection_name: coll, data: qs, limit: 4, output_fields: ['id', 'tag'], filter: 'n >= 100' })
      ok(multi.status, `nq=3 ${metric}`)
      const per = multi.results as unknown as Hit[][]
      assert.equal(per.length, 3)
      qs.forEach((qq, i) => assertTopK(per[i]!, scores(rows.filter((x) => x.n >= 100), 'v', qq, metric), 4, metric, `nq=3 ${metric} q${i}`))
      assert.equal(Number(per[2]![0]!.id), 17)
    }
  })

  // ---------------------------------------------------------------- 9
  it('insert, upsert, delete, search and query through an alias', async () => {
    const fields = [
      { name: 'id', data_type: DataType.Int64, is_primary_key: true },
      { name: 'v', data_type: DataType.FloatVector, dim: 2 },
      { name: 'name', data_type: DataType.VarChar, max_length: 16 },
    ]
    await create({ collection_name: 'aliased_a', consistency_level: 'Strong', fields })
    await create({ collection_name: 'aliased_b', consistency_level: 'Strong', fields })
    ok(await statusOf(client.createAlias({ collection_name: 'aliased_a', alias: 'current' })), 'create alias')
    const ins = await client.insert({ collection_name: 'current', data: Array.from({ length: 10 }, (_, i) => ({ id: i, v: [i, 0], name: `a${i}` })) })
    ok(ins.status, 'insert via alias')
    await indexAndLoad('aliased_a', 'v', 'FLAT', 'L2')
    await indexAndLoad('aliased_b', 'v', 'FLAT', 'L2')
    assert.equal(await countOf('aliased_a'), 10, 'rows inserted through the alias land in the collection')
    assert.equal(await countOf('current'), 10)
    const s = await client.search({ collection_name: 'current', data: [[4.2, 0]], limit: 2, output_fields: ['name'] })
    ok(s.status, 'search via alias')
    assert.deepEqual((s.results as unknown as Hit[]).map((h) => h.name), ['a4', 'a5'])
    ok((await client.upsert({ collection_name: 'current', data: [{ id: 1, v: [1, 0], name: 'renamed' }] })).status, 'upsert via alias')
    const qr = await client.query({ collection_name: 'current', filter: 'id == 1', output_fields: ['name'] })
    ok(qr.status, 'query via alias')
    assert.deepEqual(qr.data.map((x) => x.name), ['renamed'])
    const del = await client.delete({ collection_name: 'current', filter: 'id in [7, 8]' })
    ok(del.status, 'delete via alias')
    assert.equal(del.delete_cnt, '2')
    assert.equal(await countOf('aliased_a'), 8)
    const st = await client.getCollectionStatistics({ collection_name: 'current' })
    ok(st.status, 'statistics via alias')

    ok(await statusOf(client.alterAlias({ collection_name: 'aliased_b', alias: 'current' })), 'alter alias')
    ok((await client.insert({ collection_name: 'current', data: [{ id: 100, v: [0, 0], name: 'b100' }] })).status, 'insert via moved alias')
    assert.deepEqual(await queryIds('current', 'id >= 0'), [100], 'the alias now reads the other collection')
    assert.equal(await countOf('aliased_a'), 8)
    assert.equal(await countOf('aliased_b'), 1)
  })

  // ---------------------------------------------------------------- 10
  it('queryIterator walks every row exactly once, in batches, for Int64 and VarChar keys', async () => {
    await create({
      collection_name: 'iter_int',
      consistency_level: 'Strong',
      fields: [
        { name: 'id', data_type: DataType.Int64, is_primary_key: true },
        { name: 'v', data_type: DataType.FloatVector, dim: 2 },
        { name: 'n', data_type: DataType.Int64 },
      ],
    })
    const r = rng(1010)
    const idsInt = Array.from({ length: 250 }, (_, i) => i * 7 - 600).sort(() => r() - 0.5)
    await insert('iter_int', idsInt.map((id) => ({ id, v: [id, 1], n: Math.abs(id) % 5 })))
    await indexAndLoad('iter_int', 'v', 'FLAT', 'L2')

    const walk = async (req: Record<string, unknown>, pk: string) => {
      const it = await client.queryIterator(req as never)
      const batches: Row[][] = []
      for await (const batch of it as AsyncIterable<Row[]>) {
        if (batch.length === 0) break
        batches.push(batch)
        if (batches.length > 500) throw new Error('iterator does not end')
      }
      return { batches, keys: batches.flat().map((x) => x[pk]) }
    }

    const all = await walk({ collection_name: 'iter_int', batchSize: 16, output_fields: ['id', 'n'] }, 'id')
    assert.deepEqual(sortedNums(all.keys), [...idsInt].sort((a, b) => a - b))
    assert.equal(new Set(all.keys.map(String)).size, all.keys.length, 'no row twice')
    assert.ok(all.batches.every((b) => b.length <= 16))
    assert.equal(all.batches.length, Math.ceil(250 / 16))

    const filtered = await walk({ collection_name: 'iter_int', batchSize: 9, expr: 'n == 2', output_fields: ['id', 'n'] }, 'id')
    assert.deepEqual(sortedNums(filtered.keys), idsInt.filter((id) => Math.abs(id) % 5 === 2).sort((a, b) => a - b))
    assert.ok(filtered.batches.flat().every((x) => Number(x.n) === 2))

    const limited = await walk({ collection_name: 'iter_int', batchSize: 16, limit: 50, output_fields: ['id'] }, 'id')
    assert.equal(limited.keys.length, 50)
    assert.equal(new Set(limited.keys.map(String)).size, 50)

    await create({
      collection_name: 'iter_str',
      consistency_level: 'Strong',
      fields: [
        { name: 'key', data_type: DataType.VarChar, is_primary_key: true, max_length: 16 },
        { name: 'v', data_type: DataType.FloatVector, dim: 2 },
      ],
    })
    const keys = Array.from({ length: 61 }, (_, i) => `key-${(i * 37) % 61}`)
    await insert('iter_str', keys.map((key, i) => ({ key, v: [i, 0] })))
    await indexAndLoad('iter_str', 'v', 'FLAT', 'L2')
    const strs = await walk({ collection_name: 'iter_str', batchSize: 7, output_fields: ['key'] }, 'key')
    assert.deepEqual([...strs.keys].sort(), [...keys].sort())
    assert.equal(new Set(strs.keys).size, 61)
  })

  // ---------------------------------------------------------------- 11
  it('count(*) and statistics after deletes and flush; describe shows properties and consistency level', async () => {
    await create({
      collection_name: 'stats',
      description: 'statistics test',
      consistency_level: 'Session',
      properties: { 'collection.ttl.seconds': 86400, 'mmap.enabled': true },
      fields: [
        { name: 'id', data_type: DataType.Int64, is_primary_key: true },
        { name: 'v', data_type: DataType.FloatVector, dim: 2 },
      ],
    })
    const d = await client.describeCollection({ collection_name: 'stats' })
    ok(d.status, 'describe')
    assert.equal(d.consistency_level, 'Session')
    assert.equal(d.schema.description, 'statistics test')
    const props = new Map(d.properties.map((p) => [p.key, p.value]))
    assert.equal(props.get('collection.ttl.seconds'), '86400')
    assert.equal(props.get('mmap.enabled'), 'true')

    await insert('stats', Array.from({ length: 60 }, (_, i) => ({ id: i, v: [i, 0] })))
    await indexAndLoad('stats', 'v', 'FLAT', 'L2')
    const strong = { consistency_level: 'Strong' }
    const rowCount = async () => {
      const st = await client.getCollectionStatistics({ collection_name: 'stats' })
      ok(st.status, 'getCollectionStatistics')
      return Number(st.data.row_count)
    }
    // Milvus's row_count is approximate by design (deleted rows stay counted until compaction), so
    // only bounds hold everywhere: at least the live rows once flushed, at most every row ever inserted.
    let inserted = 60
    ok((await client.delete({ collection_name: 'stats', filter: 'id < 15' })).status, 'delete')
    assert.equal(await countOf('stats', '', strong), 45)
    ok((await client.flushSync({ collection_names: ['stats'] })).status, 'flushSync')
    assert.equal(await countOf('stats', '', strong), 45)
    let rc = await rowCount()
    assert.ok(rc >= 45 && rc <= inserted, `row_count ${rc} after delete + flush`)

    ok((await client.delete({ collection_name: 'stats', filter: 'id in [20, 21, 22, 23, 24]' })).status, 'delete flushed rows')
    await insert('stats', Array.from({ length: 10 }, (_, i) => ({ id: 100 + i, v: [100 + i, 0] })))
    inserted += 10
    assert.equal(await countOf('stats', '', strong), 50)
    assert.equal(await countOf('stats', 'id >= 100', strong), 10)
    ok((await client.flushSync({ collection_names: ['stats'] })).status, 'second flushSync')
    assert.equal(await countOf('stats', '', strong), 50)
    rc = await rowCount()
    assert.ok(rc >= 50 && rc <= inserted, `row_count ${rc} after the second flush`)
    const ps = await client.getPartitionStatistics({ collection_name: 'stats', partition_name: '_default' })
    ok(ps.status, 'getPartitionStatistics')
    assert.ok(Number(ps.data.row_count) >= 50 && Number(ps.data.row_count) <= inserted)
    assert.deepEqual(await queryIds('stats', 'id < 30', strong), [15, 16, 17, 18, 19, 25, 26, 27, 28, 29])
  })
  // ---------------------------------------------------------------- 12
  it('partial load (load_fields): * returns only loaded fields, unloaded fields cannot be read', async () => {
    await create({
      collection_name: 'partial_fields',
      consistency_level: 'Strong',
      fields: [
        { name: 'id', data_type: DataType.Int64, is_primary_key: true },
        { name: 'v', data_type: DataType.FloatVector, dim: 4 },
        { name: 'name', data_type: DataType.VarChar, max_length: 16 },
        { name: 'cold', data_type: DataType.Array, element_type: DataType.VarChar, max_capacity: 4, max_length: 8 },
      ],
    })
    await insert('partial_fields', Array.from({ length: 20 }, (_, i) => ({ id: i, v: [i, 1, 0, 0], name: `n${i}`, cold: [`c${i}`] })))
    // The index the way the SDK's own PartialLoad spec creates it: extra_params with a JSON `params`.
    ok(await statusOf(client.createIndex({ collection_name: 'partial_fields', field_name: 'v', extra_params: { index_type: 'IVF_FLAT', metric_type: 'L2', params: JSON.stringify({ nlist: 16 }) } } as never)), 'IVF_FLAT index')
    ok(await statusOf(client.loadCollection({ collection_name: 'partial_fields', load_fields: ['id', 'v', 'name'] } as never)), 'partial load')
    const problems: string[] = []
    const star = await client.query({ collection_name: 'partial_fields', filter: 'id < 3', output_fields: ['*'] })
    ok(star.status, 'query *')
    assert.equal(star.data.length, 3)
    const starKeys = Object.keys(star.data[0]!).sort()
    if (JSON.stringify(starKeys) !== JSON.stringify(['id', 'name', 'v'])) problems.push(`query * returned ${starKeys.join(',')}`)
    const s = await client.search({ collection_name: 'partial_fields', data: [[2, 1, 0, 0]], limit: 2, params: { nprobe: 16 } })
    ok(s.status, 'search')
    const hit = (s.results as unknown as Hit[])[0]!
    assert.equal(Number(hit.id), 2)
    const hitKeys = Object.keys(hit).sort()
    if (JSON.stringify(hitKeys) !== JSON.stringify(['id', 'name', 'score', 'v'])) problems.push(`search (default output *) returned ${hitKeys.join(',')}`)
    const cold = await client.query({ collection_name: 'partial_fields', filter: 'id < 3', output_fields: ['cold'] })
    if (cold.status.error_code === ErrorCode.SUCCESS) problems.push(`query of the unloaded field succeeded: ${JSON.stringify(cold.data)}`)
    else assert.match(cold.status.reason, /not loaded/)
    assert.deepEqual(problems, [], 'fields left out of load_fields are not readable')
  })

  // ---------------------------------------------------------------- 13
  it('nullable and default-valued fields in inserts, upserts, filters and search output', async () => {
    await create({
      collection_name: 'nulls',
      consistency_level: 'Strong',
      fields: [
        { name: 'id', data_type: DataType.Int64, is_primary_key: true },
        { name: 'v', data_type: DataType.FloatVector, dim: 2 },
        { name: 'age', data_type: DataType.Int64, nullable: true },
        { name: 'label', data_type: DataType.VarChar, max_length: 16, default_value: 'none' },
        { name: 'w', data_type: DataType.Float, nullable: true, default_value: 1.5 },
        { name: 'j', data_type: DataType.JSON, nullable: true },
      ],
    })
    const rows: Row[] = [
      { id: 0, v: [0, 0], age: 10, label: 'a', w: 2, j: { x: 1 } },
      { id: 1, v: [1, 0], age: null, label: null, w: null, j: null },
      { id: 2, v: [2, 0] },
      { id: 3, v: [3, 0], age: 30, label: 'c', w: 0.5, j: { x: 3 } },
    ]
    await insert('nulls', rows)
    await indexAndLoad('nulls', 'v', 'FLAT', 'L2')
    const all = await client.query({ collection_name: 'nulls', filter: 'id >= 0', output_fields: ['age', 'label', 'w', 'j'] })
    ok(all.status, 'query')
    const byId = new Map(all.data.map((r) => [Number(r.id), r]))
    assert.deepEqual([0, 1, 2, 3].map((i) => byId.get(i)!.age === null ? null : Number(byId.get(i)!.age)), [10, null, null, 30])
    assert.deepEqual([0, 1, 2, 3].map((i) => byId.get(i)!.label), ['a', 'none', 'none', 'c'], 'a missing or null value takes the default')
    assert.deepEqual([0, 1, 2, 3].map((i) => byId.get(i)!.w), [2, 1.5, 1.5, 0.5])
    assert.deepEqual([0, 1, 2, 3].map((i) => byId.get(i)!.j), [{ x: 1 }, null, null, { x: 3 }])
    assert.deepEqual(await queryIds('nulls', 'age is null'), [1, 2])
    assert.deepEqual(await queryIds('nulls', 'age is not null and age > 15'), [3])
    assert.deepEqual(await queryIds('nulls', 'label == "none"'), [1, 2])
    assert.deepEqual(await queryIds('nulls', 'j is null'), [1, 2])
    assert.deepEqual(await queryIds('nulls', 'j["x"] >= 1'), [0, 3])
    assert.deepEqual(await queryIds('nulls', 'age < 100'), [0, 3], 'a comparison never matches null')
    const s = await client.search({ collection_name: 'nulls', data: [[1.1, 0]], limit: 3, output_fields: ['age', 'label', 'j'] })
    ok(s.status, 'search')
    const hits = s.results as unknown as Hit[]
    assert.deepEqual(hits.map((h) => Number(h.id)), [1, 2, 0])
    assert.equal(hits[0]!.age, null)
    assert.equal(hits[0]!.label, 'none')
    assert.equal(hits[0]!.j, null)
    ok((await client.upsert({ collection_name: 'nulls', data: [{ id: 0, v: [0, 0], age: null, label: 'z', w: null, j: { x: 9 } }] })).status, 'upsert to null')
    assert.deepEqual(await queryIds('nulls', 'age is null'), [0, 1, 2])
    const up = await client.query({ collection_name: 'nulls', filter: 'id == 0', output_fields: ['label', 'w', 'j'] })
    assert.deepEqual([up.data[0]!.label, up.data[0]!.w, up.data[0]!.j], ['z', 1.5, { x: 9 }])
  })

  // ---------------------------------------------------------------- 14
  it('Int64 keys beyond 2^53 survive insert, filters, get, search and delete', async () => {
    await create({
      collection_name: 'bigint',
      consistency_level: 'Strong',
      fields: [
        { name: 'id', data_type: DataType.Int64, is_primary_key: true },
        { name: 'v', data_type: DataType.FloatVector, dim: 2 },
        { name: 'big', data_type: DataType.Int64 },
      ],
    })
    const ids = ['9007199254740993', '9223372036854775807', '-9223372036854775807', '1']
    const ins = await client.insert({ collection_name: 'bigint', data: ids.map((id, i) => ({ id, v: [i, 0], big: id })) })
    ok(ins.status, 'insert')
    assert.deepEqual((ins.IDs as unknown as { int_id: { data: string[] } }).int_id.data, ids)
    await indexAndLoad('bigint', 'v', 'FLAT', 'L2')
    const q = await client.query({ collection_name: 'bigint', filter: 'id == 9007199254740993', output_fields: ['id', 'big'] })
    ok(q.status, 'query by a large key')
    assert.deepEqual(q.data.map((r) => [String(r.id), String(r.big)]), [['9007199254740993', '9007199254740993']])
    assert.equal(await countOf('bigint', 'big > 9007199254740992'), 2)
    assert.equal(await countOf('bigint', 'id < -9223372036854775806'), 1)
    const got = await client.get({ collection_name: 'bigint', ids: ['9223372036854775807'], output_fields: ['big'] })
    assert.deepEqual(got.data.map((r) => String(r.big)), ['9223372036854775807'])
    const s = await client.search({ collection_name: 'bigint', data: [[0, 0]], limit: 1, output_fields: ['id'] })
    assert.equal(String((s.results as unknown as Hit[])[0]!.id), '9007199254740993')
    const del = await client.delete({ collection_name: 'bigint', ids: ['9007199254740993'] as never })
    ok(del.status, 'delete')
    assert.equal(del.delete_cnt, '1')
    assert.equal(await countOf('bigint', 'id == 9007199254740992'), 0)
    assert.equal(await countOf('bigint'), 3)
  })
  // ---------------------------------------------------------------- 15
  it('hybrid search over two vector fields with the RRF ranker matches brute-force fusion', async () => {
    await create({
      collection_name: 'hybrid',
      consistency_level: 'Strong',
      fields: [
        { name: 'id', data_type: DataType.Int64, is_primary_key: true },
        { name: 'a', data_type: DataType.FloatVector, dim: 4 },
        { name: 'b', data_type: DataType.FloatVector, dim: 3 },
      ],
    })
    const r = rng(1515)
    const rows = Array.from({ length: 150 }, (_, i) => ({ id: i, a: randVec(r, 4), b: randVec(r, 3) }))
    await insert('hybrid', rows)
    ok(await statusOf(client.createIndex({ collection_name: 'hybrid', field_name: 'a', index_type: 'FLAT', metric_type: 'L2' })), 'index a')
    ok(await statusOf(client.createIndex({ collection_name: 'hybrid', field_name: 'b', index_type: 'FLAT', metric_type: 'IP' })), 'index b')
    ok(await statusOf(client.loadCollection({ collection_name: 'hybrid' })), 'load')
    const qa = randVec(r, 4)
    const qb = randVec(r, 3)
    const K = 8
    const res = await client.hybridSearch({
      collection_name: 'hybrid',
      data: [
        { data: qa, anns_field: 'a' },
        { data: qb, anns_field: 'b' },
      ],
      rerank: RRFRanker(60),
      limit: K,
      output_fields: ['id'],
    } as never)
    ok(res.status, 'hybridSearch')
    // RRF: each sub-search keeps its own top K; a row scores the sum of 1 / (60 + rank) over the lists it is in.
    const ranked = (metric: Metric, field: 'a' | 'b', q: number[]) =>
      [...rows].sort((x, y) => (higherIsBetter(metric) ? dist(metric, y[field], q) - dist(metric, x[field], q) : dist(metric, x[field], q) - dist(metric, y[field], q))).slice(0, K)
    const fused = new Map<string, number>()
    for (const list of [ranked('L2', 'a', qa), ranked('IP', 'b', qb)]) list.forEach((row, i) => fused.set(String(row.id), (fused.get(String(row.id)) ?? 0) + 1 / (60 + i + 1)))
    assertTopK(res.results as unknown as Hit[], fused, K, 'IP', 'RRF hybrid search', 'id', 1e-4)
  })
})
