/**
 * Bad input gets a clear Milvus-coded error (code + legacy error_code) and the server keeps
 * serving: wrong dims and types, missing and extra fields, oversize strings, malformed filters,
 * unknown names, truncated or garbage protobuf payloads, concurrent DDL.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import * as grpc from '@grpc/grpc-js'
import { DataType, ErrorCode, type MilvusClient } from '@zilliz/milvus2-sdk-node'
import { loadMilvusProto } from '../../src/schema/milvus-proto.js'
import { startServer, type TestServer } from './server.js'

interface Status {
  error_code: string | number
  code?: number
  reason: string
}

/** The SDK returns some failures and throws others (e.g. createCollection); both carry the Status. */
async function statusOf(p: Promise<unknown>): Promise<Status> {
  try {
    const r = (await p) as Status & { status?: Status }
    return r.status ?? r
  } catch (e) {
    if (e && typeof e === 'object' && 'error_code' in e) return e as Status
    throw e
  }
}

function rejected(s: Status, code: number, legacy: string, reason?: RegExp): void {
  assert.equal(s.code, code, `code for: ${s.reason}`)
  assert.equal(s.error_code, legacy, `error_code for: ${s.reason}`)
  if (reason) assert.match(s.reason, reason)
}

describe('bad input', () => {
  let server: TestServer
  let client: MilvusClient

  before(async () => {
    server = await startServer()
    client = server.client()
    await client.connectPromise
    const r = await client.createCollection({
      collection_name: 'strict',
      consistency_level: 'Strong',
      fields: [
        { name: 'id', data_type: DataType.Int64, is_primary_key: true },
        { name: 'v', data_type: DataType.FloatVector, dim: 4 },
        { name: 'name', data_type: DataType.VarChar, max_length: 5 },
        { name: 'n', data_type: DataType.Int16 },
      ],
    })
    assert.equal(r.error_code, ErrorCode.SUCCESS, r.reason)
    await client.createIndex({ collection_name: 'strict', field_name: 'v', index_type: 'FLAT', metric_type: 'L2' })
    await client.loadCollection({ collection_name: 'strict' })
    await client.insert({ collection_name: 'strict', data: [{ id: 1, v: [1, 2, 3, 4], name: 'ok', n: 1 }] })
  })
  after(async () => {
    await server.close()
  })

  async function stillServes(): Promise<void> {
    const c = await client.count({ collection_name: 'strict' })
    assert.equal(c.data, 1, 'the acknowledged row is still there and the server answers')
  }

  it('rejects wrong vector dimensions', async () => {
    const r = await client.insert({ collection_name: 'strict', data: [{ id: 2, v: [1, 2, 3], name: 'x', n: 1 }] })
    rejected(r.status, 1100, 'IllegalArgument', /dim/)
    const s = await client.search({ collection_name: 'strict', data: [[1, 2]], limit: 1 })
    rejected(s.status, 1100, 'IllegalArgument', /dim/)
    await stillServes()
  })

  it('rejects too-long VarChar, out-of-range ints, missing and extra fields', async () => {
    rejected((await client.insert({ collection_name: 'strict', data: [{ id: 2, v: [1, 2, 3, 4], name: 'toolong', n: 1 }] })).status, 1100, 'IllegalArgument', /length/)
    rejected((await client.insert({ collection_name: 'strict', data: [{ id: 2, v: [1, 2, 3, 4], name: 'x', n: 70000 }] })).status, 1100, 'IllegalArgument')
    rejected((await client.insert({ collection_name: 'strict', data: [{ id: 2, v: [1, 2, 3, 4], n: 1 }] as never })).status, 1100, 'IllegalArgument', /name/)
    // The SDK itself refuses a key that is not in a fixed schema; the server check is covered by the
    // raw-wire test below and the codec's unit tests.
    await assert.rejects(client.insert({ collection_name: 'strict', data: [{ id: 2, v: [1, 2, 3, 4], name: 'x', n: 1, surprise: 1 }] }), /does not exist/)
    await stillServes()
  })

  it('rejects wrong types and extra fields sent on the wire', async () => {
    const proto = loadMilvusProto()
    const raw = new grpc.Client(server.address, grpc.credentials.createInsecure())
    const insert = (fields: Record<string, unknown>[]) =>
      new Promise<Status>((resolve, reject) => {
        const payload = Buffer.from(proto.encode('milvus.proto.milvus.InsertRequest', { collection_name: 'strict', num_rows: 1, fields_data: fields }))
        raw.makeUnaryRequest(
          '/milvus.proto.milvus.MilvusService/Insert',
          (x: Buffer) => x,
          (b: Buffer) => proto.decode('milvus.proto.milvus.MutationResult', b),
          payload,
          (err, res) => (err ? reject(err) : resolve((res as { status: Status }).status)),
        )
      })
    const base = [
      { type: 'Int64', field_name: 'id', scalars: { long_data: { data: ['5'] } } },
      { type: 'FloatVector', field_name: 'v', vectors: { dim: 4, float_vector: { data: [1, 2, 3, 4] } } },
      { type: 'VarChar', field_name: 'name', scalars: { string_data: { data: ['x'] } } },
    ]
    rejected(await insert([...base, { type: 'VarChar', field_name: 'n', scalars: { string_data: { data: ['1'] } } }]), 1100, 'IllegalArgument', /n/)
    const extra = await insert([...base, { type: 'Int16', field_name: 'n', scalars: { int_data: { data: [1] } } }, { type: 'Int64', field_name: 'surprise', scalars: { long_data: { data: ['1'] } } }])
    assert.notEqual(extra.error_code, 'Success')
    assert.match(extra.reason, /surprise/)
    raw.close()
    await stillServes()
  })

  it('rejects malformed filters with a position', async () => {
    const q = await client.query({ collection_name: 'strict', filter: 'id >> > 3', output_fields: ['id'] })
    rejected(q.status, 1100, 'IllegalArgument')
    const f = await client.query({ collection_name: 'strict', filter: 'yeer == 3', output_fields: ['id'] })
    rejected(f.status, 1100, 'IllegalArgument', /yeer/)
    const s = await client.search({ collection_name: 'strict', data: [[1, 2, 3, 4]], limit: 1, filter: 'name == 3' })
    rejected(s.status, 1100, 'IllegalArgument')
    const d = await client.delete({ collection_name: 'strict', filter: 'id in [' })
    rejected(d.status, 1100, 'IllegalArgument')
    await stillServes()
  })

  it('survives hundreds of garbage filters through query, search and delete', async () => {
    let seed = 99
    const rand = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32)
    const pieces = ['id', 'name', 'n', '(', ')', '[', ']', '==', '>', 'in', 'like', '"x"', "'", '1', '-', '**', 'and', 'or', 'not', '{t}', 'json_contains(', ',', '$meta', '\\', '"%', '0x', '1e400', 'is null', '\u0000']
    let rejectedCount = 0
    for (let i = 0; i < 300; i++) {
      const text = Array.from({ length: 1 + Math.floor(rand() * 8) }, () => pieces[Math.floor(rand() * pieces.length)]).join(' ')
      const which = i % 3
      const res =
        which === 0
          ? (await client.query({ collection_name: 'strict', filter: text, output_fields: ['id'], limit: 10 })).status
          : which === 1
            ? (await client.search({ collection_name: 'strict', data: [[1, 2, 3, 4]], limit: 1, filter: text })).status
            : (await client.delete({ collection_name: 'strict', filter: `(${text}) and id < 0` })).status
      if (res.error_code !== ErrorCode.SUCCESS) {
        rejectedCount++
        assert.ok(res.code === 1100 || res.code === 1700, `garbage filter ${JSON.stringify(text)} gave code ${res.code}: ${res.reason}`)
        assert.ok(res.reason.length > 0)
      }
    }
    assert.ok(rejectedCount > 100)
    await stillServes()
  })

  it('names unknown collections, partitions, fields and databases', async () => {
    rejected((await client.query({ collection_name: 'nope', filter: 'id > 0' })).status, 100, 'CollectionNotExists')
    rejected((await client.insert({ collection_name: 'strict', partition_name: 'nope', data: [{ id: 3, v: [1, 2, 3, 4], name: 'x', n: 1 }] })).status, 200, 'MetaFailed')
    const badField = await client.query({ collection_name: 'strict', filter: 'id > 0', output_fields: ['nope'] })
    assert.equal(badField.status.code, 1700)
    const db = server.client({ database: 'nowhere' })
    const r = await db.showCollections()
    rejected(r.status, 800, 'UnexpectedError', /nowhere/)
    rejected(await statusOf(client.createIndex({ collection_name: 'strict', field_name: 'nope', index_type: 'FLAT', metric_type: 'L2' })), 1700, 'UnexpectedError')
    await stillServes()
  })

  it('rejects duplicate names and bad schemas', async () => {
    const dup = await statusOf(client.createCollection({
      collection_name: 'dups',
      fields: [
        { name: 'id', data_type: DataType.Int64, is_primary_key: true },
        { name: 'id', data_type: DataType.FloatVector, dim: 4 },
      ],
    }))
    rejected(dup, 1100, 'IllegalArgument', /duplicate/)
    // The SDK refuses some schemas itself; whichever side refuses, nothing is created.
    const noPk = await statusOf(client.createCollection({ collection_name: 'nopk', fields: [{ name: 'v', data_type: DataType.FloatVector, dim: 4 }] as never })).catch((e: Error) => ({ error_code: 'ClientError', reason: e.message }))
    assert.notEqual(noPk.error_code, ErrorCode.SUCCESS)
    assert.equal((await client.hasCollection({ collection_name: 'nopk' })).value, false)
    const badName = await statusOf(client.createCollection({ collection_name: '1bad name', fields: [{ name: 'id', data_type: DataType.Int64, is_primary_key: true }, { name: 'v', data_type: DataType.FloatVector, dim: 4 }] }))
    rejected(badName, 1100, 'IllegalArgument')
    await stillServes()
  })

  it('answers truncated and garbage protobuf payloads with a Milvus error', async () => {
    const proto = loadMilvusProto()
    const raw = new grpc.Client(server.address, grpc.credentials.createInsecure())
    const call = (method: string, payload: Buffer) =>
      new Promise<Record<string, unknown>>((resolve, reject) => {
        raw.makeUnaryRequest(
          `/milvus.proto.milvus.MilvusService/${method}`,
          (x: Buffer) => x,
          (b: Buffer) => proto.decode(method === 'Insert' ? 'milvus.proto.milvus.MutationResult' : 'milvus.proto.common.Status', b),
          payload,
          (err, res) => (err ? reject(err) : resolve(res!)),
        )
      })
    // Field 3 (collection_name) declares 100 bytes but only 3 follow.
    const truncated = await call('Insert', Buffer.from([0x1a, 0x64, 0x61, 0x62, 0x63]))
    rejected(truncated.status as Status, 1100, 'IllegalArgument', /malformed Insert request/)
    const garbage = await call('CreateCollection', Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f, 0x01]))
    rejected(garbage as unknown as Status, 1100, 'IllegalArgument', /malformed/)
    raw.close()
    await stillServes()
  })

  it('serialises concurrent DDL on one name', async () => {
    const fields = [
      { name: 'id', data_type: DataType.Int64, is_primary_key: true },
      { name: 'v', data_type: DataType.FloatVector, dim: 4 },
    ]
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => statusOf(client.createCollection({ collection_name: 'race', fields: i % 2 ? fields : [...fields, { name: 'x', data_type: DataType.Int8 }] }))))
    const ok = results.filter((r) => r.error_code === ErrorCode.SUCCESS).length
    assert.ok(ok >= 1 && ok <= 4, `only one schema can win (${ok} succeeded)`)
    const drops = await Promise.all(Array.from({ length: 4 }, () => statusOf(client.dropCollection({ collection_name: 'race' }))))
    for (const d of drops) assert.equal(d.error_code, ErrorCode.SUCCESS)
    assert.equal((await client.hasCollection({ collection_name: 'race' })).value, false)
    await stillServes()
  })
})
