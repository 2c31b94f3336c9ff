/**
 * Milvus 2.6 search features through the official SDK, each against brute force computed here from
 * the inserted rows: grouping search (group_by_field, group_size, strict_group_size, offset over
 * groups), search by primary keys (`ids`), and search iterator v2 (the SDK's searchIterator), plus
 * the parameter errors Milvus gives for each.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import * as grpc from '@grpc/grpc-js'
import { DataType, ErrorCode, type MilvusClient } from '@zilliz/milvus2-sdk-node'
import { loadMilvusProto } from '../../src/schema/milvus-proto.js'
import { startServer, type TestServer } from './server.js'

type Row = Record<string, any>
type Hit = Record<string, any> & { score: number }
type Key = string | number | boolean | null

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

const DIM = 8

function randVec(r: () => number): number[] {
  return Array.from({ length: DIM }, () => Math.round((r() * 2 - 1) * 1000) / 1000)
}

const l2 = (a: readonly number[], b: readonly number[]) => a.reduce((s, x, i) => s + (x - b[i]!) ** 2, 0)
const ip = (a: readonly number[], b: readonly number[]) => a.reduce((s, x, i) => s + x * b[i]!, 0)

function close(a: number, b: number, tol = 1e-4): boolean {
  return Math.abs(a - b) <= tol * Math.max(1, Math.abs(b))
}

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

function failed(s: Status, what: string, reason: RegExp): void {
  assert.notEqual(s.error_code, ErrorCode.SUCCESS, `${what} should fail`)
  assert.match(s.reason, reason, `${what}: reason`)
}

interface Scored {
  id: number | string
  score: number
  key: Key
}

/** Rows ranked best first by exact score (ties by primary key, which the data avoids anyway). */
function ranked(rows: readonly Row[], q: readonly number[], metric: 'L2' | 'IP', keyOf: (r: Row) => Key = () => null): Scored[] {
  const scored = rows.map((r) => ({ id: r.id as number | string, score: metric === 'L2' ? l2(r.v, q) : ip(r.v, q), key: keyOf(r) }))
  return scored.sort((a, b) => (metric === 'L2' ? a.score - b.score : b.score - a.score) || (a.id < b.id ? -1 : 1))
}

/** Milvus's grouping: the first offset+limit distinct keys in score order, each with its best `size` rows. */
function bruteGroups(order: readonly Scored[], limit: number, size: number, offset = 0): Scored[][] {
  const groups = new Map<Key, Scored[]>()
  for (const h of order) {
    let g = groups.get(h.key)
    if (!g) {
      if (groups.size >= offset + limit) continue
      g = []
      groups.set(h.key, g)
    }
    if (g.length < size) g.push(h)
  }
  return [...groups.values()].slice(offset, offset + limit)
}

const keyText = (k: unknown): string | null => (k === null || k === undefined ? null : String(k))

function assertGroups(hits: readonly Hit[], expected: readonly Scored[][], field: string, label: string): void {
  const want = expected.flat()
  assert.equal(hits.length, want.length, `${label}: number of hits`)
  hits.forEach((h, i) => {
    assert.equal(String(h.id), String(want[i]!.id), `${label}: hit ${i}`)
    // Int64 values come back from the SDK as strings.
    assert.equal(keyText(h[field]), keyText(want[i]!.key), `${label}: group of hit ${i}`)
    assert.ok(close(h.score, want[i]!.score), `${label}: score of hit ${i} is ${h.score}, brute force says ${want[i]!.score}`)
  })
}

describe('Milvus 2.6 search features through the official SDK', () => {
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
    }
  }

  async function indexAndLoad(collection: string, indexType: string, metric: string, params: Record<string, unknown> = {}): Promise<void> {
    ok(await statusOf(client.createIndex({ collection_name: collection, field_name: 'v', index_type: indexType, metric_type: metric, params } as never)), `index ${collection}`)
    ok(await statusOf(client.loadCollection({ collection_name: collection })), `load ${collection}`)
  }

  async function waitIndexed(collection: string): Promise<void> {
    const deadline = Date.now() + 30_000
    for (;;) {
      const d = await client.describeIndex({ collection_name: collection, field_name: 'v' })
      const x = d.index_descriptions[0]!
      if (x.state === 'Finished' && Number(x.pending_index_rows) === 0 && Number(x.indexed_rows) > 0) return
      if (Date.now() > deadline) assert.fail(`index not built: ${JSON.stringify(x)}`)
      await new Promise((r) => setTimeout(r, 20))
    }
  }

  async function searchOk(req: Record<string, unknown>, what: string): Promise<Hit[] | Hit[][]> {
    const res = await client.search(req as never)
    ok(res.status, what)
    return res.results as unknown as Hit[] | Hit[][]
  }

  // ---------------------------------------------------------------- grouping
  it('grouping search: groups by Int64, VarChar, Bool and nullable Int32 fields as brute force does, with offset over groups', async () => {
    const r = rng(31)
    await create({
      collection_name: 'grp',
      consistency_level: 'Strong',
      fields: [
        { name: 'id', data_type: DataType.Int64, is_primary_key: true },
        { name: 'v', data_type: DataType.FloatVector, dim: DIM },
        { name: 'doc', data_type: DataType.Int64 },
        { name: 'tag', data_type: DataType.VarChar, max_length: 16 },
        { name: 'flag', data_type: DataType.Bool },
        { name: 'maybe', data_type: DataType.Int32, nullable: true },
        { name: 'n', data_type: DataType.Int16 },
        { name: 'f', data_type: DataType.Float },
        { name: 'meta', data_type: DataType.JSON },
      ],
    })
    // Uneven groups: doc 0..39 with a few big ones, so some groups fill and others cannot.
    const rows: Row[] = Array.from({ length: 900 }, (_, i) => ({
      id: i,
      v: randVec(r),
      doc: r() < 0.3 ? Math.floor(r() * 3) : Math.floor(r() * 40),
      tag: `t${Math.floor(r() * 25)}`,
      flag: r() < 0.5,
      maybe: r() < 0.2 ? null : Math.floor(r() * 12),
      n: Math.floor(r() * 100),
      f: r(),
      meta: { k: i % 7 },
    }))
    // Half flushed (a sealed segment with a FLAT index), half growing.
    await insert('grp', rows.slice(0, 450))
    await client.flushSync({ collection_names: ['grp'] })
    await insert('grp', rows.slice(450))
    await indexAndLoad('grp', 'FLAT', 'L2')

    const queries = [randVec(r), randVec(r)]
    for (const [field, limit, size, strict] of [
      ['doc', 6, 3, true],
      ['doc', 6, 3, false],
      ['doc', 50, 2, true],
      ['tag', 10, 1, false],
      ['flag', 5, 4, true],
      ['maybe', 8, 2, true],
    ] as const) {
      const res = (await searchOk(
        { collection_name: 'grp', data: queries, limit, group_by_field: field, group_size: size, strict_group_size: strict, output_fields: ['id', field] },
        `group by ${field}`,
      )) as Hit[][]
      assert.equal(res.length, 2)
      queries.forEach((q, qi) => {
        const want = bruteGroups(ranked(rows, q, 'L2', (x) => x[field]), limit, size)
        assertGroups(res[qi]!, want, field, `group by ${field} limit ${limit} size ${size} strict ${strict} q${qi}`)
      })
    }

    // offset skips whole groups; a filter narrows the candidates first.
    const q = queries[0]!
    const page = (await searchOk(
      { collection_name: 'grp', data: [q], limit: 4, offset: 3, group_by_field: 'doc', group_size: 2, filter: 'n >= 30', output_fields: ['doc'] },
      'group by with offset and filter',
    )) as Hit[]
    const filtered = rows.filter((x) => x.n >= 30)
    assertGroups(page, bruteGroups(ranked(filtered, q, 'L2', (x) => x.doc), 4, 2, 3), 'doc', 'offset 3 over groups, filtered')

    // Bad parameters answer as Milvus does.
    const base = { collection_name: 'grp', data: [q], limit: 5 }
    failed(await statusOf(client.search({ ...base, group_by_field: 'v' } as never)), 'group by a vector', /unsupported data type VECTOR_FLOAT for group by operator/)
    failed(await statusOf(client.search({ ...base, group_by_field: 'meta' } as never)), 'group by JSON', /unsupported data type JSON for group by operator/)
    failed(await statusOf(client.search({ ...base, group_by_field: 'f' } as never)), 'group by Float', /unsupported data type FLOAT for group by operator/)
    failed(await statusOf(client.search({ ...base, group_by_field: 'nope' } as never)), 'group by an unknown field', /groupBy field not found in schema/)
    // The SDK drops a falsy group_size, so 0 travels in params (copied to the top level as Milvus reads it).
    failed(await statusOf(client.search({ ...base, group_by_field: 'doc', params: { group_size: 0 } } as never)), 'group_size 0', /input group size:0 is negative/)
    failed(await statusOf(client.search({ ...base, group_by_field: 'doc', group_size: 11 } as never)), 'group_size 11', /exceeds configured max group size:10/)
    failed(await statusOf(client.search({ ...base, group_by_field: 'doc', params: { radius: 5 } } as never)), 'group by with range search', /Not allowed to do range-search when doing search-group-by/)
    failed(
      await statusOf(client.search({ ...base, group_by_field: 'doc', params: { iterator: true, search_iter_v2: true, search_iter_batch_size: 10 } } as never)),
      'group by in an iterator',
      /Not allowed to do groupBy when doing iteration/,
    )
  })

  it('grouping search digs past a crowded group (exact even when one group holds most near rows)', async () => {
    const r = rng(47)
    await create({
      collection_name: 'crowd',
      consistency_level: 'Strong',
      fields: [
        { name: 'id', data_type: DataType.Int64, is_primary_key: true },
        { name: 'v', data_type: DataType.FloatVector, dim: DIM },
        { name: 'g', data_type: DataType.VarChar, max_length: 8 },
      ],
    })
    // 1,800 rows of group "big" around the query, 200 rows in 100 small groups further out.
    const center = randVec(r)
    const rows: Row[] = Array.from({ length: 2000 }, (_, i) => {
      const spread = i < 1800 ? 0.3 : 1.5
      return { id: i, v: center.map((c) => Math.round((c + (r() * 2 - 1) * spread) * 1000) / 1000), g: i < 1800 ? 'big' : `s${i % 100}` }
    })
    await insert('crowd', rows)
    await indexAndLoad('crowd', 'FLAT', 'IP')
    for (const [limit, size] of [
      [30, 2],
      [101, 3],
    ] as const) {
      const res = (await searchOk({ collection_name: 'crowd', data: [center], limit, group_by_field: 'g', group_size: size, output_fields: ['g'] }, 'crowded grouping')) as Hit[]
      assertGroups(res, bruteGroups(ranked(rows, center, 'IP', (x) => x.g), limit, size), 'g', `crowded limit ${limit} size ${size}`)
    }
  })

  // ---------------------------------------------------------------- search by primary keys
  it('search by primary keys uses the rows vectors as queries (nq = number of ids), with filters, partitions and grouping', async () => {
    const r = rng(53)
    await create({
      collection_name: 'bypk',
      consistency_level: 'Strong',
      fields: [
        { name: 'id', data_type: DataType.Int64, is_primary_key: true },
        { name: 'v', data_type: DataType.FloatVector, dim: DIM },
        { name: 'n', data_type: DataType.Int32 },
      ],
    })
    ok(await statusOf(client.createPartition({ collection_name: 'bypk', partition_name: 'other' })), 'create partition')
    const rows: Row[] = Array.from({ length: 400 }, (_, i) => ({ id: i * 3 + 1, v: randVec(r), n: i % 10 }))
    const elsewhere: Row[] = Array.from({ length: 20 }, (_, i) => ({ id: 5000 + i, v: randVec(r), n: 0 }))
    await insert('bypk', rows)
    await insert('bypk', elsewhere, 'other')
    await indexAndLoad('bypk', 'FLAT', 'L2')
    const all = [...rows, ...elsewhere]
    const byId = new Map(all.map((x) => [x.id as number, x]))

    const ids = [301, 4, 1000]
    const res = (await searchOk({ collection_name: 'bypk', ids, limit: 7, output_fields: ['id'] }, 'search by ids')) as Hit[][]
    assert.equal(res.length, ids.length, 'one result list per id')
    ids.forEach((id, qi) => {
      const want = ranked(all, byId.get(id)!.v, 'L2').slice(0, 7)
      assert.deepEqual(res[qi]!.map((h) => Number(h.id)), want.map((w) => Number(w.id)), `ids[${qi}] = ${id}`)
      assert.equal(Number(res[qi]![0]!.id), id, 'the nearest row is the row itself')
      assert.ok(close(res[qi]![0]!.score, 0))
    })

    // The filter picks candidates only: the query row itself may be filtered out.
    const one = (await searchOk({ collection_name: 'bypk', ids: [4], limit: 5, filter: 'n != 1', output_fields: ['id', 'n'] }, 'search by id, filtered')) as Hit[]
    const wantFiltered = ranked(all.filter((x) => x.n !== 1), byId.get(4)!.v, 'L2').slice(0, 5)
    assert.equal(byId.get(4)!.n, 1)
    assert.deepEqual(one.map((h) => Number(h.id)), wantFiltered.map((w) => Number(w.id)))

    // Grouping works with ids too.
    const grouped = (await searchOk({ collection_name: 'bypk', ids: [301], limit: 4, group_by_field: 'n', group_size: 2, output_fields: ['n'] }, 'search by id, grouped')) as Hit[]
    assertGroups(grouped, bruteGroups(ranked(all, byId.get(301)!.v, 'L2', (x) => x.n), 4, 2), 'n', 'grouped search by id')

    // Errors: missing keys (also keys outside the searched partitions), duplicates, iterators.
    failed(await statusOf(client.search({ collection_name: 'bypk', ids: [4, 99999], limit: 3 } as never)), 'missing id', /some of the provided primary key IDs do not exist: missing IDs = \[99999\]/)
    failed(
      await statusOf(client.search({ collection_name: 'bypk', ids: [5001], limit: 3, partition_names: ['_default'] } as never)),
      'id in a partition not searched',
      /missing IDs = \[5001\]/,
    )
    const inOther = (await searchOk({ collection_name: 'bypk', ids: [5001], limit: 3, partition_names: ['other'], output_fields: ['id'] }, 'id in the searched partition')) as Hit[]
    assert.equal(Number(inOther[0]!.id), 5001)
    failed(await statusOf(client.search({ collection_name: 'bypk', ids: [4, 4], limit: 3 } as never)), 'duplicate ids', /duplicate primary key IDs/)
    failed(
      await statusOf(client.search({ collection_name: 'bypk', ids: [4], limit: 3, params: { iterator: true, search_iter_v2: true, search_iter_batch_size: 3 } } as never)),
      'ids in an iterator',
      /not supported by search iterators/,
    )

    // VarChar primary keys.
    await create({
      collection_name: 'bypk_str',
      consistency_level: 'Strong',
      fields: [
        { name: 'key', data_type: DataType.VarChar, is_primary_key: true, max_length: 16 },
        { name: 'v', data_type: DataType.FloatVector, dim: DIM },
      ],
    })
    const srows: Row[] = Array.from({ length: 120 }, (_, i) => ({ key: `k${i}`, v: randVec(r) }))
    await insert('bypk_str', srows)
    await indexAndLoad('bypk_str', 'FLAT', 'IP')
    const sres = (await searchOk({ collection_name: 'bypk_str', ids: ['k7'], limit: 6, output_fields: ['key'] }, 'search by VarChar id')) as Hit[]
    const q7 = srows[7]!.v
    const wantStr = srows.map((x) => ({ key: x.key as string, s: ip(x.v, q7) })).sort((a, b) => b.s - a.s)
    assert.deepEqual(sres.map((h) => h.key), wantStr.slice(0, 6).map((w) => w.key))
    failed(await statusOf(client.search({ collection_name: 'bypk_str', ids: ['nope'], limit: 3 } as never)), 'missing VarChar id', /missing IDs = \[nope\]/)
  })

  it('on the wire: group_by_field_value lines up with the hits; ids of the wrong key type or none are refused', async () => {
    const proto = loadMilvusProto()
    const raw = new grpc.Client(server.address, grpc.credentials.createInsecure())
    const searchRaw = (req: Record<string, unknown>) =>
      new Promise<any>((resolve, reject) => {
        const payload = Buffer.from(proto.encode('milvus.proto.milvus.SearchRequest', { dsl_type: 'BoolExprV1', consistency_level: 'Strong', ...req }))
        raw.makeUnaryRequest(
          '/milvus.proto.milvus.MilvusService/Search',
          (x: Buffer) => x,
          (b: Buffer) => proto.decode('milvus.proto.milvus.SearchResults', b),
          payload,
          (err, res) => (err ? reject(err) : resolve(res)),
        )
      })
    const params = (kv: Record<string, string>) => Object.entries(kv).map(([key, value]) => ({ key, value }))
    try {
      const res = await searchRaw({
        collection_name: 'grp',
        ids: { int_id: { data: ['5', '6'] } },
        output_fields: ['doc'],
        search_params: params({ anns_field: 'v', topk: '4', group_by_field: 'doc', group_size: '2' }),
      })
      assert.equal(res.status.code, 0, res.status.reason)
      const docs = res.results.fields_data.find((f: any) => f.field_name === 'doc').scalars.long_data.data
      assert.equal(res.results.group_by_field_value.field_name, 'doc')
      assert.deepEqual(res.results.group_by_field_value.scalars.long_data.data, docs)
      assert.equal(res.results.num_queries, '2')
      assert.equal(res.results.topks.length, 2)

      const mismatch = await searchRaw({ collection_name: 'bypk', ids: { str_id: { data: ['4'] } }, search_params: params({ anns_field: 'v', topk: '3' }) })
      assert.match(mismatch.status.reason, /primary key is int64, but IDs type mismatch/)
      const none = await searchRaw({ collection_name: 'bypk', ids: { int_id: { data: [] } }, search_params: params({ anns_field: 'v', topk: '3' }) })
      assert.match(none.status.reason, /`ids` value \[\] is illegal/)
    } finally {
      raw.close()
    }
  })

  // ---------------------------------------------------------------- search iterator v2
  it('searchIterator (v2) returns every matching row exactly once, in score order across pages, ties included', async () => {
    const r = rng(61)
    await create({
      collection_name: 'iter',
      consistency_level: 'Strong',
      fields: [
        { name: 'id', data_type: DataType.Int64, is_primary_key: true },
        { name: 'v', data_type: DataType.FloatVector, dim: DIM },
        { name: 'n', data_type: DataType.Int32 },
      ],
    })
    // Every vector appears 7 times, so page boundaries (every 100 rows) fall inside runs of ties.
    const distinct = Array.from({ length: 286 }, () => randVec(r))
    const rows: Row[] = Array.from({ length: 2002 }, (_, i) => ({ id: i, v: distinct[i % 286]!, n: Math.floor(r() * 1000) }))
    await insert('iter', rows.slice(0, 1000))
    await client.flushSync({ collection_names: ['iter'] })
    await insert('iter', rows.slice(1000))
    await indexAndLoad('iter', 'HNSW', 'IP', { M: 8, efConstruction: 64 })
    const q = randVec(r)

    // IP range search keeps radius < s <= range_filter.
    const range = { radius: -0.5, range_filter: 1.5 }
    for (const [filter, params] of [
      ['', undefined],
      ['n < 700', undefined],
      ['n >= 100', range],
    ] as const) {
      const matching = rows.filter((x) => {
        if (filter === 'n < 700' && !(x.n < 700)) return false
        if (filter === 'n >= 100' && !(x.n >= 100)) return false
        const s = ip(x.v, q)
        return !params || (s > params.radius && s <= params.range_filter)
      })
      assert.ok(matching.length > 500, 'enough rows for several pages')
      const it = await client.searchIterator({ collection_name: 'iter', data: q, batchSize: 100, filter, params, output_fields: ['id'] } as never)
      const pages: Hit[][] = []
      for await (const batch of it as AsyncIterable<Hit[]>) {
        if (!batch || batch.length === 0) break
        pages.push(batch)
        if (pages.length > 100) throw new Error('iterator does not end')
      }
      const hits = pages.flat()
      const label = `iterator [${filter}]${params ? ' in range' : ''}`
      assert.ok(pages.slice(0, -1).every((p) => p.length === 100), `${label}: full pages of 100`)
      assert.equal(hits.length, matching.length, `${label}: every matching row`)
      assert.equal(new Set(hits.map((h) => String(h.id))).size, hits.length, `${label}: no row twice`)
      const want = ranked(matching, q, 'IP')
      const scoreOf = new Map(want.map((w) => [String(w.id), w.score]))
      hits.forEach((h, i) => {
        assert.ok(scoreOf.has(String(h.id)), `${label}: ${h.id} matches the filter`)
        assert.ok(close(h.score, scoreOf.get(String(h.id))!), `${label}: score of ${h.id}`)
        assert.ok(close(h.score, want[i]!.score), `${label}: rank ${i} has score ${h.score}, brute force says ${want[i]!.score}`)
        if (i > 0) assert.ok(h.score <= hits[i - 1]!.score, `${label}: scores never improve across pages`)
      })
    }

    // Grouping over the HNSW-indexed segment: approximate like Milvus, but well-formed and scored right.
    await waitIndexed('iter')
    const grouped = (await searchOk({ collection_name: 'iter', data: [q], limit: 12, group_by_field: 'n', group_size: 3, output_fields: ['n'] }, 'grouping over HNSW')) as Hit[]
    const exact = new Map(ranked(rows, q, 'IP').map((w) => [String(w.id), w.score]))
    const sizes = new Map<number, number>()
    let prev: number | undefined
    for (const h of grouped) {
      assert.ok(close(h.score, exact.get(String(h.id))!), `HNSW grouped hit ${h.id} carries its exact score`)
      if (prev !== h.n) assert.ok(!sizes.has(h.n), `group ${h.n} is contiguous`)
      sizes.set(h.n, (sizes.get(h.n) ?? 0) + 1)
      prev = h.n
    }
    assert.equal(sizes.size, 12)
    assert.ok([...sizes.values()].every((c) => c <= 3))
  })

  it('search iterator v2 on the wire: uuid token, last_bound, stateless tokens and parameter errors', async () => {
    const q = rng(71)
    const vec = randVec(q)
    const iter = (params: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
      client.search({ collection_name: 'iter', data: [vec], limit: 10, output_fields: ['id'], params: { iterator: true, search_iter_v2: true, ...params }, ...extra } as never)

    const first = await iter({ search_iter_batch_size: 40 })
    ok(first.status, 'first page')
    const v2 = first.search_iterator_v2_results as { token: string; last_bound: number }
    assert.match(v2.token, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/, 'the token is a uuid')
    const firstHits = first.results as unknown as Hit[]
    assert.equal(firstHits.length, 40, 'the batch size, not the limit, sizes a page')
    assert.equal(v2.last_bound, Math.fround(firstHits[39]!.score), 'last_bound is the last score')

    const second = await iter({ search_iter_batch_size: 40, search_iter_id: v2.token, search_iter_last_bound: v2.last_bound, guarantee_timestamp: first.session_ts })
    ok(second.status, 'second page')
    const secondHits = second.results as unknown as Hit[]
    const seen = new Set(firstHits.map((h) => String(h.id)))
    assert.ok(secondHits.every((h) => !seen.has(String(h.id)) && h.score <= v2.last_bound), 'the second page continues after the first')
    assert.equal((second.search_iterator_v2_results as { token: string }).token, v2.token, 'the token stays')

    // A well-formed token this server never issued pages statelessly (strictly below the bound).
    const foreign = await iter({ search_iter_batch_size: 40, search_iter_id: '123e4567-e89b-12d3-a456-426614174000', search_iter_last_bound: v2.last_bound })
    ok(foreign.status, 'unknown token')
    assert.ok((foreign.results as unknown as Hit[]).every((h) => h.score < v2.last_bound))

    failed(await statusOf(iter({ search_iter_batch_size: 40, search_iter_id: 'not-a-token' })), 'bad token', /invalid token format/)
    failed(await statusOf(iter({})), 'no batch size', /batch size is required/)
    failed(await statusOf(iter({ search_iter_batch_size: 0 })), 'batch size 0', /batch size is invalid/)
    failed(await statusOf(iter({ search_iter_batch_size: 40, search_iter_last_bound: 'x' })), 'bad last bound', /failed to parse input last bound/)
    failed(await statusOf(iter({ search_iter_batch_size: 40 }, { offset: 5 })), 'offset in iterator v2', /Setting an offset is not permitted/)
    failed(await statusOf(iter({ search_iter_batch_size: 40, iterator: false })), 'v2 without iterator', /both iterator and search_iter_v2 must be set/)
    failed(await statusOf(iter({ search_iter_batch_size: 40 }, { data: [vec, vec] })), 'two query vectors', /Not support multiple vector iterator/)
  })
})
