import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { Column } from '../schema/columns.js'
import type { InsertPart } from '../storage/dml-message.js'
import { RowChunk } from './segment.js'
import { ShardReplica } from './shard.js'

function part(_segment: bigint, pks: bigint[]): InsertPart {
  const columns = new Map<string, Column>([['id', { type: 'Int64', data: BigInt64Array.from(pks) }]])
  return { kind: 'insert', shard: 0, partitionId: 1n, numRows: pks.length, columns }
}

function visible(shard: ShardReplica, ts: bigint): bigint[] {
  const out: bigint[] = []
  for (const seg of shard.readableSegments()) for (const c of seg.chunks) c.visibility(ts).forEach((r) => out.push(c.pks[r] as bigint))
  return out.sort((a, b) => (a < b ? -1 : 1))
}

describe('ShardReplica MVCC', () => {
  it('shows each snapshot exactly the rows inserted before it and not deleted before it', () => {
    const s = new ShardReplica(0, 'id', 0n)
    s.applyInsert(part(10n, [1n, 2n, 3n]), 100n, 0n, 0)
    s.applyDelete({ kind: 'delete', shard: 0, pks: BigInt64Array.of(2n) }, 200n, 1n)
    s.applyInsert(part(10n, [4n]), 300n, 2n, 0)
    assert.deepEqual(visible(s, 99n), [])
    assert.deepEqual(visible(s, 100n), [1n, 2n, 3n])
    assert.deepEqual(visible(s, 199n), [1n, 2n, 3n])
    assert.deepEqual(visible(s, 200n), [1n, 3n])
    assert.deepEqual(visible(s, 300n), [1n, 3n, 4n])
  })

  it('upsert = delete + insert at one timestamp keeps only the new row', () => {
    const s = new ShardReplica(0, 'id', 0n)
    s.applyInsert(part(10n, [1n]), 100n, 0n, 0)
    s.applyDelete({ kind: 'delete', shard: 0, pks: BigInt64Array.of(1n) }, 200n, 1n)
    s.applyInsert(part(10n, [1n]), 200n, 1n, 0)
    assert.deepEqual(visible(s, 150n), [1n])
    assert.deepEqual(visible(s, 250n), [1n])
    let rows = 0
    for (const seg of s.readableSegments()) for (const c of seg.chunks) rows += c.visibility(250n).count()
    assert.equal(rows, 1)
  })

  it('seals a full segment and never grows a segment a flush has sealed', () => {
    const s = new ShardReplica(0, 'id', 0n, 2)
    s.applyInsert(part(0n, [1n, 2n]), 100n, 0n, 0)
    s.applyInsert(part(0n, [3n]), 110n, 1n, 0)
    const [first, second] = [...s.segments.values()]
    assert.equal(first!.state, 'sealed')
    assert.equal(second!.state, 'growing')
    assert.notEqual(first!.id, second!.id)
    const snap = s.beginFlush(2n)
    assert.deepEqual(snap.segments.map((x) => x.id), [first!.id, second!.id])
    // A message applied while the flush writes files lands in a new segment, not a sealed one.
    s.applyInsert(part(0n, [4n]), 120n, 2n, 0)
    assert.equal(second!.numRows, 1)
    s.completeFlush(snap)
    assert.equal(s.checkpoint, 2n)
    assert.equal(s.firstUnflushedOffset, 2n)
    const next = s.beginFlush(3n)
    assert.deepEqual(next.segments.map((x) => x.numRows), [1])
  })

  it('applies known deletes to a segment loaded later', () => {
    const s = new ShardReplica(0, 'id', 0n)
    s.applyInsert(part(0n, [1n, 7n]), 100n, 0n, 0)
    const seg = [...s.segments.values()][0]!
    const other = new ShardReplica(0, 'id', 0n)
    other.applyPersistedDeletes({ pks: BigInt64Array.of(7n), ts: 500n })
    seg.state = 'flushed'
    other.addLoadedSegment(seg)
    assert.deepEqual(visible(other, 450n), [1n, 7n])
    assert.deepEqual(visible(other, 500n), [1n])
  })

  it('merging a flushed segment into one chunk keeps deletes and lets later deletes find the rows', () => {
    const s = new ShardReplica(0, 'id', 0n)
    s.applyInsert(part(0n, [1n, 2n]), 100n, 0n, 0)
    s.applyInsert(part(0n, [3n, 2n]), 110n, 1n, 0)
    s.applyDelete({ kind: 'delete', shard: 0, pks: BigInt64Array.of(1n) }, 120n, 2n)
    const seg = [...s.segments.values()][0]!
    const merged = new RowChunk(
      new Map<string, Column>([['id', { type: 'Int64', data: BigInt64Array.of(1n, 2n, 3n, 2n) }]]),
      4,
      BigInt64Array.of(1n, 2n, 3n, 2n),
      BigInt64Array.of(100n, 100n, 110n, 110n),
    )
    s.replaceChunks(seg, merged)
    assert.equal(seg.chunks.length, 1)
    assert.deepEqual(visible(s, 130n), [2n, 2n, 3n])
    s.applyDelete({ kind: 'delete', shard: 0, pks: BigInt64Array.of(2n) }, 140n, 3n)
    assert.deepEqual(visible(s, 150n), [3n])
    assert.deepEqual(visible(s, 115n), [1n, 2n, 2n, 3n])
  })

  it('an aborted flush keeps deletes and the unflushed range for the retry', () => {
    const s = new ShardReplica(0, 'id', 0n)
    s.applyInsert(part(10n, [1n]), 100n, 5n, 0)
    s.applyDelete({ kind: 'delete', shard: 0, pks: BigInt64Array.of(1n) }, 200n, 6n)
    const snap = s.beginFlush(7n)
    s.abortFlush(snap)
    assert.equal(s.firstUnflushedOffset, 5n)
    assert.equal(s.unflushedDeletes.length, 1)
    assert.deepEqual([...s.segments.values()].map((x) => x.state), ['sealed'])
  })
})
