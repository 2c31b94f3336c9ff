/**
 * The WAL conformance suite: every provider (memory, file, later NATS JetStream / Kafka) runs it
 * through `describeWal` from its colocated test.
 */
import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import type { Wal, WalEntry, WalProvider } from '../../src/infra/wal/wal.js'
import { failsWith, rejectsWith, instanceRunner, type AdapterFactory } from './harness.js'

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s)
const text = (b: Uint8Array): string => new TextDecoder().decode(b)

async function readAll(wal: Wal, from = 0n): Promise<Array<[bigint, string]>> {
  const out: Array<[bigint, string]> = []
  for await (const e of wal.read(from)) out.push([e.offset, text(e.payload)])
  return out
}

async function appendAll(wal: Wal, payloads: readonly string[]): Promise<bigint[]> {
  const out: bigint[] = []
  for (const p of payloads) out.push(await wal.append(bytes(p)))
  return out
}

export function describeWal(name: string, factory: AdapterFactory<WalProvider>): void {
  const withProvider = instanceRunner(factory)

  describe(`WAL conformance: ${name}`, () => {
    after(() => factory.cleanup?.())

    describe('followers (openReader)', () => {
      it('follows existing and new entries without fencing the owner; tail is the read index', () =>
        withProvider(async (p) => {
          if (!p.openReader) return assert.fail(`${name} has no openReader`)
          const wal = await p.open('f')
          await appendAll(wal, ['a', 'b'])
          const reader = await p.openReader('f')
          assert.equal(reader.channel, 'f')
          assert.equal(await reader.tail(), 2n)
          const ac = new AbortController()
          const seen: Array<[bigint, string]> = []
          const done = (async () => {
            for await (const e of reader.follow(1n, ac.signal)) {
              seen.push([e.offset, text(e.payload)])
              if (seen.length === 3) ac.abort()
            }
          })()
          // Appended after the follower started: it must still see them, and the owner keeps writing.
          assert.deepEqual(await appendAll(wal, ['c', 'd']), [2n, 3n])
          await done
          assert.deepEqual(seen, [
            [1n, 'b'],
            [2n, 'c'],
            [3n, 'd'],
          ])
          assert.equal(await reader.tail(), 4n)
          assert.equal(await wal.append(bytes('e')), 4n)
        }))

      it('a follow aborted while idle ends without an error', () =>
        withProvider(async (p) => {
          if (!p.openReader) return assert.fail(`${name} has no openReader`)
          const reader = await p.openReader('idle')
          assert.equal(await reader.tail(), 0n)
          const ac = new AbortController()
          setTimeout(() => ac.abort(), 50)
          const got: WalEntry[] = []
          for await (const e of reader.follow(0n, ac.signal)) got.push(e)
          assert.deepEqual(got, [])
        }))
    })

    describe('append / read', () => {
      it('assigns consecutive offsets from 0 and reads them back in order', () =>
        withProvider(async (p) => {
          const wal = await p.open('dml_0')
          assert.equal(wal.channel, 'dml_0')
          assert.equal(wal.nextOffset(), 0n)
          assert.deepEqual(await appendAll(wal, ['a', 'b', 'c']), [0n, 1n, 2n])
          assert.deepEqual(await wal.appendBatch([bytes('d'), bytes('e')]), [3n, 4n])
          assert.deepEqual(await wal.appendBatch([]), [])
          assert.equal(wal.nextOffset(), 5n)
          assert.deepEqual(await readAll(wal), [
            [0n, 'a'],
            [1n, 'b'],
            [2n, 'c'],
            [3n, 'd'],
            [4n, 'e'],
          ])
        }))

      it('reads from the middle, and nothing from the end onwards', () =>
        withProvider(async (p) => {
          const wal = await p.open('c')
          await appendAll(wal, ['0', '1', '2', '3', '4', '5'])
          assert.deepEqual(await readAll(wal, 4n), [
            [4n, '4'],
            [5n, '5'],
          ])
          assert.deepEqual(await readAll(wal, 6n), [])
          assert.deepEqual(await readAll(wal, 100n), [])
        }))

      it('read stops at the end as of the call', () =>
        withProvider(async (p) => {
          const wal = await p.open('c')
          await appendAll(wal, ['0', '1'])
          const it = wal.read(0n)
          await wal.append(bytes('late'))
          const seen: WalEntry[] = []
          for await (const e of it) seen.push(e)
          assert.deepEqual(
            seen.map((e) => e.offset),
            [0n, 1n],
          )
        }))

      it('keeps binary payloads exact, the empty one included, and copies them', () =>
        withProvider(async (p) => {
          const wal = await p.open('c')
          const all = Uint8Array.from({ length: 256 }, (_, i) => i)
          const big = new Uint8Array(1 << 20).map((_, i) => i % 251)
          const mine = bytes('mutable')
          await wal.appendBatch([all, new Uint8Array(0), big, mine])
          mine[0] = 0x4d
          const got: WalEntry[] = []
          for await (const e of wal.read(0n)) got.push(e)
          assert.deepEqual(got[0]!.payload, all)
          assert.equal(got[1]!.payload.length, 0)
          assert.deepEqual(got[2]!.payload, big)
          assert.equal(text(got[3]!.payload), 'mutable')
        }))

      it('gives concurrent appenders distinct offsets matching their payloads', () =>
        withProvider(async (p) => {
          const wal = await p.open('c')
          const offsets = await Promise.all(
            Array.from({ length: 100 }, (_, i) => wal.append(bytes(`m${i}`))),
          )
          assert.deepEqual(
            [...offsets].sort((a, b) => Number(a - b)),
            Array.from({ length: 100 }, (_, i) => BigInt(i)),
          )
          const byOffset = new Map(await readAll(wal))
          offsets.forEach((off, i) => assert.equal(byOffset.get(off), `m${i}`))
        }))

      it('keeps channels independent', () =>
        withProvider(async (p) => {
          const a = await p.open('a')
          const b = await p.open('b')
          await appendAll(a, ['a0', 'a1'])
          assert.deepEqual(await appendAll(b, ['b0']), [0n])
          assert.deepEqual(await readAll(b), [[0n, 'b0']])
        }))

      it('rejects bad channel names', () =>
        withProvider(async (p) => {
          for (const name of ['', '..', 'a/b', 'a b', 'x'.repeat(201)])
            await rejectsWith(p.open(name), 'ParameterInvalid')
        }))
    })

    describe('truncate', () => {
      it('drops a prefix but never reuses offsets', () =>
        withProvider(async (p) => {
          const wal = await p.open('c')
          await appendAll(wal, ['0', '1', '2', '3', '4'])
          await wal.truncate(3n)
          const left = await readAll(wal)
          // Adapters may keep some entries below the cut, but what is kept is a contiguous suffix.
          assert.deepEqual(left.slice(-2), [
            [3n, '3'],
            [4n, '4'],
          ])
          left.forEach(([off], i) => assert.equal(off, left[0]![0] + BigInt(i)))
          assert.equal(wal.nextOffset(), 5n)
          assert.equal(await wal.append(bytes('5')), 5n)
          await wal.truncate(100n)
          assert.equal(await wal.append(bytes('6')), 6n)
          assert.deepEqual(
            (await readAll(wal, 6n)).map(([o]) => o),
            [6n],
          )
        }))
    })

    describe('fencing', () => {
      it('a higher term fences the older instance; reads stay allowed', () =>
        withProvider(async (p) => {
          const old = await p.open('c')
          await old.append(bytes('by-old'))
          const next = await p.open('c')
          assert.ok(next.term > old.term)
          await rejectsWith(old.append(bytes('x')), 'ChannelFenced')
          await rejectsWith(old.appendBatch([bytes('x')]), 'ChannelFenced')
          await rejectsWith(old.truncate(1n), 'ChannelFenced')
          assert.equal(await next.append(bytes('by-new')), 1n)
          assert.deepEqual(await readAll(old), [
            [0n, 'by-old'],
            [1n, 'by-new'],
          ])
        }))

      it('appends issued before the fence are in the log the new owner sees', () =>
        withProvider(async (p) => {
          const old = await p.open('c')
          const inFlight = Promise.all([old.append(bytes('x')), old.append(bytes('y'))])
          const next = await p.open('c')
          assert.deepEqual(await inFlight, [0n, 1n])
          assert.deepEqual(await readAll(next), [
            [0n, 'x'],
            [1n, 'y'],
          ])
          assert.equal(next.nextOffset(), 2n)
        }))

      it('rejects a lower term, and the current term while it is open', () =>
        withProvider(async (p) => {
          const w = await p.open('c', { term: 5 })
          assert.equal(w.term, 5)
          await rejectsWith(p.open('c', { term: 4 }), 'ChannelFenced')
          await rejectsWith(p.open('c', { term: 5 }), 'ChannelFenced')
          const w2 = await p.open('c')
          assert.equal(w2.term, 6)
          await rejectsWith(w.append(bytes('x')), 'ChannelFenced')
          await rejectsWith(p.open('c', { term: 0 }), 'ParameterInvalid')
        }))

      it('terms are per channel', () =>
        withProvider(async (p) => {
          await p.open('a', { term: 9 })
          assert.equal((await p.open('b')).term, 1)
        }))
    })

    describe('close', () => {
      it('a closed instance rejects appends; the channel can be reopened', () =>
        withProvider(async (p) => {
          const w = await p.open('c')
          await w.append(bytes('0'))
          await w.close()
          await w.close()
          await rejectsWith(w.append(bytes('x')), 'ServiceInternal')
          const again = await p.open('c')
          assert.equal(await again.append(bytes('1')), 1n)
        }))

      it('closing the provider closes its instances', async () => {
        const p = await factory.open()
        const w = await p.open('c')
        await p.close()
        await p.close()
        await rejectsWith(w.append(bytes('x')), 'ServiceInternal')
        await failsWith(() => w.read(0n), 'ServiceInternal')
        await rejectsWith(p.open('c'), 'ServiceInternal')
      })
    })

    const reopen = factory.reopen?.bind(factory)
    if (reopen) {
      describe('persistence (reopen)', () => {
        it('keeps entries and continues offsets', () =>
          withProvider(async (p, swap) => {
            const w = await p.open('c')
            await appendAll(w, ['0', '1', '2'])
            const p2 = await reopen(p)
            swap(p2)
            const w2 = await p2.open('c')
            assert.equal(w2.nextOffset(), 3n)
            assert.deepEqual(await readAll(w2, 1n), [
              [1n, '1'],
              [2n, '2'],
            ])
            assert.equal(await w2.append(bytes('3')), 3n)
          }))

        it('never reuses offsets after truncating everything and reopening', () =>
          withProvider(async (p, swap) => {
            const w = await p.open('c')
            await appendAll(w, ['0', '1', '2', '3'])
            await w.truncate(4n)
            const p2 = await reopen(p)
            swap(p2)
            const w2 = await p2.open('c')
            assert.equal(w2.nextOffset(), 4n)
            assert.equal(await w2.append(bytes('4')), 4n)
            for (const [off] of await readAll(w2)) assert.ok(off <= 4n)
          }))

        it('remembers the highest term', () =>
          withProvider(async (p, swap) => {
            await p.open('c', { term: 7 })
            const p2 = await reopen(p)
            swap(p2)
            await rejectsWith(p2.open('c', { term: 6 }), 'ChannelFenced')
            assert.equal((await p2.open('c')).term, 8)
          }))
      })
    }
  })
}
