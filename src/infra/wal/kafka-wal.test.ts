import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { after, describe, it } from 'node:test'
import fc from 'fast-check'
import kafkajs, { type Admin, type Kafka, type SASLOptions } from 'kafkajs'
import { DbError, isDbError } from '../../common/errors.js'
import { CaptureLogger, rejectsWith, sleep } from '../../../tests/conformance/harness.js'
import { freePort } from '../../../tests/conformance/servers.js'
import { describeWal } from '../../../tests/conformance/wal.suite.js'
import { openWalProvider } from '../index.js'
import {
  decodeRecordKey,
  encodeRecordKey,
  kafkaChannelToken,
  kafkaErrorKind,
  kafkaTopic,
  KafkaWalProvider,
  OffsetIndex,
  parseKafkaUrl,
  wrapKafka,
} from './kafka-wal.js'
import type { Wal, WalProvider } from './wal.js'

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s)
const text = (b: Uint8Array): string => new TextDecoder().decode(b)

async function readAll(wal: Wal, from = 0n): Promise<Array<[bigint, string]>> {
  const out: Array<[bigint, string]> = []
  for await (const e of wal.read(from)) out.push([e.offset, text(e.payload)])
  return out
}

/** A kafkajs protocol error as the client builds it from a broker's error code. */
function protocolError(type: string, code: number, message = type): Error {
  return new kafkajs.KafkaJSProtocolError(Object.assign(new Error(message), { type, code, retriable: false }))
}

describe('Kafka WAL: URL, names, record keys, offset index, errors (no broker needed)', () => {
  it('parses the url: hosts, prefix, topic settings, TLS and SASL', () => {
    assert.deepEqual(parseKafkaUrl('kafka://10.0.0.1:9092,10.0.0.2:9092/by-dev?replicas=3&fsync=true'), {
      brokers: ['10.0.0.1:9092', '10.0.0.2:9092'],
      prefix: 'by-dev',
      replicas: 3,
      minInsyncReplicas: 2,
      fsync: true,
      maxMessageBytes: 8 << 20,
      tls: false,
    })
    const d = parseKafkaUrl('kafka://[::1]:9092')
    assert.deepEqual([d.brokers, d.prefix, d.replicas, d.minInsyncReplicas, d.fsync], [['[::1]:9092'], 'harrier', 1, 1, false])
    assert.equal(parseKafkaUrl('kafka://h:9092/p?replicas=5').minInsyncReplicas, 3)
    assert.equal(parseKafkaUrl('kafka://h:9092/p?replicas=3&minInsync=3').minInsyncReplicas, 3)
    assert.equal(parseKafkaUrl('kafka://h:9092/p?maxMessageBytes=1048576').maxMessageBytes, 1 << 20)
    const s = parseKafkaUrl('kafka://svc%40acme:p%3Ass%2Fw@b1:9093/p?tls=true&sasl=scram-sha-512')
    assert.equal(s.tls, true)
    assert.deepEqual(s.sasl, { mechanism: 'scram-sha-512', username: 'svc@acme', password: 'p:ss/w' })
  })

  it('rejects malformed urls with ParameterInvalid, never echoing the password', () => {
    const bad = [
      'kafka://',
      'kafka://host-without-port/p',
      'kafka://h:9092/bad_prefix',
      'kafka://h:9092/a.b',
      'kafka://h:9092/p?colour=red',
      'kafka://h:9092/p?replicas=0',
      'kafka://h:9092/p?replicas=3&minInsync=4',
      'kafka://h:9092/p?fsync=maybe',
      'kafka://h:9092/p?maxMessageBytes=100',
      'kafka://h:9092/p?sasl=gssapi',
      'kafka://h:9092/p?sasl=plain',
      'kafka://u:secret-pw@h:9092/p',
      'kafka://:secret-pw@h:9092/p?sasl=plain',
      'nats://h:4222',
    ]
    for (const url of bad) {
      assert.throws(
        () => parseKafkaUrl(url),
        (e: unknown) => {
          assert.ok(isDbError(e, 'ParameterInvalid'), `${url}: ${String(e)}`)
          assert.doesNotMatch(e.message, /secret-pw/)
          return true
        },
      )
    }
  })

  it('the factory parses kafka:// before connecting', async () => {
    await rejectsWith(openWalProvider('kafka://h:9092/bad_prefix'), 'ParameterInvalid')
    await rejectsWith(openWalProvider('kafka://h:9092/p?colour=red'), 'ParameterInvalid')
  })

  it('topic names are legal for Kafka and never collide, not even with . read as _', () => {
    const legal = /^[A-Za-z0-9._-]{1,249}$/
    const samples = ['a_b', 'a.b', 'a__b', 'a_db', 'a_d', 'a.', '_', '.a', 'by-dev-dml_0_v1', 'x'.repeat(200), '.'.repeat(200)]
    const seen = new Map<string, string>()
    for (const c of samples) {
      const topic = kafkaTopic('harrier', c)
      assert.match(topic, legal)
      const metric = topic.replace(/\./g, '_')
      assert.equal(seen.get(metric), undefined, `${c} collides with ${seen.get(metric)}`)
      seen.set(metric, c)
    }
    assert.equal(kafkaChannelToken('by-dev-dml_0'), 'by-dev-dml__0')
    assert.match(kafkaChannelToken('.'.repeat(100)), /^_h[0-9a-f]{40}$/)
    const channel = fc.stringMatching(/^[A-Za-z0-9_.-]{1,200}$/)
    fc.assert(
      fc.property(channel, channel, (a, b) => {
        fc.pre(a !== b)
        const [ta, tb] = [kafkaTopic('p', a), kafkaTopic('p', b)]
        return legal.test(ta) && ta.replace(/\./g, '_') !== tb.replace(/\./g, '_')
      }),
    )
  })

  it('record keys round-trip, and anything else is not a Harrier record', () => {
    const e = { kind: 'entry', term: 7, offset: 123456789012345n } as const
    const m = { kind: 'mark', term: Number.MAX_SAFE_INTEGER, offset: 0n } as const
    assert.deepEqual(decodeRecordKey(encodeRecordKey(e)), e)
    assert.deepEqual(decodeRecordKey(encodeRecordKey(m)), m)
    // A slice of a larger buffer, as kafkajs hands keys out.
    const inside = Buffer.concat([Buffer.from('xx'), encodeRecordKey(e), Buffer.from('yy')]).subarray(2, 19)
    assert.deepEqual(decodeRecordKey(inside), e)
    assert.equal(decodeRecordKey(null), undefined)
    assert.equal(decodeRecordKey(Buffer.from('some-user-key')), undefined)
    const wrongKind = encodeRecordKey(e)
    wrongKind[0] = 0x58
    assert.equal(decodeRecordKey(wrongKind), undefined)
    const hugeTerm = encodeRecordKey(e)
    hugeTerm.writeBigUInt64BE(1n << 60n, 1)
    assert.equal(decodeRecordKey(hugeTerm), undefined)
  })

  it('the offset index gives a Kafka offset at or before every entry, exact at batch starts', () => {
    // A log as the adapter writes it: transactions of record batches, each ending in a commit
    // marker, some aborted (their records and marker take offsets but hold no entry), some marks.
    const txs = fc.array(
      fc.record({
        batches: fc.array(fc.integer({ min: 1, max: 6 }), { minLength: 1, maxLength: 3 }),
        aborted: fc.boolean(),
        mark: fc.boolean(),
      }),
      { minLength: 1, maxLength: 60 },
    )
    fc.assert(
      fc.property(txs, (log) => {
        const index = new OffsetIndex()
        const at = new Map<bigint, bigint>()
        const batchStarts: bigint[] = []
        let kafka = 0n
        let wal = 0n
        for (const tx of log) {
          if (tx.mark && !tx.aborted) index.add(wal, kafka + 1n)
          if (tx.mark) kafka += 1n
          for (const n of tx.batches) {
            if (!tx.aborted) {
              index.add(wal, kafka)
              batchStarts.push(wal)
              for (let i = 0n; i < BigInt(n); i++) at.set(wal + i, kafka + i)
              wal += BigInt(n)
            }
            kafka += BigInt(n)
          }
          kafka += 1n // the commit or abort marker
        }
        for (const [w, k] of at) assert.ok(index.lowerBound(w) <= k, `entry ${w} at ${k}, bound ${index.lowerBound(w)}`)
        for (const w of batchStarts) assert.equal(index.lowerBound(w), at.get(w))
        // Past the last entry: still a valid bound for the next one.
        assert.ok(index.lowerBound(wal) <= kafka)
      }),
    )
  })

  it('the offset index stays a lower bound when thinned', () => {
    const index = new OffsetIndex()
    const at: bigint[] = []
    let kafka = 5n
    for (let w = 0n; w < 20_000n; w++) {
      at.push(kafka)
      index.add(w, kafka)
      kafka += w % 7n === 0n ? 3n : 2n // a marker after every entry, sometimes an aborted record too
    }
    assert.ok(index.size <= 4096)
    for (let w = 0; w < at.length; w += 37) assert.ok(index.lowerBound(BigInt(w)) <= at[w]!)
    assert.equal(index.lowerBound(19_999n), at[19_999])
    // Below the first pair, only Kafka offset >= WAL offset is known.
    assert.equal(new OffsetIndex().lowerBound(42n), 42n)
  })

  it('maps kafkajs errors onto DbError kinds, keeping the original as cause', () => {
    const epoch = protocolError('INVALID_PRODUCER_EPOCH', 47)
    assert.equal(kafkaErrorKind(epoch), 'ChannelFenced')
    // kafkajs 2.2.4 does not know PRODUCER_FENCED (90) by name.
    assert.equal(kafkaErrorKind(protocolError('KAFKAJS_UNKNOWN_ERROR_CODE', -99, 'Unknown error code 90')), 'ChannelFenced')
    assert.equal(kafkaErrorKind(protocolError('KAFKAJS_UNKNOWN_ERROR_CODE', -99, 'Unknown error code 91')), 'IoFailed')
    // Retries exhausted around a fence: still a fence.
    const exhausted = new kafkajs.KafkaJSNumberOfRetriesExceeded(epoch, { retryCount: 5, retryTime: 100 })
    assert.equal(kafkaErrorKind(exhausted), 'ChannelFenced')
    assert.equal(kafkaErrorKind(protocolError('MESSAGE_TOO_LARGE', 10)), 'ParameterTooLarge')
    assert.equal(kafkaErrorKind(protocolError('SASL_AUTHENTICATION_FAILED', 58)), 'ServiceInternal')
    assert.equal(kafkaErrorKind(protocolError('NOT_ENOUGH_REPLICAS', 19)), 'ServiceUnavailable')
    assert.equal(kafkaErrorKind(new kafkajs.KafkaJSConnectionError('Connection error: ECONNREFUSED')), 'ServiceUnavailable')
    assert.equal(
      kafkaErrorKind(new kafkajs.KafkaJSNumberOfRetriesExceeded(new kafkajs.KafkaJSConnectionError('refused'), { retryCount: 5, retryTime: 1 })),
      'ServiceUnavailable',
    )
    const createFailed = new kafkajs.KafkaJSAggregateError('Topic creation errors', [
      protocolError('INVALID_REPLICATION_FACTOR', 38),
    ])
    assert.equal(kafkaErrorKind(createFailed), 'ParameterInvalid')
    assert.equal(kafkaErrorKind(new Error('boom')), 'IoFailed')
    const wrapped = wrapKafka(epoch, 'append to WAL channel c')
    assert.ok(isDbError(wrapped, 'ChannelFenced'))
    assert.equal(wrapped.cause, epoch)
    assert.match(wrapped.message, /^append to WAL channel c: /)
    const mine = new DbError('DataCorrupted', 'x')
    assert.equal(wrapKafka(mine, 'y'), mine)
  })

  it('reports an unreachable broker as ServiceUnavailable, logging kafkajs through our logger', async () => {
    const port = await freePort()
    const log = new CaptureLogger()
    await rejectsWith(
      KafkaWalProvider.open({ brokers: [`127.0.0.1:${port}`], retries: 1, connectTimeoutMs: 500, log }),
      'ServiceUnavailable',
      new RegExp(`cannot reach Kafka at 127\\.0\\.0\\.1:${port}`),
    )
    assert.ok(
      log.lines.some((l) => typeof l.obj.kafkajs === 'string'),
      'kafkajs log lines reach the Logger',
    )
  })

  it('loading the factories does not load kafkajs', () => {
    const index = new URL('../index.js', import.meta.url).href
    const script = `
      import { createRequire } from 'node:module'
      await import(${JSON.stringify(index)})
      const loaded = Object.keys(createRequire(import.meta.url).cache)
      console.log(JSON.stringify(loaded.filter((p) => /node_modules\\/kafkajs\\//.test(p))))`
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' })
    assert.deepEqual(JSON.parse(out), [])
  })
})

// ---- an in-memory model of a Kafka broker ------------------------------------------------------

/**
 * The kafkajs calls the adapter makes, answered by a model of one single-broker Kafka cluster
 * with the semantics the adapter relies on: producer epochs per transactional id (InitProducerId
 * aborts or completes the previous owner's transaction and fences it), commit markers written a
 * little after EndTxn answers, the last stable offset, read_committed fetches that skip markers and
 * aborted records, deleteRecords, and consumers that join, seek and fetch in small batches. It
 * checks the adapter's own logic (offsets, terms, tail recovery, index, truncation, followers) on
 * every run; it is not Kafka, and the KAFKA_URL runs below remain the real test.
 */
class FakeKafka {
  readonly topics = new Map<string, FakeTopic>()
  readonly txnIds = new Map<string, { pid: number; epoch: number; current?: FakeTxn }>()
  #nextPid = 1
  /** Records per fetch, kept small so reads cross many batches. */
  readonly fetchRecords = 7
  /** How long after EndTxn the commit markers land. */
  readonly markerDelayMs = 3

  client(): Kafka {
    return {
      admin: () => this.#admin(),
      producer: (cfg?: { transactionalId?: string }) => this.#producer(cfg?.transactionalId),
      consumer: () => this.#consumer(),
      logger: () => undefined,
    } as unknown as Kafka
  }

  topic(name: string): FakeTopic {
    const t = this.topics.get(name)
    if (!t) throw protocolError('UNKNOWN_TOPIC_OR_PARTITION', 3)
    return t
  }

  #admin(): unknown {
    return {
      connect: async () => undefined,
      disconnect: async () => undefined,
      createTopics: async ({ topics }: { topics: Array<{ topic: string; numPartitions: number; configEntries: Array<{ name: string; value: string }> }> }) => {
        let created = false
        for (const t of topics) {
          if (this.topics.has(t.topic)) continue
          assert.equal(t.numPartitions, 1)
          const config = new Map([['max.message.bytes', '1048588'], ['retention.ms', '604800000'], ['retention.bytes', '-1'], ['cleanup.policy', 'delete']])
          for (const e of t.configEntries) config.set(e.name, e.value)
          this.topics.set(t.topic, new FakeTopic(config))
          created = true
        }
        return created
      },
      fetchTopicMetadata: async ({ topics }: { topics: string[] }) => ({
        topics: topics.map((name) => (this.topic(name), { name, partitions: [{ partitionId: 0, leader: 1 }] })),
      }),
      describeConfigs: async ({ resources }: { resources: Array<{ name: string; configNames: string[] }> }) => ({
        resources: resources.map((r) => ({
          configEntries: r.configNames.map((n) => ({ configName: n, configValue: this.topic(r.name).config.get(n) })),
        })),
      }),
      fetchTopicOffsets: async (name: string) => {
        const t = this.topic(name)
        const high = String(t.lso())
        return [{ partition: 0, offset: high, high, low: String(t.logStart) }]
      },
      deleteTopicRecords: async ({ topic, partitions }: { topic: string; partitions: Array<{ offset: string }> }) => {
        const t = this.topic(topic)
        const offset = Number(partitions[0]!.offset)
        if (offset > t.log.length) throw protocolError('OFFSET_OUT_OF_RANGE', 1)
        t.logStart = Math.max(t.logStart, offset)
      },
    }
  }

  async #initProducerId(id: string): Promise<{ pid: number; epoch: number }> {
    let entry = this.txnIds.get(id)
    if (!entry) {
      entry = { pid: this.#nextPid++, epoch: 0 }
      this.txnIds.set(id, entry)
      return { pid: entry.pid, epoch: entry.epoch }
    }
    const cur = entry.current
    if (cur?.state === 'ongoing') this.#endTxn(cur, 'abort') // the crashed or fenced owner's
    while (cur?.state === 'committing') await sleep(1) // CONCURRENT_TRANSACTIONS, retried
    entry.epoch++
    entry.current = undefined
    return { pid: entry.pid, epoch: entry.epoch }
  }

  #checkEpoch(id: string, txn: FakeTxn): void {
    const entry = this.txnIds.get(id)!
    if (entry.epoch !== txn.epoch) throw protocolError('INVALID_PRODUCER_EPOCH', 47)
  }

  #endTxn(txn: FakeTxn, how: 'commit' | 'abort'): void {
    txn.state = how === 'commit' ? 'committed' : 'aborted'
    for (const name of txn.topics) {
      const t = this.topic(name)
      t.log.push({ key: null, value: null, control: true, txn })
      t.ongoing.delete(txn)
    }
  }

  #producer(id: string | undefined): unknown {
    assert.ok(id, 'the adapter only uses transactional producers')
    let pidEpoch: { pid: number; epoch: number } | undefined
    return {
      connect: async () => undefined,
      disconnect: async () => undefined,
      transaction: async () => {
        pidEpoch ??= await this.#initProducerId(id)
        const txn: FakeTxn = { ...pidEpoch, state: 'ongoing', topics: new Set() }
        let ended = false
        const entry = this.txnIds.get(id)!
        return {
          isActive: () => !ended,
          send: async ({ topic, messages, acks }: { topic: string; messages: Array<{ key: Buffer; value: Buffer; partition: number }>; acks: number }) => {
            assert.equal(acks, -1)
            await sleep(0)
            this.#checkEpoch(id, txn)
            const t = this.topic(topic)
            const size = messages.reduce((n, m) => n + m.value.length + m.key.length + 20, 61)
            if (size > Number(t.config.get('max.message.bytes'))) throw protocolError('MESSAGE_TOO_LARGE', 10)
            if (!txn.topics.has(topic)) {
              txn.topics.add(topic)
              t.ongoing.add(txn)
              t.first.set(txn, t.log.length)
              entry.current = txn
            }
            const base = t.log.length
            for (const m of messages) {
              assert.equal(m.partition, 0)
              t.log.push({ key: Buffer.from(m.key), value: Buffer.from(m.value), control: false, txn })
            }
            return [{ topicName: topic, partition: 0, errorCode: 0, baseOffset: String(base) }]
          },
          commit: async () => {
            await sleep(0)
            this.#checkEpoch(id, txn)
            ended = true
            if (txn.topics.size === 0) return
            txn.state = 'committing'
            // Kafka answers EndTxn once the decision is logged; the markers follow.
            setTimeout(() => this.#endTxn(txn, 'commit'), this.markerDelayMs)
          },
          abort: async () => {
            ended = true
            this.#checkEpoch(id, txn)
            if (txn.topics.size > 0) this.#endTxn(txn, 'abort')
          },
        }
      },
    }
  }

  #consumer(): unknown {
    const listeners = new Map<string, Array<(ev: { payload: Record<string, unknown> }) => void>>()
    const emit = (name: string, payload: Record<string, unknown>): void => {
      for (const l of listeners.get(name) ?? []) l({ payload })
    }
    let topicName = ''
    let seekTo: number | undefined
    let running = false
    let loop: Promise<void> | undefined
    const events = {
      GROUP_JOIN: 'consumer.group_join',
      END_BATCH_PROCESS: 'consumer.end_batch_process',
      CRASH: 'consumer.crash',
    }
    type EachBatch = (p: { batch: unknown; isStale(): boolean; heartbeat(): Promise<void> }) => Promise<void>
    const fetchLoop = async (eachBatch: EachBatch): Promise<void> => {
      const t = this.topic(topicName)
      let position = t.logStart // fromBeginning, until the seek applies
      while (running) {
        if (seekTo !== undefined) {
          position = seekTo
          seekTo = undefined
        }
        if (position < t.logStart) position = t.logStart // OFFSET_OUT_OF_RANGE: reset to earliest
        const end = Math.min(t.lso(), position + this.fetchRecords)
        if (position >= end) {
          await sleep(2)
          continue
        }
        const raw = t.log.slice(position, end).map((r, i) => ({ ...r, offset: position + i }))
        const visible = raw.filter((r) => !r.control && r.txn.state === 'committed')
        const lastOffset = String(raw.at(-1)!.offset)
        if (visible.length > 0) {
          const batch = {
            topic: topicName,
            partition: 0,
            messages: visible.map((r) => ({ offset: String(r.offset), key: r.key, value: r.value })),
            lastOffset: () => lastOffset,
          }
          await eachBatch({ batch, isStale: () => seekTo !== undefined, heartbeat: async () => undefined })
        }
        emit(events.END_BATCH_PROCESS, { topic: topicName, partition: 0, lastOffset })
        if (seekTo === undefined) position = Number(lastOffset) + 1
      }
    }
    return {
      events,
      on: (name: string, l: (ev: { payload: Record<string, unknown> }) => void) => {
        listeners.set(name, [...(listeners.get(name) ?? []), l])
      },
      connect: async () => undefined,
      subscribe: async ({ topics, fromBeginning }: { topics: string[]; fromBeginning: boolean }) => {
        assert.equal(fromBeginning, true)
        topicName = topics[0]!
        this.topic(topicName)
      },
      seek: ({ partition, offset }: { partition: number; offset: string }) => {
        assert.equal(partition, 0)
        seekTo = Number(offset)
      },
      run: async ({ autoCommit, eachBatch }: { autoCommit: boolean; eachBatch: EachBatch }) => {
        assert.equal(autoCommit, false)
        await sleep(1) // JoinGroup + SyncGroup
        running = true
        emit(events.GROUP_JOIN, {})
        loop = fetchLoop(eachBatch).catch((e: unknown) => emit(events.CRASH, { error: e }))
      },
      disconnect: async () => {
        running = false
        await loop
      },
    }
  }
}

interface FakeTxn {
  readonly pid: number
  readonly epoch: number
  state: 'ongoing' | 'committing' | 'committed' | 'aborted'
  readonly topics: Set<string>
}

class FakeTopic {
  readonly log: Array<{ key: Buffer | null; value: Buffer | null; control: boolean; txn: FakeTxn }> = []
  logStart = 0
  /** Open transactions with records here, and their first offset. */
  readonly ongoing = new Set<FakeTxn>()
  readonly first = new Map<FakeTxn, number>()
  readonly config: Map<string, string>

  constructor(config: Map<string, string>) {
    this.config = config
  }

  /** Last stable offset: the first record of an undecided transaction, else the end. */
  lso(): number {
    let lso = this.log.length
    for (const txn of this.ongoing) lso = Math.min(lso, this.first.get(txn)!)
    return lso
  }
}

// ---- the WAL conformance suite and Kafka specifics -----------------------------------------------

/** How a test reaches a cluster: a provider per "process", all sharing one cluster. */
interface KafkaTarget {
  /** A provider as another process would have it: its own client, same cluster and prefix. */
  connect(prefix: string): Promise<KafkaWalProvider>
  /** The topics' max.message.bytes. */
  readonly maxMessageBytes: number
  /** A plain kafkajs client on the same cluster. */
  rawClient(): Kafka
}

function describeKafka(name: string, target: () => KafkaTarget, cleanup: (prefixes: string[]) => Promise<void>): void {
  const used: string[] = []
  const freshPrefix = (): string => {
    const p = `harrier-test-${randomBytes(6).toString('hex')}`
    used.push(p)
    return p
  }
  const prefixes = new WeakMap<WalProvider, string>()

  describeWal(name, {
    async open() {
      const prefix = freshPrefix()
      const p = await target().connect(prefix)
      prefixes.set(p, prefix)
      return p
    },
    async reopen(p) {
      const prefix = prefixes.get(p)!
      await p.close()
      const p2 = await target().connect(prefix)
      prefixes.set(p2, prefix)
      return p2
    },
    cleanup: () => cleanup(used),
  })

  describe(`Kafka specifics: ${name}`, () => {
    const openAt = (prefix: string): Promise<KafkaWalProvider> => target().connect(prefix)

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
        // `a` knows nothing of `b`: the transaction coordinator refuses the old producer epoch.
        await rejectsWith(old.append(bytes('stale')), 'ChannelFenced')
        await rejectsWith(old.append(bytes('stale again')), 'ChannelFenced')
        assert.equal(await next.append(bytes('b2')), 2n)
        assert.deepEqual(await readAll(next), [
          [0n, 'a0'],
          [1n, 'a1'],
          [2n, 'b2'],
        ])
        // The term lives in the log: `a` cannot take the channel back with an old term.
        await rejectsWith(a.open('dml_0', { term: 1 }), 'ChannelFenced')
        const again = await a.open('dml_0')
        assert.equal(again.term, 3)
        assert.equal(again.nextOffset(), 3n)
        await rejectsWith(next.append(bytes('x')), 'ChannelFenced')
        await rejectsWith(next.truncate(1n), 'ChannelFenced')
        assert.deepEqual((await readAll(again, 2n)).map(([o]) => o), [2n])
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
        let opened = false
        const opening = b.open('c').finally(() => {
          opened = true
        })
        const results: Array<PromiseSettledResult<bigint>> = []
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
        results.forEach((r, i) => {
          if (r.status === 'fulfilled') assert.equal(r.value, BigInt(i + 1))
          else assert.ok(i >= landed)
        })
        assert.equal(next.nextOffset(), BigInt(landed + 1))
        assert.equal(await next.append(bytes('new owner')), BigInt(landed + 1))
        const log = await readAll(next)
        assert.equal(log.length, landed + 2)
        assert.deepEqual(log.at(-1), [BigInt(landed + 1), 'new owner'])
        t.diagnostic(`${landed} of ${results.length} stale appends landed before the fence, the rest were fenced`)
      } finally {
        await Promise.all([a.close(), b.close()])
      }
    })

    it('a restarted process recovers the tail past truncation, aborted transactions and term marks', async () => {
      const prefix = freshPrefix()
      const a = await openAt(prefix)
      const w = await a.open('c')
      await w.appendBatch(Array.from({ length: 30 }, (_, i) => bytes(`e${i}`)))
      await w.truncate(12n)
      await w.append(bytes('e30'))
      await a.close()
      const b = await openAt(prefix)
      try {
        const w2 = await b.open('c')
        assert.equal(w2.term, 2)
        assert.equal(w2.nextOffset(), 31n)
        // Reads start from a lower bound (no index for another process's writes) and skip forward.
        assert.deepEqual(await readAll(w2, 29n), [
          [29n, 'e29'],
          [30n, 'e30'],
        ])
        const all = await readAll(w2)
        assert.ok(all[0]![0] <= 12n)
        assert.deepEqual(all.at(-1), [30n, 'e30'])
        all.forEach(([o], i) => assert.equal(o, all[0]![0] + BigInt(i)))
      } finally {
        await b.close()
      }
    })

    it('skips an aborted transaction longer than the tail window when recovering and reading', async () => {
      const prefix = freshPrefix()
      const topic = kafkaTopic(prefix, 'c')
      const a = await openAt(prefix)
      const w = await a.open('c')
      await w.appendBatch([bytes('e0'), bytes('e1')])
      // A zombie with the channel's transactional id fences `a`, writes well-formed entries and
      // never commits them.
      const zombie = target().rawClient().producer({ transactionalId: topic, maxInFlightRequests: 1 })
      await zombie.connect()
      try {
        const tx = await zombie.transaction()
        const messages = Array.from({ length: 200 }, (_, i) => ({
          key: encodeRecordKey({ kind: 'entry', term: 1, offset: 2n + BigInt(i) }),
          value: Buffer.from('zombie'),
          partition: 0,
        }))
        await tx.send({ topic, acks: -1, messages })
        await rejectsWith(w.append(bytes('x')), 'ChannelFenced')
        const b = await openAt(prefix)
        try {
          // Its producer's InitProducerId aborts the zombie's transaction.
          const w2 = await b.open('c')
          assert.equal(w2.nextOffset(), 2n)
          assert.equal(await w2.append(bytes('e2')), 2n)
          assert.deepEqual(await readAll(w2), [
            [0n, 'e0'],
            [1n, 'e1'],
            [2n, 'e2'],
          ])
          // The zombie is fenced in turn (a kafkajs error: it is not one of ours).
          await assert.rejects(tx.commit())
        } finally {
          await b.close()
        }
      } finally {
        await zombie.disconnect()
        await a.close()
      }
    })

    it('rejects an entry above max.message.bytes with ParameterTooLarge before issuing it', async () => {
      const p = await openAt(freshPrefix())
      try {
        const w = await p.open('c')
        await rejectsWith(w.append(new Uint8Array(target().maxMessageBytes)), 'ParameterTooLarge')
        assert.equal(await w.append(bytes('ok')), 0n)
      } finally {
        await p.close()
      }
    })

    it('a follower in another process sees every acknowledged append in tail() at once', async () => {
      const prefix = freshPrefix()
      const [owner, follower] = [await openAt(prefix), await openAt(prefix)]
      try {
        const w = await owner.open('dml_7')
        const reader = await follower.openReader('dml_7')
        for (let i = 0n; i < 5n; i++) {
          assert.equal(await w.append(bytes(`e${i}`)), i)
          assert.equal(await reader.tail(), i + 1n)
        }
        const ac = new AbortController()
        const seen: bigint[] = []
        for await (const e of reader.follow(2n, ac.signal)) {
          seen.push(e.offset)
          if (e.offset === 4n) ac.abort()
        }
        assert.deepEqual(seen, [2n, 3n, 4n])
        // The follower never fenced the owner.
        assert.equal(await w.append(bytes('e5')), 5n)
      } finally {
        await Promise.all([owner.close(), follower.close()])
      }
    })
  })
}

/** One modelled cluster for every provider of the suite below (each test uses its own prefix). */
const model = new FakeKafka()

describeKafka(
  'KafkaWalProvider on an in-memory Kafka model',
  () => ({
    connect: (prefix) => KafkaWalProvider.open({ brokers: ['model:9092'], prefix, client: model.client() }),
    maxMessageBytes: 8 << 20,
    rawClient: () => model.client(),
  }),
  async () => undefined,
)

// ---- against a real broker ---------------------------------------------------------------------

const KAFKA_URL = process.env.KAFKA_URL
const SKIP = KAFKA_URL
  ? undefined
  : 'KAFKA_URL is not set: no Kafka broker on this machine (set KAFKA_URL=kafka://host:9092[?params] to run the WAL conformance suite against one)'

/** KAFKA_URL with `prefix` as its path. */
function kafkaUrl(prefix: string): string {
  const m = /^(kafka:\/\/[^/?#]+)(?:\/[^?#]*)?(\?[^#]*)?$/.exec(KAFKA_URL ?? '')
  if (!m) throw new Error(`KAFKA_URL ${KAFKA_URL} is not kafka://host:port[,host:port...][?params]`)
  return `${m[1]}/${prefix}${m[2] ?? ''}`
}

/** A plain kafkajs client on the KAFKA_URL cluster. */
function rawKafka(): Kafka {
  const { brokers, tls, sasl } = parseKafkaUrl(kafkaUrl('x'))
  return new kafkajs.Kafka({
    brokers,
    ssl: tls || undefined,
    ...(sasl ? { sasl: sasl as SASLOptions } : {}),
    logLevel: kafkajs.logLevel.NOTHING,
  })
}

/** A plain kafkajs admin on the KAFKA_URL cluster, for checks and cleanup. */
async function withAdmin<T>(fn: (admin: Admin) => Promise<T>): Promise<T> {
  const admin = rawKafka().admin()
  await admin.connect()
  try {
    return await fn(admin)
  } finally {
    await admin.disconnect()
  }
}

describe('KafkaWalProvider on a real Kafka (KAFKA_URL)', { skip: SKIP }, () => {
  describeKafka(
    'KafkaWalProvider on Kafka at KAFKA_URL',
    () => ({
      // Through the factory, as the roles open it.
      connect: async (prefix) => (await openWalProvider(kafkaUrl(prefix))) as KafkaWalProvider,
      maxMessageBytes: parseKafkaUrl(kafkaUrl('x')).maxMessageBytes,
      rawClient: () => rawKafka(),
    }),
    // Topics of this run only: every name starts with one of its random prefixes.
    (prefixes) =>
      withAdmin(async (admin) => {
        const topics = (await admin.listTopics()).filter((t) => prefixes.some((p) => t.startsWith(`${p}.`)))
        if (topics.length > 0) await admin.deleteTopics({ topics })
      }),
  )

  const prefix = `harrier-test-${randomBytes(6).toString('hex')}`
  after(() =>
    withAdmin(async (admin) => {
      const topics = (await admin.listTopics()).filter((t) => t.startsWith(`${prefix}.`))
      if (topics.length > 0) await admin.deleteTopics({ topics })
    }),
  )

  it('creates one-partition topics that never expire entries', async () => {
    const p = await KafkaWalProvider.open(parseKafkaUrl(kafkaUrl(prefix)))
    try {
      await p.open('dml_3')
      const topic = kafkaTopic(prefix, 'dml_3')
      await withAdmin(async (admin) => {
        const meta = await admin.fetchTopicMetadata({ topics: [topic] })
        assert.equal(meta.topics[0]!.partitions.length, 1)
        const names = ['retention.ms', 'retention.bytes', 'cleanup.policy', 'min.insync.replicas']
        const cfg = await admin.describeConfigs({
          resources: [{ type: kafkajs.ConfigResourceTypes.TOPIC, name: topic, configNames: names }],
          includeSynonyms: false,
        })
        const value = (n: string): string | undefined =>
          cfg.resources[0]!.configEntries.find((c) => c.configName === n)?.configValue
        assert.deepEqual(names.map(value), [
          '-1',
          '-1',
          'delete',
          String(parseKafkaUrl(kafkaUrl(prefix)).minInsyncReplicas),
        ])
      })
    } finally {
      await p.close()
    }
  })

  it('measures append latency and pipelined throughput', async (t) => {
    const p = await KafkaWalProvider.open(parseKafkaUrl(kafkaUrl(prefix)))
    try {
      const w = await p.open('perf')
      const entry = new Uint8Array(1024).fill(7)
      await w.append(entry)
      const ms: number[] = []
      for (let i = 0; i < 100; i++) {
        const t0 = performance.now()
        await w.append(entry)
        ms.push(performance.now() - t0)
      }
      ms.sort((x, y) => x - y)
      const t0 = performance.now()
      await Promise.all(Array.from({ length: 5000 }, () => w.append(entry)))
      const pipelinedMs = performance.now() - t0
      let n = 0
      for await (const _ of w.read(0n)) n++
      assert.equal(n, 5101)
      t.diagnostic(
        `Kafka append (1 KiB) p50 ${ms[50]!.toFixed(1)} ms p99 ${ms[98]!.toFixed(1)} ms; ` +
          `5000 concurrent appends ${pipelinedMs.toFixed(0)} ms (${Math.round((5000 / pipelinedMs) * 1000)}/s)`,
      )
    } finally {
      await p.close()
    }
  })
})
