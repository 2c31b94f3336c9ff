/** Connection, databases, collections, partitions, aliases, indexes and load through the official SDK. */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { DataType, ErrorCode, type MilvusClient } from '@zilliz/milvus2-sdk-node'
import { startServer, type TestServer } from './server.js'

const DIM = 4

function schemaFields(dim = DIM) {
  return [
    { name: 'id', data_type: DataType.Int64, is_primary_key: true, autoID: false },
    { name: 'vec', data_type: DataType.FloatVector, dim },
    { name: 'title', data_type: DataType.VarChar, max_length: 64 },
  ]
}

describe('basics through the official SDK', () => {
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

  it('metrics move with the work: WAL appends, flushes, segments and rows by state', async () => {
    const name = 'metrics_probe'
    await client.createCollection({ collection_name: name, fields: schemaFields() })
    const rows = Array.from({ length: 30 }, (_, i) => ({ id: i, vec: [i, 1, 2, 3], title: `t${i}` }))
    assert.equal((await client.insert({ collection_name: name, data: rows })).status.error_code, 'Success')
    const scrape = async () => (await fetch(`http://127.0.0.1:${server.metricsPort}/metrics`)).text()
    const id = (await client.describeCollection({ collection_name: name })).collectionID
    let text = await scrape()
    assert.match(text, /milvus_wal_append_latency_count\{node_id="1"\} [1-9]/)
    assert.match(text, new RegExp(`milvus_querynode_entity_num\\{node_id="1",collection_id="${id}",segment_state="Growing"\\} 30`))
    assert.equal((await client.flushSync({ collection_names: [name] })).status.error_code, 'Success')
    text = await scrape()
    assert.match(text, /milvus_datanode_flush_buffer_op_count\{node_id="1",status="success"\} [1-9]/)
    assert.match(text, /milvus_datanode_save_latency_count\{node_id="1"\} [1-9]/)
    assert.match(text, new RegExp(`milvus_querynode_segment_num\\{node_id="1",collection_id="${id}",segment_state="Flushed"\\} 1`))
    assert.match(text, new RegExp(`milvus_querynode_entity_num\\{node_id="1",collection_id="${id}",segment_state="Flushed"\\} 30`))
    await client.dropCollection({ collection_name: name })
  })

  it('connects, reports version, health and metrics', async () => {
    const v = await client.getVersion()
    assert.match(v.version, /harrier/)
    const h = await client.checkHealth()
    assert.equal(h.isHealthy, true)
    const m = await client.getMetric({ request: { metric_type: 'system_info' } })
    assert.equal(m.status.error_code, ErrorCode.SUCCESS)
    const info = typeof m.response === 'string' ? JSON.parse(m.response) : m.response
    assert.ok(info.nodes_info)
    const res = await fetch(`http://127.0.0.1:${server.metricsPort}/healthz`)
    assert.equal(res.status, 200)
    assert.equal(await res.text(), 'OK')
    const metrics = await (await fetch(`http://127.0.0.1:${server.metricsPort}/metrics`)).text()
    assert.match(metrics, /milvus_proxy_req_count\{node_id="1",function_name="GetVersion",status="success"\} 1/)
    assert.match(metrics, /process_resident_memory_bytes/)
  })

  it('creates, lists, describes, uses and drops databases', async () => {
    assert.equal((await client.createDatabase({ db_name: 'db_one' })).error_code, ErrorCode.SUCCESS)
    const dup = await client.createDatabase({ db_name: 'db_one' })
    assert.notEqual(dup.error_code, ErrorCode.SUCCESS)
    const list = await client.listDatabases()
    assert.deepEqual(list.db_names.sort(), ['db_one', 'default'])
    const d = await client.describeDatabase({ db_name: 'db_one' })
    assert.equal(d.db_name, 'db_one')
    const other = server.client({ database: 'db_one' })
    await other.connectPromise
    await other.createCollection({ collection_name: 'in_db_one', fields: schemaFields() })
    assert.equal((await other.hasCollection({ collection_name: 'in_db_one' })).value, true)
    assert.equal((await client.hasCollection({ collection_name: 'in_db_one' })).value, false)
    const notEmpty = await client.dropDatabase({ db_name: 'db_one' })
    assert.notEqual(notEmpty.error_code, ErrorCode.SUCCESS)
    await other.dropCollection({ collection_name: 'in_db_one' })
    assert.equal((await client.dropDatabase({ db_name: 'db_one' })).error_code, ErrorCode.SUCCESS)
    const missing = await client.describeDatabase({ db_name: 'db_one' })
    assert.equal(missing.status.code, 800)
  })

  it('creates and describes a collection as Milvus does', async () => {
    const res = await client.createCollection({
      collection_name: 'books',
      fields: schemaFields(),
      enable_dynamic_field: true,
      shards_num: 2,
      consistency_level: 'Strong',
    })
    assert.equal(res.error_code, ErrorCode.SUCCESS)
    const d = await client.describeCollection({ collection_name: 'books' })
    assert.equal(d.status.error_code, ErrorCode.SUCCESS)
    assert.equal(d.schema.enable_dynamic_field, true)
    assert.deepEqual(
      d.schema.fields.map((f) => [f.name, f.fieldID, f.data_type]),
      [
        ['id', '100', 'Int64'],
        ['vec', '101', 'FloatVector'],
        ['title', '102', 'VarChar'],
      ],
    )
    assert.equal(d.shards_num, 2)
    assert.equal(d.consistency_level, 'Strong')
    const show = await client.showCollections()
    assert.ok(show.data.some((c) => c.name === 'books'))
    const missing = await client.describeCollection({ collection_name: 'nope' })
    assert.equal(missing.status.error_code, 'CollectionNotExists')
    assert.equal(missing.status.code, 100)
  })

  it('renames and alters collections, manages partitions and aliases', async () => {
    await client.createCollection({ collection_name: 'rename_me', fields: schemaFields() })
    assert.equal((await client.renameCollection({ collection_name: 'rename_me', new_collection_name: 'renamed' })).error_code, ErrorCode.SUCCESS)
    assert.equal((await client.hasCollection({ collection_name: 'renamed' })).value, true)
    assert.equal((await client.hasCollection({ collection_name: 'rename_me' })).value, false)
    await client.alterCollectionProperties({ collection_name: 'renamed', properties: { 'collection.ttl.seconds': 60 } })
    const d = await client.describeCollection({ collection_name: 'renamed' })
    assert.ok(d.properties.some((p) => p.key === 'collection.ttl.seconds' && p.value === '60'))

    assert.equal((await client.createPartition({ collection_name: 'renamed', partition_name: 'p1' })).error_code, ErrorCode.SUCCESS)
    assert.equal((await client.hasPartition({ collection_name: 'renamed', partition_name: 'p1' })).value, true)
    const parts = await client.showPartitions({ collection_name: 'renamed' })
    assert.deepEqual(parts.partition_names, ['_default', 'p1'])
    assert.notEqual((await client.dropPartition({ collection_name: 'renamed', partition_name: '_default' })).error_code, ErrorCode.SUCCESS)
    assert.equal((await client.dropPartition({ collection_name: 'renamed', partition_name: 'p1' })).error_code, ErrorCode.SUCCESS)

    assert.equal((await client.createAlias({ collection_name: 'renamed', alias: 'nick' })).error_code, ErrorCode.SUCCESS)
    const da = await client.describeAlias({ alias: 'nick', collection_name: 'renamed' })
    assert.equal(da.collection, 'renamed')
    assert.deepEqual((await client.listAliases({ collection_name: 'renamed' })).aliases, ['nick'])
    const viaAlias = await client.describeCollection({ collection_name: 'nick' })
    assert.equal(viaAlias.collection_name, 'renamed')
    assert.deepEqual(viaAlias.aliases, ['nick'])
    await client.createCollection({ collection_name: 'other', fields: schemaFields() })
    assert.equal((await client.alterAlias({ collection_name: 'other', alias: 'nick' })).error_code, ErrorCode.SUCCESS)
    assert.equal((await client.describeAlias({ alias: 'nick', collection_name: 'renamed' })).collection, 'other')
    assert.equal((await client.dropAlias({ alias: 'nick', collection_name: 'other' } as never)).error_code, ErrorCode.SUCCESS)
    const gone = await client.describeAlias({ alias: 'nick', collection_name: 'renamed' })
    assert.equal(gone.status.code, 1600)
  })

  it('creates, describes and drops indexes; loads and releases', async () => {
    await client.createCollection({ collection_name: 'idx', fields: schemaFields() })
    const noIndexLoad = await client.loadCollectionAsync({ collection_name: 'idx' })
    assert.notEqual(noIndexLoad.error_code, ErrorCode.SUCCESS)
    const missing = await client.describeIndex({ collection_name: 'idx', field_name: 'vec' })
    assert.equal(missing.status.error_code, 'IndexNotExist')
    const bad = await client.createIndex({ collection_name: 'idx', field_name: 'vec', index_type: 'NOT_AN_INDEX', metric_type: 'L2' })
    assert.equal(bad.error_code, 'IllegalArgument')
    const ok = await client.createIndex({ collection_name: 'idx', field_name: 'vec', index_type: 'FLAT', metric_type: 'L2' })
    assert.equal(ok.error_code, ErrorCode.SUCCESS)
    const desc = await client.describeIndex({ collection_name: 'idx', field_name: 'vec' })
    assert.equal(desc.index_descriptions[0]!.index_name, 'vec')
    assert.ok(desc.index_descriptions[0]!.params.some((p) => p.key === 'metric_type' && p.value === 'L2'))
    const state = await client.getIndexState({ collection_name: 'idx', field_name: 'vec' })
    assert.equal(state.state, 'Finished')
    assert.equal((await client.getLoadState({ collection_name: 'idx' })).state, 'LoadStateNotLoad')
    assert.equal((await client.loadCollection({ collection_name: 'idx' })).error_code, ErrorCode.SUCCESS)
    assert.equal((await client.getLoadState({ collection_name: 'idx' })).state, 'LoadStateLoaded')
    assert.equal((await client.getLoadingProgress({ collection_name: 'idx' })).progress, '100')
    const dropLoaded = await client.dropIndex({ collection_name: 'idx', field_name: 'vec' })
    assert.notEqual(dropLoaded.error_code, ErrorCode.SUCCESS)
    await client.releaseCollection({ collection_name: 'idx' })
    assert.equal((await client.dropIndex({ collection_name: 'idx', field_name: 'vec' })).error_code, ErrorCode.SUCCESS)
    const notLoaded = await client.search({ collection_name: 'idx', data: [[1, 2, 3, 4]], limit: 1 })
    assert.equal(notLoaded.status.code, 101)
  })

  it('creates a collection the high-level way (dimension + auto index + load)', async () => {
    const res = await client.createCollection({ collection_name: 'quick', dimension: 8 })
    assert.equal(res.error_code, ErrorCode.SUCCESS)
    assert.equal((await client.getLoadState({ collection_name: 'quick' })).state, 'LoadStateLoaded')
    const d = await client.describeCollection({ collection_name: 'quick' })
    assert.equal(d.schema.enable_dynamic_field, true)
    const idx = await client.describeIndex({ collection_name: 'quick' })
    assert.equal(idx.index_descriptions[0]!.params.find((p) => p.key === 'index_type')!.value, 'AUTOINDEX')
  })

  it('answers an RPC it does not implement with a clear error, not an empty success', async () => {
    const r = await client.listResourceGroups()
    assert.notEqual(r.status.error_code, ErrorCode.SUCCESS)
    assert.match(r.status.reason, /ListResourceGroups is not implemented/)
  })
})
