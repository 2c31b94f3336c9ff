import assert from 'node:assert/strict'
import { it } from 'node:test'
import { loadMilvusProto } from '../schema/milvus-proto.js'
import { collectionOf, notOwnedHere, notServedHere, statusCode, targetOf } from './proxy-router.js'

const proto = loadMilvusProto()
const enc = (type: string, obj: object) => Buffer.from(proto.encode(`milvus.proto.milvus.${type}`, obj))

it('reads db and collection names from read requests without decoding their vectors', () => {
  const search = enc('SearchRequest', { db_name: 'd1', collection_name: 'c1', placeholder_group: Buffer.alloc(4096, 7), dsl: 'x > 1' })
  assert.deepEqual(collectionOf(search), { db: 'd1', collection: 'c1' })
  assert.deepEqual(collectionOf(enc('QueryRequest', { collection_name: 'q' })), { db: '', collection: 'q' })
  assert.deepEqual(collectionOf(enc('GetCollectionStatisticsRequest', { db_name: 'x', collection_name: 'y' })), { db: 'x', collection: 'y' })
  // Truncated or garbage bytes: no names, no throw.
  assert.deepEqual(collectionOf(search.subarray(0, 5)), { db: 'd1', collection: '' })
  assert.deepEqual(collectionOf(Buffer.from([0xff, 0xff, 0xff])), { db: '', collection: '' })
})

it("recognises a query node's 'not served here' answer, and nothing else", () => {
  const notServed = enc('SearchResults', { status: { error_code: 'UnexpectedError', code: 101, reason: 'collection c is not served by this query node: collection not loaded' } })
  assert.equal(notServedHere(notServed), true)
  assert.equal(notServedHere(enc('SearchResults', { status: { code: 101, reason: 'collection not loaded' } })), false)
  assert.equal(notServedHere(enc('QueryResults', { status: { code: 0 } })), false)
  assert.equal(notServedHere(Buffer.alloc(0)), false)
  assert.equal(notServedHere(Buffer.from([0x0a, 0x50])), false)
})

it('routes writes to the channel owner, reads to query nodes and the rest to the coordinator', () => {
  assert.equal(targetOf('Insert'), 'datanode')
  assert.equal(targetOf('Delete'), 'datanode')
  assert.equal(targetOf('Search'), 'querynode')
  assert.equal(targetOf('Query'), 'querynode')
  assert.equal(targetOf('CreateCollection'), 'coordinator')
  assert.equal(targetOf('DescribeIndex'), 'coordinator')
})

it("recognises a data node's 'does not own WAL channel' answer and reads status codes", () => {
  const moved = enc('MutationResult', { status: { code: 2, reason: 'this data node does not own WAL channel by-dev-rootcoord-dml_1 (collection 5); retry through a proxy: service unavailable' } })
  assert.equal(notOwnedHere(moved), true)
  assert.equal(statusCode(moved), 2)
  assert.equal(notOwnedHere(enc('MutationResult', { status: { code: 2, reason: 'replica is reconnecting' } })), false)
  assert.equal(notOwnedHere(enc('MutationResult', { status: { code: 0 } })), false)
  assert.equal(statusCode(Buffer.from([0x0a, 0x50])), 0)
})
