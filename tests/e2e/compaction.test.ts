/** Compaction through the SDK: small segments merge, deleted rows go, results and counts stay, restart agrees. */
import assert from 'node:assert/strict'
import { rm } from 'node:fs/promises'
import { after, it } from 'node:test'
import { DataType, ErrorCode } from '@zilliz/milvus2-sdk-node'
import { startServer, tempDataDir } from './server.js'

const dirs: string[] = []
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true })
})

it('merges flushed segments, drops deleted rows, keeps results, and survives a restart', async () => {
  const dataDir = await tempDataDir()
  dirs.push(dataDir)
  // A long interval keeps the background loop out of the way: this test triggers compaction itself.
  let server = await startServer({ dataDir, compactionIntervalMs: 3_600_000 })
  let client = server.client()
  await client.createCollection({
    collection_name: 'cmp',
    consistency_level: 'Strong',
    fields: [
      { name: 'id', data_type: DataType.Int64, is_primary_key: true },
      { name: 'v', data_type: DataType.FloatVector, dim: 4 },
      { name: 'tag', data_type: DataType.VarChar, max_length: 8 },
    ],
  })
  await client.createIndex({ collection_name: 'cmp', field_name: 'v', index_type: 'HNSW', metric_type: 'L2' })
  await client.loadCollection({ collection_name: 'cmp' })
  for (let b = 0; b < 4; b++) {
    await client.insert({ collection_name: 'cmp', data: Array.from({ length: 50 }, (_, i) => ({ id: b * 50 + i, v: [b, i, 1, 0], tag: `t${i % 3}` })) })
    await client.flushSync({ collection_names: ['cmp'] })
  }
  await client.delete({ collection_name: 'cmp', filter: 'id < 30' })
  await client.upsert({ collection_name: 'cmp', data: [{ id: 100, v: [9, 9, 9, 9], tag: 'new' }] })
  const before = await client.getPersistentSegmentInfo({ collectionName: 'cmp' })
  assert.equal(before.infos.length, 4)
  const search = async () => (await client.search({ collection_name: 'cmp', data: [[1, 10, 1, 0]], limit: 5, output_fields: ['tag'] })).results.map((h) => [String(h.id), h.tag])
  const expected = await search()

  const res = await client.compact({ collection_name: 'cmp' })
  assert.equal(res.status.error_code, ErrorCode.SUCCESS, res.status.reason)
  const state = await client.getCompactionState({ compactionID: res.compactionID })
  assert.equal(state.state, 'Completed')
  const after1 = await client.getPersistentSegmentInfo({ collectionName: 'cmp' })
  assert.equal(after1.infos.length, 1, 'the four small segments became one')
  assert.equal(Number(after1.infos[0]!.num_rows), 200 - 30 - 1, 'rows deleted (and the upserted old version) are gone from storage')
  assert.equal((await client.count({ collection_name: 'cmp' })).data, 170)
  assert.deepEqual(await search(), expected)
  const upserted = await client.query({ collection_name: 'cmp', filter: 'id == 100', output_fields: ['tag'] })
  assert.deepEqual(upserted.data.map((r) => r.tag), ['new'])
  await client.delete({ collection_name: 'cmp', filter: 'id in [40, 41]' })
  assert.equal((await client.count({ collection_name: 'cmp' })).data, 168, 'deletes after compaction find the merged rows')

  await server.stop()
  server = await startServer({ dataDir, compactionIntervalMs: 3_600_000 })
  client = server.client()
  assert.equal((await client.count({ collection_name: 'cmp' })).data, 168)
  assert.deepEqual((await client.query({ collection_name: 'cmp', filter: 'id in [40, 100, 5]', output_fields: ['id'] })).data.map((r) => Number(r.id)).sort((a, b) => a - b), [100])
  // The compaction's state is recorded in the catalog, not in the process that ran it.
  const later = await client.getCompactionState({ compactionID: res.compactionID })
  assert.equal(later.status.error_code, ErrorCode.SUCCESS, later.status.reason)
  assert.equal(later.state, 'Completed')
  const unknown = await client.getCompactionState({ compactionID: '12345' })
  assert.equal(unknown.status.error_code, 'IllegalArgument', unknown.status.reason)
  await server.stop()
})
