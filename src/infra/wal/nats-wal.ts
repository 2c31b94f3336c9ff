/**
 * The cluster WAL: NATS JetStream, one stream per pchannel, file storage.
 *
 *   stream   `<prefix>_<token>`             one per channel; never deleted by Harrier
 *   subject  `<prefix>.<token>.<term>`      the only subject the stream takes (see fencing)
 *   KV       `<prefix>_wal_terms`, key <token> → highest term opened (revision CAS)
 *
 * `<token>` is the channel name made safe for stream names and subject tokens: '_' → '__',
 * '.' → '_d' (reversible), or `_h` + a SHA-256 prefix when that would exceed 128 characters.
 *
 * Offsets: offset = stream sequence − 1 (sequences start at 1, offsets at 0). JetStream never
 * reuses a sequence: a purge moves the first sequence up and keeps the last one, so offsets stay
 * strictly increasing and unique after truncate and restart. Truncate never purges past the last
 * acknowledged sequence (a purge beyond last + 1 would make JetStream skip sequences).
 *
 * Appends: each payload is one message, published with PubAck. Sequences are assigned on the
 * caller's tick and every publish carries `Nats-Expected-Last-Sequence` = its sequence − 1, so
 * pipelined publishes land in call order or not at all, and a write by anyone else makes the next
 * one fail instead of interleaving. Each carries `Nats-Msg-Id` = `<token>.<term>.<sequence>`: a
 * publish retried after a timeout is dropped by JetStream's duplicate window (2 min) and acked with
 * the original sequence, never stored twice. The same resend happens at once when the client
 * reconnects (nats.js loses requests made while it is disconnected). An append that still fails
 * poisons the channel in this provider (later appends reject with the same error) until it is
 * opened again, because the sequences issued after it no longer match the stream.
 *
 * Fencing: open() takes the next term with a CAS on the KV key, then moves the stream's subject to
 * `<prefix>.<token>.<term>`. From that moment JetStream itself rejects a publish from an older
 * owner in any process (no stream listens on its subject: "503 no responders"), which the older
 * owner reports as ChannelFenced after reading the KV term. Appends it issued before the move are
 * in the log the new owner sees: open() reads the stream's last sequence after the move. Within
 * one provider, older instances are fenced at once and their in-flight appends finish first.
 * Across processes the broker cannot tell whether the holder of the highest term is alive, so
 * another process may open that same term again (a restarted owner does); the coordinator never
 * gives one term to two owners.
 *
 * Reads replay through an ordered consumer from `from + 1` up to the last sequence this provider
 * had acknowledged when read() was called (the owner is the only writer, so that is the tail; an
 * instance fenced by another process does not learn of the new owner's entries).
 *
 * Durability: an ack means the entry is in the JetStream file store of a quorum of the stream's
 * replicas. nats-server 2.9 does not fsync per message (it syncs every 2 minutes), so a single-node
 * server (replicas 1) keeps acked entries across a process crash but not across a power loss; use
 * 3 replicas (`?replicas=3`) for that.
 *
 * Entries are limited by the server's max_payload (1 MiB by default; raise it in the server config)
 * minus about 1 KiB of headers: larger ones are rejected with ParameterTooLarge.
 */
import { createHash } from 'node:crypto'
import {
  connect,
  DeliverPolicy,
  DiscardPolicy,
  RetentionPolicy,
  StorageType,
  type JetStreamClient,
  type JetStreamManager,
  type KV,
  type NatsConnection,
  type StreamInfo,
} from 'nats'
import { DbError, isDbError } from '../../common/errors.js'
import { silentLogger, type Logger } from '../../common/log.js'
import { checkChannelName, type Wal, type WalEntry, type WalOpenOptions, type WalProvider, type WalReader } from './wal.js'

export interface NatsWalOptions {
  /** `host:port` of each NATS server (one cluster). */
  readonly servers: readonly string[]
  /** Starts every stream, subject and KV bucket name: 1-64 of [A-Za-z0-9-]. Default 'harrier'. */
  readonly prefix?: string
  /** JetStream replicas of each stream and of the term bucket. Default 1. */
  readonly replicas?: number
  readonly log?: Logger
  /** Timeout of each publish attempt and JetStream API call. Default 5 s. */
  readonly timeoutMs?: number
  /** Wait between reconnect attempts (the client reconnects forever). Default 500 ms. */
  readonly reconnectWaitMs?: number
}

/**
 * Parses `nats://host:port[,host:port...][/prefix][?replicas=N]`, by hand since several hosts are
 * not a WHATWG URL. @throws DbError('ParameterInvalid')
 */
export function parseNatsUrl(url: string): { servers: string[]; prefix: string; replicas: number } {
  const m = /^nats:\/\/([^/?#]+)(?:\/([^?#]*))?(?:\?([^#]*))?$/.exec(url)
  if (!m) {
    throw new DbError(
      'ParameterInvalid',
      `WAL url ${JSON.stringify(url)}: expected nats://host:port[,host:port...][/prefix][?replicas=N]`,
    )
  }
  const servers = m[1]!.split(',').map((h) => h.trim())
  for (const h of servers) {
    if (!/^[A-Za-z0-9.-]+:\d{1,5}$|^\[[0-9A-Fa-f:.]+\]:\d{1,5}$/.test(h))
      throw new DbError('ParameterInvalid', `WAL url ${url}: bad NATS server ${JSON.stringify(h)}`)
  }
  const prefix = (m[2] ?? '').replace(/\/+$/, '') || DEFAULT_PREFIX
  checkPrefix(prefix)
  let replicas = 1
  for (const [k, v] of new URLSearchParams(m[3] ?? '')) {
    if (k !== 'replicas')
      throw new DbError(
        'ParameterInvalid',
        `WAL url ${url}: unknown parameter ${JSON.stringify(k)}`,
      )
    replicas = Number(v)
  }
  checkReplicas(replicas)
  return { servers, prefix, replicas }
}

const DEFAULT_PREFIX = 'harrier'
const DEFAULT_TIMEOUT_MS = 5000
const PUBLISH_ATTEMPTS = 3
/** Room left for the headers (msg id, expected sequence) under the server's max_payload. */
const HEADER_ALLOWANCE = 1024
const MAX_TOKEN = 128
/** How long a read waits for the next message before checking whether it was purged meanwhile. */
const READ_STALL_MS = 2000

function checkPrefix(prefix: string): void {
  if (!/^[A-Za-z0-9-]{1,64}$/.test(prefix)) {
    // No '_' (it separates prefix and channel in stream names) and no '.' (subject separator).
    throw new DbError(
      'ParameterInvalid',
      `WAL prefix ${JSON.stringify(prefix)}: use 1-64 of [A-Za-z0-9-]`,
    )
  }
}

function checkReplicas(n: number): void {
  if (!Number.isSafeInteger(n) || n < 1 || n > 5)
    throw new DbError('ParameterInvalid', `WAL replicas must be an integer 1-5, got ${n}`)
}

/** A channel name as a stream-name and subject token: [A-Za-z0-9_-] only, injective. */
export function channelToken(channel: string): string {
  const escaped = channel.replace(/[_.]/g, (c) => (c === '_' ? '__' : '_d'))
  if (escaped.length <= MAX_TOKEN) return escaped
  // Escaped names never contain '_h', so hashed tokens cannot collide with them.
  return `_h${createHash('sha256').update(channel).digest('hex').slice(0, 40)}`
}

interface ChannelState {
  readonly name: string
  readonly token: string
  readonly stream: string
  /** Highest term opened here or learnt from a fence: instances below it are fenced. */
  term: number
  /** Sequence of the last publish issued; the next append gets offset `lastSeq`. */
  lastSeq: number
  /** Highest sequence acknowledged: the tail reads stop at. */
  ackedSeq: number
  /** A failed append poisons the channel until it is opened again (see the header). */
  failed: DbError | undefined
  /** Appends in flight, settled or not; drained before a new owner proceeds. */
  readonly pending: Set<Promise<unknown>>
  readonly open: Set<NatsWal>
  closed: boolean
}

export class NatsWalProvider implements WalProvider {
  readonly prefix: string
  readonly #nc: NatsConnection
  readonly #js: JetStreamClient
  readonly #jsm: JetStreamManager
  readonly #terms: KV
  readonly #log: Logger
  readonly #replicas: number
  readonly #timeoutMs: number
  readonly #channels = new Map<string, ChannelState>()
  /** Fired at a reconnect: the publish attempts in flight, which are then resent. */
  readonly #inFlight = new Set<() => void>()
  /** open() calls run one at a time: they read and write term state across awaits. */
  #opening: Promise<unknown> = Promise.resolve()
  #closing: Promise<void> | undefined

  private constructor(
    nc: NatsConnection,
    js: JetStreamClient,
    jsm: JetStreamManager,
    terms: KV,
    opts: NatsWalOptions & { readonly prefix: string },
  ) {
    this.#nc = nc
    this.#js = js
    this.#jsm = jsm
    this.#terms = terms
    this.prefix = opts.prefix
    this.#log = opts.log ?? silentLogger()
    this.#replicas = opts.replicas ?? 1
    this.#timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS
  }

  /**
   * Connects, checks JetStream and opens (creating) the term bucket.
   * @throws DbError('ServiceUnavailable') if NATS or JetStream cannot be reached.
   */
  static async open(opts: NatsWalOptions): Promise<NatsWalProvider> {
    const prefix = opts.prefix ?? DEFAULT_PREFIX
    checkPrefix(prefix)
    checkReplicas(opts.replicas ?? 1)
    if (opts.servers.length === 0)
      throw new DbError('ParameterInvalid', 'NATS WAL needs at least one server')
    const timeout = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS
    const where = opts.servers.join(',')
    let nc: NatsConnection
    try {
      nc = await connect({
        servers: [...opts.servers],
        name: `harrier-wal-${prefix}`,
        timeout,
        reconnect: true,
        maxReconnectAttempts: -1,
        reconnectTimeWait: opts.reconnectWaitMs ?? 500,
      })
    } catch (e) {
      throw new DbError('ServiceUnavailable', `cannot reach NATS at ${where}`, { cause: e })
    }
    try {
      const jsm = await nc.jetstreamManager({ timeout })
      const js = nc.jetstream({ timeout })
      const terms = await js.views.kv(`${prefix}_wal_terms`, {
        history: 1,
        replicas: opts.replicas ?? 1,
        storage: StorageType.File,
      })
      const provider = new NatsWalProvider(nc, js, jsm, terms, { ...opts, prefix })
      provider.#watchStatus()
      return provider
    } catch (e) {
      await nc.close().catch(() => undefined)
      throw new DbError(
        'ServiceUnavailable',
        `NATS at ${where}: JetStream unavailable (is nats-server running with -js?)`,
        { cause: e },
      )
    }
  }

  open(channel: string, opts?: WalOpenOptions): Promise<NatsWal> {
    const opened = this.#opening.then(() => this.#open(channel, opts))
    this.#opening = opened.catch(() => undefined)
    return opened
  }

  /**
   * A follower's view: reads through an ordered consumer that keeps delivering new messages, and
   * takes the stream's last sequence as the tail, so a follower needs no call to the owner.
   */
  openReader(channel: string): Promise<WalReader> {
    const opened = this.#opening.then(async () => {
      if (this.#closing) throw new DbError('ServiceInternal', 'WAL provider is closed')
      checkChannelName(channel)
      const st = this.#channels.get(channel) ?? (await this.#initChannel(channel))
      const what = `follow WAL channel ${channel}`
      return {
        channel,
        tail: async () => BigInt((await this.#api(what, () => this.#jsm.streams.info(st.stream))).state.last_seq),
        firstOffset: async () => BigInt((await this.#api(what, () => this.#jsm.streams.info(st.stream))).state.first_seq - 1),
        follow: (from: bigint, signal: AbortSignal) => this.#follow(st, from, signal),
      }
    })
    this.#opening = opened.catch(() => undefined)
    return opened
  }

  async *#follow(st: ChannelState, from: bigint, signal: AbortSignal): AsyncGenerator<WalEntry> {
    const what = `follow WAL channel ${st.name}`
    const consumer = await this.#api(what, () =>
      this.#js.consumers.get(st.stream, { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: Number(from < 0n ? 0n : from) + 1 }),
    )
    const msgs = await this.#api(what, () => consumer.consume(consumeOptions()))
    const stop = () => void msgs.close().catch(() => undefined)
    signal.addEventListener('abort', stop, { once: true })
    try {
      for await (const m of msgs) {
        if (signal.aborted) return
        yield { offset: BigInt(m.seq - 1), payload: new Uint8Array(m.data) }
      }
    } finally {
      signal.removeEventListener('abort', stop)
      stop()
    }
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      await this.#opening
      for (const st of this.#channels.values()) st.closed = true
      for (const st of this.#channels.values()) await drain(st)
      await this.#nc.close().catch((e: unknown) => this.#log.warn({ err: e }, 'NATS close failed'))
    })()
    return this.#closing
  }

  // ---- open and fencing --------------------------------------------------------------------

  async #open(channel: string, opts: WalOpenOptions | undefined): Promise<NatsWal> {
    if (this.#closing) throw new DbError('ServiceInternal', 'WAL provider is closed')
    checkChannelName(channel)
    if (opts?.term !== undefined && (!Number.isSafeInteger(opts.term) || opts.term <= 0)) {
      throw new DbError(
        'ParameterInvalid',
        `WAL channel ${channel}: term must be a positive integer, got ${opts.term}`,
      )
    }
    const st = this.#channels.get(channel) ?? (await this.#initChannel(channel))
    const term = await this.#claimTerm(st, opts?.term)
    if (term > st.term) st.term = term // fences this provider's older instances from here on
    // Their in-flight appends land before the subject moves, so the new owner sees them.
    await drain(st)
    const info = await this.#moveSubject(st, term)
    st.lastSeq = st.ackedSeq = info.state.last_seq
    st.failed = undefined
    // A concurrent open elsewhere may have claimed a higher term after our CAS; it moves the
    // subject past ours, and we must not hand out an instance that cannot write.
    const highest = await this.#readTerm(st)
    if (highest.term > term) throw fenced(st, term, highest.term)
    const wal = new NatsWal(this, st, term)
    st.open.add(wal)
    this.#log.debug(
      { channel, term, stream: st.stream, nextOffset: st.lastSeq },
      'NATS WAL channel open',
    )
    return wal
  }

  /** Creates the channel's stream if missing (idempotent across processes). */
  async #initChannel(channel: string): Promise<ChannelState> {
    const token = channelToken(channel)
    const stream = `${this.prefix}_${token}`
    await this.#api(`create stream ${stream}`, async () => {
      try {
        await this.#jsm.streams.info(stream)
      } catch (e) {
        if (apiCode(e) !== 10059) throw e // 10059: stream not found
        try {
          await this.#jsm.streams.add({
            name: stream,
            // Term 0 is never written: the first open moves the subject to its own term.
            subjects: [this.#subject(token, 0)],
            storage: StorageType.File,
            retention: RetentionPolicy.Limits,
            discard: DiscardPolicy.Old,
            max_msgs: -1,
            max_bytes: -1,
            max_age: 0,
            num_replicas: this.#replicas,
          })
        } catch (e2) {
          // 10058: created meanwhile by another process (with its subject already moved).
          if (apiCode(e2) !== 10058) throw e2
        }
      }
    })
    const st: ChannelState = {
      name: channel,
      token,
      stream,
      term: 0,
      lastSeq: 0,
      ackedSeq: 0,
      failed: undefined,
      pending: new Set(),
      open: new Set(),
      closed: false,
    }
    this.#channels.set(channel, st)
    return st
  }

  /** Decides the term and records it as the channel's highest by KV CAS (retried on conflict). */
  async #claimTerm(st: ChannelState, wanted: number | undefined): Promise<number> {
    for (let attempt = 0; ; attempt++) {
      const { term: stored, revision } = await this.#readTerm(st)
      const highest = Math.max(stored, st.term)
      const term = wanted ?? highest + 1
      if (term < highest) {
        throw new DbError(
          'ChannelFenced',
          `WAL channel ${st.name}: term ${term} is below the highest term ${highest}`,
        )
      }
      if (term === highest && [...st.open].some((w) => w.term === term)) {
        throw new DbError('ChannelFenced', `WAL channel ${st.name}: term ${term} is already open`)
      }
      if (term === stored) return term
      try {
        const value = new TextEncoder().encode(String(term))
        if (revision === 0) await this.#terms.create(st.token, value)
        else await this.#terms.update(st.token, value, revision)
        return term
      } catch (e) {
        // 10071 (wrong last sequence): another process changed the term since we read it.
        if (apiCode(e) !== 10071 || attempt >= 10)
          throw wrapNats(e, `claim term for WAL channel ${st.name}`)
      }
    }
  }

  async #readTerm(st: ChannelState): Promise<{ term: number; revision: number }> {
    const entry = await this.#api(`read term of WAL channel ${st.name}`, () =>
      this.#terms.get(st.token),
    )
    if (!entry || entry.operation !== 'PUT') return { term: 0, revision: entry?.revision ?? 0 }
    const term = Number(entry.string())
    if (!Number.isSafeInteger(term) || term < 0)
      throw new DbError('DataCorrupted', `WAL channel ${st.name}: stored term ${entry.string()}`)
    return { term, revision: entry.revision }
  }

  /** Points the stream at `term`'s subject: the server-side fence. Returns the stream after it. */
  async #moveSubject(st: ChannelState, term: number): Promise<StreamInfo> {
    return this.#api(`fence WAL channel ${st.name}`, async () => {
      const info = await this.#jsm.streams.info(st.stream)
      const current = subjectTerm(info.config.subjects)
      if (current > term) throw fenced(st, term, current)
      if (current === term) return info
      return this.#jsm.streams.update(st.stream, { subjects: [this.#subject(st.token, term)] })
    })
  }

  #subject(token: string, term: number): string {
    return `${this.prefix}.${token}.${term}`
  }

  // ---- used by NatsWal (internal: they take the provider's channel state) --------------------

  get maxPayload(): number {
    return this.#nc.info?.max_payload ?? 1 << 20
  }

  /** Publishes one entry at `seq`; resolves once acked at exactly that sequence. */
  async publish(st: ChannelState, term: number, payload: Uint8Array, seq: number): Promise<void> {
    const opts = {
      msgID: `${st.token}.${term}.${seq}`,
      expect: { lastSequence: seq - 1 },
      timeout: this.#timeoutMs,
    }
    const subject = this.#subject(st.token, term)
    for (let timeouts = 0; ; ) {
      // A request made while the client is disconnected is lost rather than sent on reconnect,
      // so each attempt also ends at the next reconnect, and is then resent at once.
      const reconnected = signal()
      this.#inFlight.add(reconnected.fire)
      const sent = this.#js.publish(subject, payload, opts)
      try {
        const ack = await Promise.race([sent, reconnected.promise])
        if (ack === RECONNECTED) {
          sent.catch(() => undefined)
          continue
        }
        if (ack.seq !== seq) {
          throw new DbError(
            'IoFailed',
            `WAL channel ${st.name}: entry acked at sequence ${ack.seq}, expected ${seq}`,
          )
        }
        if (seq > st.ackedSeq) st.ackedSeq = seq
        return
      } catch (e) {
        if (isDbError(e)) throw poison(st, e)
        // Safe to resend: same msg id, so a copy JetStream already stored is acked, not kept twice.
        if (natsCode(e) === 'TIMEOUT' && ++timeouts < PUBLISH_ATTEMPTS && !this.#closing) {
          this.#log.warn({ channel: st.name, seq, timeouts }, 'WAL publish timed out; retrying')
          continue
        }
        throw await this.#publishFailure(st, term, e)
      } finally {
        this.#inFlight.delete(reconnected.fire)
      }
    }
  }

  /** Fenced (a higher term exists: the subject moved, or someone else wrote) or a real failure. */
  async #publishFailure(st: ChannelState, term: number, e: unknown): Promise<DbError> {
    if (st.term > term) return fenced(st, term, st.term)
    const code = natsCode(e)
    if (code === '503' || apiCode(e) === 10071) {
      const highest = await this.#readTerm(st).catch(() => undefined)
      if (highest && highest.term > term) {
        st.term = Math.max(st.term, highest.term)
        return fenced(st, term, highest.term)
      }
    }
    return poison(st, wrapNats(e, `append to WAL channel ${st.name} (term ${term})`))
  }

  read(st: ChannelState, start: number, end: number): AsyncIterable<WalEntry> {
    return this.#read(st, start, end)
  }

  async *#read(st: ChannelState, start: number, end: number): AsyncGenerator<WalEntry> {
    if (start > end) return
    const what = `read WAL channel ${st.name}`
    const info = await this.#api(what, () => this.#jsm.streams.info(st.stream))
    const first = Math.max(start, info.state.first_seq)
    if (first > end) return
    const consumer = await this.#api(what, () =>
      this.#js.consumers.get(st.stream, {
        deliver_policy: DeliverPolicy.StartSequence,
        opt_start_seq: first,
      }),
    )
    const msgs = await this.#api(what, () =>
      // Buffered by bytes, so memory stays bounded whatever the entry size.
      consumer.consume(consumeOptions()),
    )
    const it = msgs[Symbol.asyncIterator]()
    try {
      let next = it.next()
      for (;;) {
        const r = await withTimeout(next, READ_STALL_MS)
        if (r === undefined) {
          // Nothing for a while: if everything we still wanted was purged meanwhile, we are done;
          // otherwise the messages are on their way.
          const now = await this.#api(what, () => this.#jsm.streams.info(st.stream))
          if (now.state.first_seq > end) return
          continue
        }
        if (r.done) {
          throw new DbError('ServiceUnavailable', `${what}: replay ended before sequence ${end}`)
        }
        const m = r.value
        if (m.seq > end) return
        // Copied out: the client's buffer is shared with other messages.
        yield { offset: BigInt(m.seq - 1), payload: new Uint8Array(m.data) }
        if (m.seq >= end) return
        next = it.next()
      }
    } finally {
      await msgs.close().catch(() => undefined)
    }
  }

  async truncate(st: ChannelState, term: number, before: bigint): Promise<void> {
    // A purge is not a publish, so the subject fence does not stop it: check the term first.
    const highest = await this.#readTerm(st)
    if (highest.term > term) {
      st.term = Math.max(st.term, highest.term)
      throw fenced(st, term, highest.term)
    }
    // Purge removes sequences below `seq`; offsets below `before` are sequences up to `before`.
    // Capped at the last acked sequence + 1: beyond it JetStream would skip sequences.
    const upto = before < BigInt(st.ackedSeq) ? Number(before) : st.ackedSeq
    if (upto <= 0) return
    await this.#api(`truncate WAL channel ${st.name}`, () =>
      this.#jsm.streams.purge(st.stream, { seq: upto + 1 }),
    )
  }

  get closing(): boolean {
    return this.#closing !== undefined
  }

  // ---- helpers -----------------------------------------------------------------------------

  async #api<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn()
    } catch (e) {
      throw wrapNats(e, what)
    }
  }

  /** Logs connection changes; the client reconnects by itself. */
  #watchStatus(): void {
    void (async () => {
      for await (const s of this.#nc.status()) {
        if (s.type === 'disconnect') this.#log.warn({ server: s.data }, 'NATS disconnected')
        else if (s.type === 'reconnect') {
          this.#log.info({ server: s.data }, 'NATS reconnected')
          for (const fire of [...this.#inFlight]) fire()
        }
      }
    })().catch(() => undefined)
  }
}

/** A `Wal` instance: one channel as seen by one owner (term). */
export class NatsWal implements Wal {
  readonly channel: string
  readonly term: number
  readonly #provider: NatsWalProvider
  readonly #st: ChannelState
  #closed = false

  constructor(provider: NatsWalProvider, st: ChannelState, term: number) {
    this.#provider = provider
    this.#st = st
    this.channel = st.name
    this.term = term
  }

  async append(payload: Uint8Array): Promise<bigint> {
    const [offset] = await this.appendBatch([payload])
    return offset!
  }

  async appendBatch(payloads: readonly Uint8Array[]): Promise<bigint[]> {
    this.#writable()
    const limit = this.#provider.maxPayload - HEADER_ALLOWANCE
    for (const p of payloads) {
      if (!(p instanceof Uint8Array))
        throw new DbError('ParameterInvalid', `WAL payload must be a Uint8Array`)
      if (p.length > limit) {
        throw new DbError(
          'ParameterTooLarge',
          `WAL entry of ${p.length} bytes exceeds the NATS max_payload allowance of ${limit} bytes`,
        )
      }
    }
    if (payloads.length === 0) return []
    const st = this.#st
    // Sequences are assigned here, synchronously, so concurrent appends publish in call order.
    const base = st.lastSeq
    st.lastSeq += payloads.length
    // Copied in: the caller may reuse its buffers once append returns, before the bytes are sent.
    const acks = payloads.map((p, i) =>
      this.#provider.publish(st, this.term, new Uint8Array(p), base + i + 1),
    )
    const settled = Promise.allSettled(acks)
    st.pending.add(settled)
    void settled.then(() => st.pending.delete(settled))
    await Promise.all(acks)
    return payloads.map((_, i) => BigInt(base + i))
  }

  read(from: bigint): AsyncIterable<WalEntry> {
    this.#usable()
    if (typeof from !== 'bigint')
      throw new DbError('ParameterInvalid', `WAL read offset must be a bigint`)
    // The tail is fixed now, synchronously: entries acked after this call are not read.
    const end = this.#st.ackedSeq
    if (from >= BigInt(end)) return (async function* () {})()
    return this.#provider.read(this.#st, from < 0n ? 1 : Number(from) + 1, end)
  }

  async truncate(before: bigint): Promise<void> {
    this.#writable()
    if (typeof before !== 'bigint')
      throw new DbError('ParameterInvalid', `WAL truncate offset must be a bigint`)
    await this.#provider.truncate(this.#st, this.term, before)
  }

  nextOffset(): bigint {
    return BigInt(this.#st.lastSeq)
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#st.open.delete(this)
    await drain(this.#st)
  }

  #usable(): void {
    if (this.#closed || this.#st.closed || this.#provider.closing) {
      throw new DbError(
        'ServiceInternal',
        `WAL channel ${this.channel} (term ${this.term}) is closed`,
      )
    }
  }

  #writable(): void {
    this.#usable()
    if (this.#st.term > this.term) throw fenced(this.#st, this.term, this.#st.term)
    if (this.#st.failed) throw this.#st.failed
  }
}

/**
 * Pull options for ordered consumers. A message count, not `max_bytes`: nats.js 2.29 mutates the
 * options it is given (adding a message count to a byte limit) and reuses them when an ordered
 * consumer resets after a reconnect, where "both limits set" then throws from inside the client
 * and takes the process down. 32 entries of at most max_payload each bound the buffer.
 */
function consumeOptions(): { max_messages: number } {
  return { max_messages: 32 }
}

async function drain(st: ChannelState): Promise<void> {
  while (st.pending.size > 0) await Promise.all([...st.pending])
}

function fenced(st: ChannelState, term: number, by: number): DbError {
  return new DbError(
    'ChannelFenced',
    `WAL channel ${st.name}: term ${term} is fenced by term ${by}`,
  )
}

function poison(st: ChannelState, e: DbError): DbError {
  st.failed ??= new DbError(e.kind, `${e.message}; reopen the channel to continue`, { cause: e })
  return e
}

/** The term in a stream's single subject `<prefix>.<token>.<term>`. */
function subjectTerm(subjects: readonly string[] | undefined): number {
  const last = subjects?.[0]?.split('.').at(-1)
  const term = Number(last)
  return Number.isSafeInteger(term) ? term : 0
}

function natsCode(e: unknown): string | undefined {
  const code = (e as { code?: unknown } | null)?.code
  return typeof code === 'string' ? code : undefined
}

function apiCode(e: unknown): number | undefined {
  const api = (e as { api_error?: { err_code?: unknown } } | null)?.api_error
  return typeof api?.err_code === 'number' ? api.err_code : undefined
}

const UNAVAILABLE_CODES = new Set([
  'TIMEOUT',
  '503',
  'DISCONNECT',
  'CONNECTION_CLOSED',
  'CONNECTION_DRAINING',
  'CONNECTION_REFUSED',
  'CONNECTION_TIMEOUT',
])

function wrapNats(e: unknown, what: string): DbError {
  if (isDbError(e)) return e
  const msg = e instanceof Error ? e.message : String(e)
  const code = natsCode(e)
  if (code === 'MAX_PAYLOAD_EXCEEDED')
    return new DbError('ParameterTooLarge', `${what}: ${msg}`, { cause: e })
  if (code !== undefined && UNAVAILABLE_CODES.has(code))
    return new DbError('ServiceUnavailable', `${what}: ${msg}`, { cause: e })
  return new DbError('IoFailed', `${what}: ${msg}`, { cause: e })
}

const RECONNECTED: unique symbol = Symbol('reconnected')

function signal(): { promise: Promise<typeof RECONNECTED>; fire(): void } {
  let fire!: () => void
  const promise = new Promise<typeof RECONNECTED>((resolve) => {
    fire = () => resolve(RECONNECTED)
  })
  return { promise, fire }
}

/** `p`'s value, or undefined once `ms` pass first (p keeps running). */
async function withTimeout<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms)
  })
  try {
    return await Promise.race([p, timeout])
  } finally {
    clearTimeout(timer)
  }
}
