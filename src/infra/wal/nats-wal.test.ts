import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { connect } from 'nats'
import { isDbError } from '../../common/errors.js'
import { rejectsWith } from '../../../tests/conformance/harness.js'
import {
  clusterSkipReason,
  freePort,
  startNats,
  type RestartableServer,
} from '../../../tests/conformance/servers.js'
import { describeWal } from '../../../tests/conformance/wal.suite.js'
import { openWalProvider } from '../index.js'
import { channelToken, NatsWalProvider, parseNatsUrl } from './nats-wal.js'
import type { Wal, WalProvider } from './wal.js'

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s)
const text = (b: Uint8Array): string => new TextDecoder().decode(b)

async function readAll(wal: Wal, from = 0n): Promise<Array<[bigint, string]>> {
  const out: Array<[bigint, string]> = []
  for await (const e of wal.read(from)) out.push([e.offset, text(e.payload)])
  return out
}

describe('NatsWalProvider on a real nats-server', { skip: clusterSkipReason('nats') }, () => {
  let server: RestartableServer | undefined
  before(async () => {
    server = await startNats()
  })
  after(() => server?.stop())

  const freshPrefix = (): string => `harrier-test-${randomBytes(6).toString('hex')}`
  const natsUrl = (prefix: string): string => `${server!.url}/${prefix}`
  /** A provider as another process would have it: its own connection, same prefix. */
  const openAt = (prefix: string): Promise<NatsWalProvider> =>
    NatsWalProvider.open({ ...parseNatsUrl(natsUrl(prefix)), reconnectWaitMs: 100 })
  const prefixes = new WeakMap<WalProvider, string>()

  // Every provider gets its own prefix (streams and term bucket), so tests see empty channels.
  describeWal('NatsWalProvider', {
    async open() {
      const prefix = freshPrefix()
      const p = await openWalProvider(natsUrl(prefix))
      prefixes.set(p, prefix)
      return p
    },
    async reopen(p) {
      const prefix = prefixes.get(p)!
      await p.close()
      const p2 = await openWalProvider(natsUrl(prefix))
      prefixes.set(p2, prefix)
      return p2
    },
  })

  describe('NATS specifics', () => {
    it('an open in another process fences the old owner in the broker; the new owner continues', async () => {
      const prefix = freshPrefix()
      const [a, b] = [await openAt(prefix), await openAt(prefix)]
      try {
        const old = await a.open('dml_0')
        assert.equal(old.term, 1)
        assert.deepEqual(await old.appendBatch([bytes('a0'), bytes('a1')]), [0n, 1n])
        const next = await b.open('dml_0')
        assert.equal(next.term, 2)
        assert.equal(next.nextOffset(), 2n)
        // `a` knows nothing of `b`: the broker refuses the write, and the term tells why.
        await rejectsWith(old.append(bytes('stale')), 'ChannelFenced', /fenced by term 2/)
        await rejectsWith(old.truncate(1n), 'ChannelFenced')
        assert.equal(await next.append(bytes('b2')), 2n)
        assert.deepEqual(await readAll(next), [
          [0n, 'a0'],
          [1n, 'a1'],
          [2n, 'b2'],
        ])
        // The term is shared through the KV bucket: `a` cannot take the channel back with an old term.
        await rejectsWith(a.open('dml_0', { term: 1 }), 'ChannelFenced', /below the highest term 2/)
        const again = await a.open('dml_0')
        assert.equal(again.term, 3)
        assert.equal(again.nextOffset(), 3n)
        await rejectsWith(next.append(bytes('x')), 'ChannelFenced')
      } finally {
        await Promise.all([a.close(), b.close()])
      }
    })

    it('a stale writer racing the fence: each append either landed before the new owner opened or was fenced', async (t) => {
      const prefix = freshPrefix()
      const [a, b] = [await openAt(prefix), await openAt(prefix)]
      try {
        const old = await a.open('c')
        await old.append(bytes('first'))
        // The old owner keeps appending, in pipelined waves, while the new one opens.
        let opened = false
        const opening = b.open('c').finally(() => {
          opened = true
        })
        const results: Array<PromiseSettledResult<bigint>> = []
        // Waves until the open completes, then two more (which must all be fenced).
        for (let extra = 0; !opened || extra++ < 2; ) {
          const calls = Array.from({ length: 20 }, (_, i) => old.append(bytes(`m${results.length + i}`)))
          results.push(...(await Promise.allSettled(calls)))
          // Fenced appends reject without I/O: let the open's replies in.
          await new Promise((resolve) => setImmediate(resolve))
        }
        const next = await opening
        const landed = results.filter((r) => r.status === 'fulfilled').length
        for (const r of results) {
          if (r.status === 'rejected')
            assert.ok(isDbError(r.reason, 'ChannelFenced'), `unexpected ${String(r.reason)}`)
        }
        assert.ok(landed < results.length, 'the old owner was fenced')
        // What landed is exactly a prefix of the calls, all before the new owner's first offset.
        results.forEach((r, i) => {
          if (r.status === 'fulfilled') assert.equal(r.value, BigInt(i + 1))
          else assert.ok(i >= landed)
        })
        assert.equal(next.nextOffset(), BigInt(landed + 1))
        assert.equal(await next.append(bytes('new owner')), BigInt(landed + 1))
        const log = await readAll(next)
        assert.equal(log.length, landed + 2)
        assert.deepEqual(log.at(-1), [BigInt(landed + 1), 'new owner'])
        t.diagnostic(
          `${landed} of ${results.length} stale appends landed before the fence, the rest were fenced`,
        )
      } finally {
        await Promise.all([a.close(), b.close()])
      }
    })

    it('a retried publish (same msg id) is acknowledged, not stored twice', async () => {
      const prefix = freshPrefix()
      const p = await openAt(prefix)
      const nc = await connect({ servers: parseNatsUrl(server!.url).servers })
      try {
        const w = await p.open('c')
        assert.equal(await w.append(bytes('once')), 0n)
        // Resend exactly what the WAL sent for offset 0 (sequence 1), as its retry after a timeout does.
        const token = channelToken('c')
        const ack = await nc
          .jetstream()
          .publish(`${prefix}.${token}.${w.term}`, bytes('once'), {
            msgID: `${token}.${w.term}.1`,
            expect: { lastSequence: 0 },
          })
        assert.deepEqual([ack.seq, ack.duplicate], [1, true])
        assert.equal(await w.append(bytes('next')), 1n)
        assert.deepEqual(await readAll(w), [
          [0n, 'once'],
          [1n, 'next'],
        ])
      } finally {
        await nc.close()
        await p.close()
      }
    })

    it('acked entries and terms survive a nats-server crash; an open provider reconnects', async () => {
      const prefix = freshPrefix()
      const p = await openAt(prefix)
      let p2: NatsWalProvider | undefined
      try {
        const w = await p.open('dml_1')
        const offsets = await w.appendBatch(Array.from({ length: 50 }, (_, i) => bytes(`e${i}`)))
        assert.equal(offsets.at(-1), 49n)
        await w.truncate(10n)
        await server!.restart({ crash: true })
        // The same provider, connected before the crash, writes on after reconnecting.
        assert.equal(await w.append(bytes('after restart')), 50n)
        // A new process sees everything acked, and the term moved on.
        p2 = await openAt(prefix)
        const w2 = await p2.open('dml_1')
        assert.equal(w2.term, 2)
        assert.equal(w2.nextOffset(), 51n)
        const log = await readAll(w2)
        assert.deepEqual(log[0], [10n, 'e10'])
        assert.deepEqual(log.at(-1), [50n, 'after restart'])
        assert.equal(log.length, 41)
        await rejectsWith(w.append(bytes('stale')), 'ChannelFenced')
      } finally {
        await Promise.all([p.close(), p2?.close()])
      }
    })

    it('rejects an entry above the server max_payload with ParameterTooLarge', async () => {
      const p = await openAt(freshPrefix())
      try {
        const w = await p.open('c')
        await rejectsWith(w.append(new Uint8Array(p.maxPayload)), 'ParameterTooLarge')
        // Nothing was issued, so the channel is still usable.
        assert.equal(await w.append(bytes('ok')), 0n)
      } finally {
        await p.close()
      }
    })

    it('reports an unreachable server as ServiceUnavailable', async () => {
      const port = await freePort()
      await rejectsWith(
        NatsWalProvider.open({ servers: [`127.0.0.1:${port}`], timeoutMs: 1000 }),
        'ServiceUnavailable',
      )
    })

    it('measures append ack latency and pipelined throughput', async (t) => {
      const p = await openAt(freshPrefix())
      try {
        const w = await p.open('c')
        const entry = new Uint8Array(1024).fill(7)
        await w.append(entry)
        const ms: number[] = []
        for (let i = 0; i < 300; i++) {
          const t0 = performance.now()
          await w.append(entry)
          ms.push(performance.now() - t0)
        }
        ms.sort((x, y) => x - y)
        const t0 = performance.now()
        await w.appendBatch(Array.from({ length: 5000 }, () => entry))
        const batchMs = performance.now() - t0
        const r0 = performance.now()
        let n = 0
        for await (const _ of w.read(0n)) n++
        const readMs = performance.now() - r0
        assert.equal(n, 5301)
        t.diagnostic(
          `NATS append (1 KiB) ack p50 ${ms[150]!.toFixed(2)} ms p99 ${ms[297]!.toFixed(2)} ms; ` +
            `appendBatch 5000 × 1 KiB ${batchMs.toFixed(0)} ms (${Math.round((5000 / batchMs) * 1000)}/s); ` +
            `read 5301 entries ${readMs.toFixed(0)} ms`,
        )
      } finally {
        await p.close()
      }
    })
  })
})
