import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { ShareRequest } from '../access/shares.js'
import { DbError } from '../common/errors.js'
import type { Column } from '../schema/columns.js'
import { segmentOwner } from './query-coord.js'
import { decodeParts, decodeShareReply, decodeShareRequest, encodeParts, encodeShareError, encodeShareReply, encodeShareRequest, ShareClient } from './share-rpc.js'

describe('share read messages', () => {
  it('a request round-trips: the client request, keys, pages, query vectors and group keys', () => {
    const r: ShareRequest = {
      op: 'search',
      collectionId: 451234567890123456n,
      ts: 450000000000000001n,
      segments: [1n, 2n, 9007199254740993n],
      partitionIds: [7n],
      request: { collection_name: 'c', dsl: 'tag == 3', output_fields: ['tag'], placeholder_group: Buffer.from([1, 2, 3]) },
      fields: ['id', 'tag'],
      page: { bound: 0.5, includeBound: true, returned: [5n, 9007199254740993n] },
      queries: { type: 'FloatVector', dim: 2, data: Float32Array.of(1, 2, 3, 4) },
      keep: { field: 'g', values: [1n, 'x', 3, null] },
    }
    const back = decodeShareRequest(encodeShareRequest(r))
    assert.equal(back.collectionId, r.collectionId)
    assert.equal(back.ts, r.ts)
    assert.deepEqual(back.segments, r.segments)
    assert.deepEqual(back.partitionIds, r.partitionIds)
    assert.deepEqual(back.fields, r.fields)
    assert.deepEqual(back.page, r.page)
    assert.deepEqual(back.keep, r.keep)
    assert.equal(back.request?.collection_name, 'c')
    assert.equal(back.request?.dsl, 'tag == 3')
    assert.deepEqual([...(back.request?.placeholder_group as Uint8Array)], [1, 2, 3])
    assert.deepEqual(back.queries, r.queries)
    const rows = decodeShareRequest(encodeShareRequest({ op: 'rows', collectionId: 1n, ts: 2n, segments: [3n], fields: ['id', 'v'], pks: ['a', 'b'] }))
    assert.deepEqual(rows.pks, ['a', 'b'])
  })

  it('a reply round-trips columns and scores from unaligned message offsets', () => {
    const columns = new Map<string, Column>([
      ['id', { type: 'Int64', data: BigInt64Array.of(7n, -3n, 9007199254740993n) }],
      ['name', { type: 'VarChar', data: ['a', 'bé', ''] }],
      ['v', { type: 'FloatVector', dim: 2, data: Float32Array.of(1, 2, 3, 4, 5, 6) }],
    ])
    const bytes = encodeShareReply({ topks: [2, 1], scores: Float32Array.of(0.25, 0.5, 1.5), numRows: 3, columns })
    // Shift the message by one byte, as a receive buffer may place it.
    const shifted = Buffer.alloc(bytes.length + 1)
    bytes.copy(shifted, 1)
    const back = decodeShareReply(shifted.subarray(1), 'n1')
    assert.deepEqual(back.topks, [2, 1])
    assert.deepEqual([...back.scores!], [0.25, 0.5, 1.5])
    assert.deepEqual(back.columns.get('id'), columns.get('id'))
    assert.deepEqual(back.columns.get('name'), columns.get('name'))
    assert.deepEqual(back.columns.get('v'), columns.get('v'))
  })

  it('errors carry their Milvus kind; malformed messages are refused', () => {
    assert.throws(() => decodeShareReply(encodeShareError(new DbError('SegmentNotLoaded', 'segment 5')), 'n1'), (e: unknown) => e instanceof DbError && e.kind === 'SegmentNotLoaded' && /n1/.test(e.message))
    assert.throws(() => decodeParts(Buffer.from([1, 0, 0, 0, 9, 0, 0, 0, 1])), (e: unknown) => e instanceof DbError && e.kind === 'ParameterInvalid')
    assert.throws(() => decodeParts(Buffer.from([1])), (e: unknown) => e instanceof DbError)
    assert.throws(() => decodeShareRequest(encodeParts([Buffer.from(JSON.stringify({ op: 'drop', collectionId: '1', ts: '1', segments: [], fields: [] }))])), /unknown share read/)
  })
})

describe('share read planning', () => {
  const seg = (id: bigint) => ({ id, collectionId: 1n, partitionId: 10n, shard: 0, numRows: 1, binlogs: {}, sizeBytes: 0 })
  const setup = (opts: { held: Record<string, string[]>; replicas: string[][]; self: string; others: bigint[] }) => {
    const nodes = Object.keys(opts.held).map((nodeId) => ({ nodeId, role: 'querynode', address: `${nodeId}:1`, metricsAddress: '', pid: 1, startedAt: '', serving: { collections: ['1'], segments: { '1': opts.held[nodeId]! } } }))
    const view = { nodes: () => nodes.filter((n) => n.nodeId !== 'dead'), onChange: () => undefined }
    const placement = { replicaOf: (_c: unknown, n: string) => opts.replicas.find((r) => r.includes(n)), nodesOf: () => opts.replicas.flat() }
    const data = { otherShares: () => opts.others.map(seg) }
    return new ShareClient({ data: data as never, placement: placement as never, view: view as never, nodeId: opts.self, log: undefined as never })
  }
  const owned = (replica: string[], want: string, from: bigint) => {
    for (let s = from; ; s++) if (segmentOwner(replica, s) === want) return s
  }

  it('sends each segment to its owner in this replica when the owner holds it', () => {
    const s1 = owned(['a', 'b'], 'b', 100n)
    const c = setup({ self: 'a', replicas: [['a', 'b']], held: { a: [], b: [String(s1)] }, others: [s1] })
    assert.deepEqual(c.plan(1n), [{ nodeId: 'b', address: 'b:1', segments: [s1] }])
  })

  it('falls back to a holder in another replica, then to the owner still loading; every segment goes to exactly one node', () => {
    const s1 = owned(['a', 'b'], 'b', 200n)
    // b owns s1 but does not hold it yet; c (the other replica) does.
    const c = setup({ self: 'a', replicas: [['a', 'b'], ['c']], held: { a: [], b: [], c: [String(s1)] }, others: [s1] })
    assert.deepEqual(c.plan(1n).map((t) => t.nodeId), ['c'])
    const alone = setup({ self: 'a', replicas: [['a', 'b']], held: { a: [], b: [] }, others: [s1] })
    assert.deepEqual(alone.plan(1n).map((t) => t.nodeId), ['b'])
    const many = Array.from({ length: 40 }, (_, i) => BigInt(300 + i))
    const spread = setup({ self: 'a', replicas: [['a', 'b', 'c']], held: { a: [], b: many.map(String), c: many.map(String) }, others: many })
    const sent = spread.plan(1n).flatMap((t) => t.segments)
    assert.deepEqual([...sent].sort(), [...many].sort())
  })

  it('a segment nobody reachable holds or owns is a retriable error', () => {
    const s1 = owned(['a', 'b'], 'a', 400n)
    // This node owns it but has not loaded it, and nobody else holds it.
    const c = setup({ self: 'a', replicas: [['a', 'b']], held: { a: [], b: [] }, others: [s1] })
    assert.throws(() => c.plan(1n), (e: unknown) => e instanceof DbError && e.kind === 'SegmentNotLoaded' && c.retriable(e))
  })
})
