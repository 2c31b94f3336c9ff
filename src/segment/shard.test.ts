import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { Column } from '../schema/columns.js'
import type { InsertPart } from '../streaming/messages.js'
import { ShardReplica } from './shard.js'

function part(segmentId: bigint, pks: bigint[]): InsertPart {
  const columns = new Map<string, Column>([['id', { type: 'Int64', data: BigInt64Array.from(pks) }]])
  return { kind: 'insert', shard: 0, partitionId: 1n, segmentId, numRows: pks.length, columns }
}

function visible(shard: ShardReplica, ts: bigint): bigint[] {
  const out: bigint[] = []
  for (const seg of shard.readableSegments()) for (const c of seg.chunks) c.visibility(ts).forEach((r) => out.push(c.pks[r] as bigint))
  return out.sort((a, b) => (a < b ? -1 : 1))
}

describe('ShardReplica MVCC', () => {
  it('shows each snapshot exactly the rows inserted before it and not deleted before it', () => {
    const s = new ShardReplica(0, 'id', 0n)
    s.applyInsert(part(10n, [1n, 2n, 3n]), 100n, 0n)
    s.applyDelete({ kind: 'delete', shard: 0, pks: BigInt64Array.of(2n) }, 200n, 1n)
    s.applyInsert(part(10n, [4n]), 300n, 2n)
    assert.deepEqual(visible(s, 99n), [])
    assert.deepEqual(visible(s, 100n), [1n, 2n, 3n])
    assert.deepEqual(visible(s, 199n), [1n, 2n, 3n])
    assert.deepEqual(visible(s, 200n), [1n, 3n])
    assert.deepEqual(visible(s, 300n), [1n, 3n, 4n])
  })

  it('upsert = delete + insert at one timestamp keeps only the new row', () => {
    const s = new ShardReplica(0, 'id', 0n)
    s.applyInsert(part(10n, [1n]), 100n, 0n)
    s.applyDelete({ kind: 'delete', shard: 0, pks: BigInt64Array.of(1n) }, 200n, 1n)
    s.applyInsert(part(10n, [1n]), 200n, 1n)
    assert.deepEqual(visible(s, 150n), [1n])
    assert.deepEqual(visible(s, 250n), [1n])
    let rows = 0
    for (const seg of s.readableSegments()) for (const c of seg.chunks) rows += c.visibility(250n).count()
    assert.equal(rows, 1)
  })

  it('applies known deletes to a segment loaded later, and seals on a new segment id', () => {
    const s = new ShardReplica(0, 'id', 0n)
    s.applyInsert(part(10n, [1n]), 100n, 0n)
    s.applyInsert(part(11n, [2n]), 110n, 1n)
    assert.equal(s.segments.get(10n)!.state, 'sealed')
    assert.equal(s.segments.get(11n)!.state, 'growing')
    const snap = s.beginFlush(2n)
    assert.deepEqual(snap.segments.map((x) => x.id).sort(), [10n, 11n])
    s.completeFlush(snap)
    assert.equal(s.checkpoint, 2n)
    assert.equal(s.firstUnflushedOffset, undefined)
    s.applyPersistedDeletes({ pks: BigInt64Array.of(7n), ts: 500n })
    const other = new ShardReplica(0, 'id', 0n)
    other.applyPersistedDeletes({ pks: BigInt64Array.of(7n), ts: 500n })
    const seg = s.segments.get(10n)!
    other.addLoadedSegment(seg)
    const p = part(12n, [7n])
    other.applyInsert(p, 400n, 3n)
    assert.deepEqual(visible(other, 450n), [1n, 7n])
  })

  it('an aborted flush keeps deletes and the unflushed range for the retry', () => {
    const s = new ShardReplica(0, 'id', 0n)
    s.applyInsert(part(10n, [1n]), 100n, 5n)
    s.applyDelete({ kind: 'delete', shard: 0, pks: BigInt64Array.of(1n) }, 200n, 6n)
    const snap = s.beginFlush(7n)
    s.abortFlush(snap)
    assert.equal(s.firstUnflushedOffset, 5n)
    assert.equal(s.unflushedDeletes.length, 1)
    assert.equal(s.segments.get(10n)!.state, 'sealed')
  })
})
