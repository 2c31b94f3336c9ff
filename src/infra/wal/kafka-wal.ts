/**
 * The cluster WAL on Apache Kafka (kafkajs): one single-partition topic per pchannel.
 *
 *   topic            `<prefix>.wal.<token>`                 partition 0 only; never deleted by Harrier
 *   transactional id `<prefix>.wal.<token>`                 the fence (see below)
 *   reader group     `<prefix>.wal-reader.<token>.<uuid>`   one per read or recovery, nothing committed
 *
 * `<token>` is the channel name with '_' → '__' and '.' → '_d' (hashed past 128 characters), the
 * same token as the NATS adapter's: topics never contain two names that differ only in '.' versus
 * '_', which Kafka refuses to create side by side (their metric names collide).
 *
 * Records: key = 17 bytes `[kind][term u64 BE][offset u64 BE]`, value = the payload. Kind 'E' is an
 * entry at WAL offset `offset`, written by the owner of `term`; kind 'T' is a term mark: "the owner
 * of `term` holds the channel, and the next entry gets `offset`". open() writes one when it raises
 * the term, truncate() writes one before it deletes anything. Readers skip marks.
 *
 * Offsets: WAL offsets are consecutive, Kafka offsets are not: every transaction ends with a
 * commit marker, and aborted transactions leave records that read_committed consumers skip. So the
 * WAL offset travels in the key, and Kafka offsets only position reads: entry w sits at Kafka
 * offset >= w, and at >= k + (w - v) when entry v sits at k. An in-memory index of such pairs (one
 * per record batch appended here, plus the recovered tail) gives a start position that is exact
 * for entries this provider wrote and a lower bound otherwise (the read then skips forward).
 *
 * Fencing: every channel has a transactional id, and open() starts a new transactional producer
 * with it. Its InitProducerId bumps the producer epoch at the transaction coordinator, which first
 * completes or aborts whatever transaction the previous owner (in any process) had open, and from
 * then on rejects that owner's AddPartitionsToTxn, Produce and EndTxn with INVALID_PRODUCER_EPOCH
 * (PRODUCER_FENCED on newer brokers): its appends fail with ChannelFenced, and an append of it
 * either committed before the new owner read the log or is aborted and invisible. Appends of older
 * instances in this provider are flushed before the new producer starts, so they are in the log
 * the new owner reads.
 *
 * Terms: Kafka has no compare-and-set store, and needs none here. After fencing, open() reads the
 * tail of the log: the last record carries the highest term (a mark raising it, or an entry of its
 * owner, who is the only one able to commit after it), and the next WAL offset. A higher term is
 * then committed as a mark in the new producer's first transaction, which only the holder of the
 * newest epoch can commit: two concurrent opens cannot both record a term. Truncation never
 * deletes the last record, so the tail survives it. As with NATS, another process may reopen the
 * highest term (a restarted owner); the coordinator never gives one term to two owners. A process
 * asking for a term below the highest has already fenced the producer when it learns that; the
 * owner's next append then fails with ChannelFenced and it must reopen (liveness, not safety).
 *
 * Appends: offsets are assigned on the caller's tick; a per-channel queue commits them one
 * transaction at a time (group commit: whatever queued meanwhile goes into the next one), sent in
 * record batches below the topic's max.message.bytes, acks=all, idempotent (kafkajs gives every
 * transactional send sequence numbers, so a retried produce is not stored twice). An append
 * resolves once EndTxn committed (the records are on every in-sync replica and the commit decision
 * is in the replicated transaction log) and the last stable offset passed them: the coordinator
 * writes commit markers after it answers EndTxn, and until they land no read_committed reader
 * sees the entries. A failed transaction poisons the channel in this provider (later appends
 * reject) until it is opened again: its offsets may or may not be in the log, and only a reopen
 * reads which.
 *
 * Reads: kafkajs has no manual partition assignment, so each read (and each tail recovery) is a
 * consumer in a fresh group that seeks on joining and commits nothing. Joining costs the broker's
 * `group.initial.rebalance.delay.ms` (3 s by default; set it to 0 for Harrier). A read stops at
 * the last record committed here when read() was called. Consumers are read_committed.
 *
 * Followers (openReader) take no producer, so they never fence: follow() is one long-lived such
 * consumer; tail() is the next offset below the last stable offset (every acknowledged append is
 * below it, see Appends), taken from the reader's own follow once it caught up that far, or read
 * from the end of the log.
 *
 * Truncate commits a mark first (so a fenced owner fails there), then deleteRecords below the
 * first kept entry's Kafka offset (a lower bound: more may be kept), never past that mark.
 *
 * Durability: acks=all plus the topic's min.insync.replicas (a majority of `replicas` by default)
 * decide how many brokers hold an entry before it is acknowledged. Kafka does not fsync per write
 * by default (it relies on replication); `fsync=true` sets flush.messages=1 on topics it creates.
 */
import { createHash, randomUUID } from 'node:crypto'
import kafkajs, {
  type Admin,
  type Consumer,
  type Kafka,
  type LogEntry,
  type Message,
  type Producer,
  type SASLOptions,
  type Transaction,
} from 'kafkajs'
import { DbError, isDbError, type ErrorKind } from '../../common/errors.js'
import { silentLogger, type Logger } from '../../common/log.js'
import { checkChannelName, type Wal, type WalEntry, type WalOpenOptions, type WalProvider, type WalReader } from './wal.js'

export type KafkaSaslMechanism = 'plain' | 'scram-sha-256' | 'scram-sha-512'

export interface KafkaWalOptions {
  /** `host:port` of one or more brokers of one cluster (bootstrap list). */
  readonly brokers: readonly string[]
  /** Starts every topic, transactional id and group id: 1-64 of [A-Za-z0-9-]. Default 'harrier'. */
  readonly prefix?: string
  /** Replication factor of the topics Harrier creates. Default 1. */
  readonly replicas?: number
  /** min.insync.replicas of the topics Harrier creates. Default: a majority of `replicas`. */
  readonly minInsyncReplicas?: number
  /** Sets flush.messages=1 (fsync every batch) on the topics Harrier creates. Default false. */
  readonly fsync?: boolean
  /** max.message.bytes of the topics Harrier creates. Default 8 MiB. */
  readonly maxMessageBytes?: number
  /** TLS with the system's CAs (plus NODE_EXTRA_CA_CERTS). Default false. */
  readonly tls?: boolean
  readonly sasl?: {
    readonly mechanism: KafkaSaslMechanism
    readonly username: string
    readonly password: string
  }
  readonly log?: Logger
  /** Timeout of each Kafka request. Default 30 s. */
  readonly timeoutMs?: number
  /** Timeout of each TCP connect. Default 3 s. */
  readonly connectTimeoutMs?: number
  /** Retries of each Kafka call before it fails (kafkajs backoff, ~10 s for 5). Default 5. */
  readonly retries?: number
  /**
   * A kafkajs client to use instead of one built from the options above (which then only set
   * topics and timeouts). Tests pass an in-memory model of a broker here.
   */
  readonly client?: Kafka
}

export interface ParsedKafkaUrl {
  brokers: string[]
  prefix: string
  replicas: number
  minInsyncReplicas: number
  fsync: boolean
  maxMessageBytes: number
  tls: boolean
  sasl?: { mechanism: KafkaSaslMechanism; username: string; password: string }
}

const DEFAULT_PREFIX = 'harrier'
const DEFAULT_MAX_MESSAGE_BYTES = 8 << 20
const MIN_MESSAGE_BYTES = 16 << 10
const MAX_MESSAGE_BYTES = 1 << 30
const MAX_REPLICAS = 16
const DEFAULT_TIMEOUT_MS = 30_000
const DEFAULT_CONNECT_TIMEOUT_MS = 3000
const DEFAULT_RETRIES = 5
/** Room for the batch header, key and varints under max.message.bytes. */
const ENTRY_ALLOWANCE = 1024
/** Per-record size counted when packing record batches (key, varints, attributes). */
const RECORD_OVERHEAD = 64
/** One transaction takes at most this much of the queue (it may hold several record batches). */
const TX_MAX_BYTES = 32 << 20
const TX_MAX_ENTRIES = 10_000
/** Kafka offsets in the first tail window; it grows 8x while it holds no committed record. */
const TAIL_WINDOW = 64n
const TRANSACTION_TIMEOUT_MS = 60_000
/** How long a fetch waits at the end of the log: low, since reads end at a known record. */
const FETCH_WAIT_MS = 200
const SESSION_TIMEOUT_MS = 30_000
const HEARTBEAT_MS = 3000
/** A read with no news for this long checks whether what it still wants was truncated. */
const STALL_CHECK_MS = 5000
/** ...and gives up after this long without progress. */
const STALL_LIMIT_MS = 60_000
/** How long tail() waits for the reader's own follow to catch up before reading the log. */
const TAIL_CATCHUP_MS = 2000
const MAX_TOKEN = 128
const MAX_INDEX_PAIRS = 4096
const HOST_PORT = /^[A-Za-z0-9.-]+:\d{1,5}$|^\[[0-9A-Fa-f:.]+\]:\d{1,5}$/
const SASL_MECHANISMS: readonly KafkaSaslMechanism[] = ['plain', 'scram-sha-256', 'scram-sha-512']
const EMPTY = new Uint8Array(0)

// ---- URL and names -------------------------------------------------------------------------

const URL_SHAPE =
  'kafka://[user:password@]host:port[,host:port...][/prefix][?replicas=N&minInsync=N&fsync=true' +
  '&maxMessageBytes=N&tls=true&sasl=plain|scram-sha-256|scram-sha-512]'

/**
 * Parses `kafka://[user:pass@]host:port[,host:port...][/prefix][?params]` by hand, since several
 * hosts are not a WHATWG URL. The password never appears in error messages.
 * @throws DbError('ParameterInvalid')
 */
export function parseKafkaUrl(url: string): ParsedKafkaUrl {
  const m = /^kafka:\/\/(?:([^@/?#]*)@)?([^@/?#]+)(?:\/([^?#]*))?(?:\?([^#]*))?$/.exec(url)
  const shown = maskUrl(url)
  if (!m) throw new DbError('ParameterInvalid', `WAL url ${shown}: expected ${URL_SHAPE}`)
  const brokers = m[2]!.split(',').map((h) => h.trim())
  for (const h of brokers) {
    if (!HOST_PORT.test(h))
      throw new DbError('ParameterInvalid', `WAL url ${shown}: bad Kafka broker ${JSON.stringify(h)}`)
  }
  const prefix = (m[3] ?? '').replace(/\/+$/, '') || DEFAULT_PREFIX
  checkPrefix(prefix)
  const out: ParsedKafkaUrl = {
    brokers,
    prefix,
    replicas: 1,
    minInsyncReplicas: 0,
    fsync: false,
    maxMessageBytes: DEFAULT_MAX_MESSAGE_BYTES,
    tls: false,
  }
  let minInsync: number | undefined
  let mechanism: KafkaSaslMechanism | undefined
  for (const [k, v] of new URLSearchParams(m[4] ?? '')) {
    switch (k) {
      case 'replicas':
        out.replicas = Number(v)
        break
      case 'minInsync':
        minInsync = Number(v)
        break
      case 'fsync':
        out.fsync = parseBool(shown, k, v)
        break
      case 'tls':
        out.tls = parseBool(shown, k, v)
        break
      case 'maxMessageBytes':
        out.maxMessageBytes = Number(v)
        break
      case 'sasl':
        if (!(SASL_MECHANISMS as readonly string[]).includes(v)) {
          throw new DbError(
            'ParameterInvalid',
            `WAL url ${shown}: sasl must be one of ${SASL_MECHANISMS.join(', ')}`,
          )
        }
        mechanism = v as KafkaSaslMechanism
        break
      default:
        throw new DbError(
          'ParameterInvalid',
          `WAL url ${shown}: unknown parameter ${JSON.stringify(k)}`,
        )
    }
  }
  checkTopicSettings(out.replicas, minInsync, out.maxMessageBytes)
  out.minInsyncReplicas = minInsync ?? majority(out.replicas)
  const userinfo = m[1]
  if (userinfo !== undefined || mechanism !== undefined) {
    if (userinfo === undefined || mechanism === undefined) {
      throw new DbError(
        'ParameterInvalid',
        `WAL url ${shown}: SASL needs both user:password@ and ?sasl=<mechanism>`,
      )
    }
    const colon = userinfo.indexOf(':')
    let username: string
    let password: string
    try {
      username = decodeURIComponent(colon < 0 ? userinfo : userinfo.slice(0, colon))
      password = colon < 0 ? '' : decodeURIComponent(userinfo.slice(colon + 1))
    } catch {
      throw new DbError('ParameterInvalid', `WAL url ${shown}: bad percent-encoding in user info`)
    }
    if (username === '')
      throw new DbError('ParameterInvalid', `WAL url ${shown}: empty SASL user name`)
    out.sasl = { mechanism, username, password }
  }
  return out
}

/** The url with any password replaced by `***`. */
function maskUrl(url: string): string {
  return url.replace(/^(kafka:\/\/[^:@/?#]*:)[^@/?#]*@/, '$1***@')
}

function parseBool(shown: string, k: string, v: string): boolean {
  if (v === 'true' || v === '1') return true
  if (v === 'false' || v === '0') return false
  throw new DbError('ParameterInvalid', `WAL url ${shown}: ${k} must be true or false`)
}

function majority(replicas: number): number {
  return Math.floor(replicas / 2) + 1
}

function checkPrefix(prefix: string): void {
  // No '.' (separates prefix, 'wal' and token) and no '_' (keeps topic names collision-free).
  if (!/^[A-Za-z0-9-]{1,64}$/.test(prefix)) {
    throw new DbError(
      'ParameterInvalid',
      `WAL prefix ${JSON.stringify(prefix)}: use 1-64 of [A-Za-z0-9-]`,
    )
  }
}

function checkTopicSettings(
  replicas: number,
  minInsync: number | undefined,
  maxMessageBytes: number,
): void {
  if (!Number.isSafeInteger(replicas) || replicas < 1 || replicas > MAX_REPLICAS) {
    throw new DbError(
      'ParameterInvalid',
      `Kafka WAL replicas must be an integer 1-${MAX_REPLICAS}, got ${replicas}`,
    )
  }
  if (
    minInsync !== undefined &&
    (!Number.isSafeInteger(minInsync) || minInsync < 1 || minInsync > replicas)
  ) {
    throw new DbError(
      'ParameterInvalid',
      `Kafka WAL minInsync must be an integer 1-${replicas} (the replicas), got ${minInsync}`,
    )
  }
  if (
    !Number.isSafeInteger(maxMessageBytes) ||
    maxMessageBytes < MIN_MESSAGE_BYTES ||
    maxMessageBytes > MAX_MESSAGE_BYTES
  ) {
    throw new DbError(
      'ParameterInvalid',
      `Kafka WAL maxMessageBytes must be an integer ${MIN_MESSAGE_BYTES}-${MAX_MESSAGE_BYTES}, got ${maxMessageBytes}`,
    )
  }
}

/** A channel name as a topic-name token: [A-Za-z0-9_-] only, injective (as the NATS adapter's). */
export function kafkaChannelToken(channel: string): string {
  const escaped = channel.replace(/[_.]/g, (c) => (c === '_' ? '__' : '_d'))
  if (escaped.length <= MAX_TOKEN) return escaped
  // Escaped names never contain '_h', so hashed tokens cannot collide with them.
  return `_h${createHash('sha256').update(channel).digest('hex').slice(0, 40)}`
}

/** The topic (and transactional id) of a channel. */
export function kafkaTopic(prefix: string, channel: string): string {
  return `${prefix}.wal.${kafkaChannelToken(channel)}`
}

// ---- record keys -----------------------------------------------------------------------------

const KEY_BYTES = 17
const KIND_ENTRY = 0x45 // 'E'
const KIND_MARK = 0x54 // 'T'

export interface RecordKey {
  readonly kind: 'entry' | 'mark'
  /** Term of the writer. */
  readonly term: number
  /** WAL offset of the entry; for a mark, the offset the next entry gets. */
  readonly offset: bigint
}

export function encodeRecordKey(key: RecordKey): Buffer {
  const b = Buffer.alloc(KEY_BYTES)
  b[0] = key.kind === 'entry' ? KIND_ENTRY : KIND_MARK
  b.writeBigUInt64BE(BigInt(key.term), 1)
  b.writeBigUInt64BE(key.offset, 9)
  return b
}

/** The key of a Harrier record, or undefined for anything else. */
export function decodeRecordKey(b: Uint8Array | null | undefined): RecordKey | undefined {
  if (!b || b.length !== KEY_BYTES) return undefined
  const kind = b[0] === KIND_ENTRY ? 'entry' : b[0] === KIND_MARK ? 'mark' : undefined
  if (!kind) return undefined
  const view = Buffer.from(b.buffer, b.byteOffset, b.byteLength)
  const term = view.readBigUInt64BE(1)
  if (term > BigInt(Number.MAX_SAFE_INTEGER)) return undefined
  return { kind, term: Number(term), offset: view.readBigUInt64BE(9) }
}

// ---- offset index ----------------------------------------------------------------------------

/**
 * Pairs (WAL offset w, Kafka offset k) such that entry w sits at Kafka offset >= k, increasing in
 * both. Entries take distinct increasing Kafka offsets, so entry w + d sits at >= k + d: that is
 * the lower bound reads and truncation start from. Thinned to every other pair when full.
 */
export class OffsetIndex {
  #wal: bigint[] = []
  #kafka: bigint[] = []

  add(wal: bigint, kafka: bigint): void {
    const n = this.#wal.length
    if (n > 0) {
      const lastWal = this.#wal[n - 1]!
      if (wal < lastWal) return
      if (wal === lastWal) {
        if (kafka > this.#kafka[n - 1]!) this.#kafka[n - 1] = kafka
        return
      }
      // A pair can only tighten what the previous one implies, never undercut it.
      const implied = this.#kafka[n - 1]! + (wal - lastWal)
      if (kafka < implied) kafka = implied
    }
    this.#wal.push(wal)
    this.#kafka.push(kafka)
    if (this.#wal.length > MAX_INDEX_PAIRS) {
      const last = this.#wal.length - 1
      const keep = (_: bigint, i: number): boolean => i % 2 === 0 || i === last
      this.#wal = this.#wal.filter(keep)
      this.#kafka = this.#kafka.filter(keep)
    }
  }

  /** A Kafka offset at or before entry `wal`. */
  lowerBound(wal: bigint): bigint {
    let lo = 0
    let hi = this.#wal.length - 1
    let found = -1
    while (lo <= hi) {
      const mid = (lo + hi) >> 1
      if (this.#wal[mid]! <= wal) {
        found = mid
        lo = mid + 1
      } else hi = mid - 1
    }
    if (found < 0) return wal < 0n ? 0n : wal
    return this.#kafka[found]! + (wal - this.#wal[found]!)
  }

  clear(): void {
    this.#wal = []
    this.#kafka = []
  }

  get size(): number {
    return this.#wal.length
  }
}

// ---- errors ----------------------------------------------------------------------------------

const FENCED_TYPES = new Set([
  'INVALID_PRODUCER_EPOCH',
  'PRODUCER_FENCED',
  'INVALID_PRODUCER_ID_MAPPING',
])
const TOO_LARGE_TYPES = new Set(['MESSAGE_TOO_LARGE', 'RECORD_LIST_TOO_LARGE'])
const AUTH_TYPES = new Set([
  'SASL_AUTHENTICATION_FAILED',
  'UNSUPPORTED_SASL_MECHANISM',
  'ILLEGAL_SASL_STATE',
  'TOPIC_AUTHORIZATION_FAILED',
  'GROUP_AUTHORIZATION_FAILED',
  'CLUSTER_AUTHORIZATION_FAILED',
  'TRANSACTIONAL_ID_AUTHORIZATION_FAILED',
])
const CONFIG_TYPES = new Set([
  'INVALID_REPLICATION_FACTOR',
  'INVALID_CONFIG',
  'POLICY_VIOLATION',
  'INVALID_PARTITIONS',
  'INVALID_TOPIC_EXCEPTION',
])
const UNAVAILABLE_TYPES = new Set([
  'LEADER_NOT_AVAILABLE',
  'NOT_LEADER_FOR_PARTITION',
  'REQUEST_TIMED_OUT',
  'BROKER_NOT_AVAILABLE',
  'REPLICA_NOT_AVAILABLE',
  'NETWORK_EXCEPTION',
  'NOT_ENOUGH_REPLICAS',
  'NOT_ENOUGH_REPLICAS_AFTER_APPEND',
  'GROUP_LOAD_IN_PROGRESS',
  'GROUP_COORDINATOR_NOT_AVAILABLE',
  'NOT_COORDINATOR_FOR_GROUP',
  'CONCURRENT_TRANSACTIONS',
  'TRANSACTION_COORDINATOR_FENCED',
  'KAFKA_STORAGE_ERROR',
  'NOT_CONTROLLER',
  'UNKNOWN_TOPIC_OR_PARTITION',
])
const UNAVAILABLE_NAMES = new Set([
  'KafkaJSConnectionError',
  'KafkaJSConnectionClosedError',
  'KafkaJSRequestTimeoutError',
  'KafkaJSNumberOfRetriesExceeded',
  'KafkaJSBrokerNotFound',
  'KafkaJSNoBrokerAvailableError',
  'KafkaJSGroupCoordinatorNotFound',
  'KafkaJSMetadataNotLoaded',
  'KafkaJSTopicMetadataNotLoaded',
  'KafkaJSTimeout',
  'KafkaJSLockTimeout',
])

/** The error, its causes and the errors it aggregates (kafkajs nests them), depth-first. */
function* errorChain(e: unknown, depth = 0): Generator<Record<string, unknown>> {
  if (depth > 8 || e === null || typeof e !== 'object') return
  const o = e as Record<string, unknown>
  yield o
  yield* errorChain(o.cause, depth + 1)
  if (Array.isArray(o.errors)) for (const x of o.errors) yield* errorChain(x, depth + 1)
  if (Array.isArray(o.partitions)) {
    for (const p of o.partitions) yield* errorChain((p as { error?: unknown } | null)?.error, depth + 1)
  }
}

function isFencedError(o: Record<string, unknown>): boolean {
  if (typeof o.type !== 'string') return false
  if (FENCED_TYPES.has(o.type)) return true
  // kafkajs 2.2.4 predates PRODUCER_FENCED (error code 90) and reports it as an unknown code.
  return o.type === 'KAFKAJS_UNKNOWN_ERROR_CODE' && /\bcode 90\b/.test(String(o.message))
}

/** The DbError kind a kafkajs failure maps to. */
export function kafkaErrorKind(e: unknown): ErrorKind {
  if (isDbError(e)) return e.kind
  const chain = [...errorChain(e)]
  const has = (pred: (o: Record<string, unknown>) => boolean): boolean => chain.some(pred)
  const typeIn = (set: Set<string>) => (o: Record<string, unknown>) =>
    typeof o.type === 'string' && set.has(o.type)
  if (has(isFencedError)) return 'ChannelFenced'
  if (has(typeIn(TOO_LARGE_TYPES))) return 'ParameterTooLarge'
  if (has(typeIn(AUTH_TYPES)) || has((o) => o.name === 'KafkaJSSASLAuthenticationError'))
    return 'ServiceInternal'
  if (has(typeIn(CONFIG_TYPES))) return 'ParameterInvalid'
  const unavailableName = (o: Record<string, unknown>): boolean =>
    typeof o.name === 'string' && UNAVAILABLE_NAMES.has(o.name)
  if (has(typeIn(UNAVAILABLE_TYPES)) || has(unavailableName)) return 'ServiceUnavailable'
  return 'IoFailed'
}

/** Wraps any failure of a Kafka call as a DbError (kept as is if it already is one). */
export function wrapKafka(e: unknown, what: string): DbError {
  if (isDbError(e)) return e
  const msg = e instanceof Error ? e.message : String(e)
  return new DbError(kafkaErrorKind(e), `${what}: ${msg}`, { cause: e })
}

// ---- provider --------------------------------------------------------------------------------

interface Job {
  readonly kind: 'entries' | 'mark'
  /** WAL offset of the first entry; for a mark, the offset the next entry gets. */
  readonly base: bigint
  readonly payloads: readonly Buffer[]
  /** Resolves with the Kafka offset of the job's first record, once committed. */
  resolve(kafkaOffset: bigint): void
  reject(e: DbError): void
}

/** The transactional producer of one term, and the appends queued for it. */
interface Writer {
  readonly term: number
  readonly producer: Producer
  readonly queue: Job[]
  /** The loop committing the queue, while it runs. */
  running: Promise<void> | undefined
  /** Set once a transaction failed: every later job rejects with it. */
  failed: DbError | undefined
  retiring: Promise<void> | undefined
}

interface ChannelState {
  readonly name: string
  readonly token: string
  readonly topic: string
  /** Largest payload accepted: the topic's max.message.bytes minus room for the record. */
  readonly maxEntryBytes: number
  /** The topic's max.message.bytes: the record batch limit. */
  readonly maxBatchBytes: number
  /** Highest term opened here or found in the log. */
  term: number
  /** The offset the next append gets. */
  nextOffset: bigint
  /** Entries below are committed: where reads end. */
  committedNext: bigint
  /** Kafka offset of the last committed record (entry or mark); -1 when there is none. */
  lastRecord: bigint
  /** The log's end offset if nobody wrote since our last commit (its commit marker + 1). */
  expectedEnd: bigint | undefined
  readonly index: OffsetIndex
  writer: Writer | undefined
  /** Writers still committing their queue before their producer goes. */
  readonly retiring: Set<Promise<void>>
  readonly open: Set<KafkaWal>
  closed: boolean
}

interface Tail {
  readonly term: number
  readonly next: bigint
  readonly lastRecord: bigint
  /** An index pair the tail implies, if any. */
  readonly pair: readonly [bigint, bigint] | undefined
}

interface ScannedRecord {
  readonly kafka: bigint
  readonly key: Buffer | null
  readonly value: Buffer | null
}

interface ScanOptions {
  /** For error messages: "read WAL channel c". */
  readonly what: string
  /** The scan ends once the record at this Kafka offset was processed; without it, it follows. */
  readonly stopAt?: bigint
  /** Ends the scan (without an error). */
  readonly signal?: AbortSignal
  /** Called, while following, once every record below `position` has been handed out. */
  readonly onCaughtUp?: (position: bigint) => void
}

export class KafkaWalProvider implements WalProvider {
  readonly prefix: string
  readonly #kafka: Kafka
  readonly #admin: Admin
  readonly #log: Logger
  readonly #replicas: number
  readonly #minInsync: number
  readonly #fsync: boolean
  readonly #maxMessageBytes: number
  readonly #timeoutMs: number
  readonly #retries: number
  readonly #channels = new Map<string, ChannelState>()
  /** Aborts of the reads in progress, fired by close(). */
  readonly #scans = new Set<() => void>()
  /** open() calls run one at a time: they read and write term state across awaits. */
  #opening: Promise<unknown> = Promise.resolve()
  #closing: Promise<void> | undefined

  private constructor(
    kafka: Kafka,
    admin: Admin,
    opts: KafkaWalOptions & { readonly prefix: string },
  ) {
    this.#kafka = kafka
    this.#admin = admin
    this.prefix = opts.prefix
    this.#log = opts.log ?? silentLogger()
    this.#replicas = opts.replicas ?? 1
    this.#minInsync = opts.minInsyncReplicas ?? majority(this.#replicas)
    this.#fsync = opts.fsync ?? false
    this.#maxMessageBytes = opts.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES
    this.#timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS
    this.#retries = opts.retries ?? DEFAULT_RETRIES
  }

  /**
   * Connects an admin client to the cluster (topics are created per channel on first open).
   * @throws DbError('ServiceUnavailable') if no broker can be reached, ('ParameterInvalid') for
   *   bad options.
   */
  static async open(opts: KafkaWalOptions): Promise<KafkaWalProvider> {
    const prefix = opts.prefix ?? DEFAULT_PREFIX
    checkPrefix(prefix)
    checkTopicSettings(
      opts.replicas ?? 1,
      opts.minInsyncReplicas,
      opts.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES,
    )
    if (opts.brokers.length === 0)
      throw new DbError('ParameterInvalid', 'Kafka WAL needs at least one broker')
    const log = opts.log ?? silentLogger()
    const kafka = opts.client ?? new kafkajs.Kafka({
      clientId: `harrier-wal-${prefix}`,
      brokers: [...opts.brokers],
      ssl: opts.tls === true ? true : undefined,
      sasl: opts.sasl ? saslOptions(opts.sasl) : undefined,
      connectionTimeout: opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
      requestTimeout: opts.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      enforceRequestTimeout: true,
      retry: { retries: opts.retries ?? DEFAULT_RETRIES },
      logLevel: kafkajs.logLevel.INFO,
      logCreator: kafkaLogCreator(log),
    })
    const admin = kafka.admin()
    const where = opts.brokers.join(',')
    try {
      await admin.connect()
    } catch (e) {
      await admin.disconnect().catch(() => undefined)
      const kind = kafkaErrorKind(e)
      throw new DbError(
        kind === 'IoFailed' ? 'ServiceUnavailable' : kind,
        `cannot reach Kafka at ${where}: ${e instanceof Error ? e.message : String(e)}`,
        { cause: e },
      )
    }
    return new KafkaWalProvider(kafka, admin, { ...opts, prefix, log })
  }

  open(channel: string, opts?: WalOpenOptions): Promise<KafkaWal> {
    const opened = this.#opening.then(() => this.#open(channel, opts))
    this.#opening = opened.catch(() => undefined)
    return opened
  }

  /**
   * A follower's view of a channel (its topic created if missing). Takes no producer, so it never
   * fences the owner; works from any process.
   */
  openReader(channel: string): Promise<KafkaWalReader> {
    const opened = this.#opening.then(async () => {
      if (this.#closing) throw new DbError('ServiceInternal', 'WAL provider is closed')
      checkChannelName(channel)
      const st = this.#channels.get(channel) ?? (await this.#initChannel(channel))
      return new KafkaWalReader(this, st)
    })
    this.#opening = opened.catch(() => undefined)
    return opened
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      await this.#opening
      for (const st of this.#channels.values()) st.closed = true
      for (const abort of [...this.#scans]) abort()
      for (const st of this.#channels.values()) {
        const w = st.writer
        st.writer = undefined
        if (w) await this.retire(st, w)
        while (st.retiring.size > 0) await Promise.all([...st.retiring])
      }
      await this.#admin
        .disconnect()
        .catch((e: unknown) => this.#log.warn({ err: e }, 'Kafka admin disconnect failed'))
    })()
    return this.#closing
  }

  get closing(): boolean {
    return this.#closing !== undefined
  }

  // ---- open and fencing --------------------------------------------------------------------

  async #open(channel: string, opts: WalOpenOptions | undefined): Promise<KafkaWal> {
    if (this.#closing) throw new DbError('ServiceInternal', 'WAL provider is closed')
    checkChannelName(channel)
    const wanted = opts?.term
    if (wanted !== undefined && (!Number.isSafeInteger(wanted) || wanted <= 0)) {
      throw new DbError(
        'ParameterInvalid',
        `WAL channel ${channel}: term must be a positive integer, got ${wanted}`,
      )
    }
    const st = this.#channels.get(channel) ?? (await this.#initChannel(channel))
    // Checked before touching Kafka, so a refused open here does not fence the current owner.
    if (wanted !== undefined) checkTerm(st, wanted, st.term)

    // Older instances here stop writing; what they queued lands before the new producer starts.
    const old = st.writer
    st.writer = undefined
    if (old) void this.retire(st, old)
    while (st.retiring.size > 0) await Promise.all([...st.retiring])

    const producer = this.#kafka.producer({
      transactionalId: st.topic,
      transactionTimeout: TRANSACTION_TIMEOUT_MS,
      maxInFlightRequests: 1,
      // The transactional path of kafkajs is idempotent whatever this says (sequence numbers,
      // acks=-1 enforced); `true` would only add an unused non-transactional producer id.
      idempotent: false,
      allowAutoTopicCreation: false,
      createPartitioner: kafkajs.Partitioners.DefaultPartitioner,
      retry: { retries: this.#retries },
    })
    let tx: Transaction | undefined
    let term: number
    try {
      await producer.connect()
      // InitProducerId: bumps the epoch of the channel's transactional id, which fences the
      // previous owner in every process once its open transaction is completed or aborted.
      tx = await producer.transaction()
      const tail = await this.#recoverTail(st)
      const highest = Math.max(tail.term, st.term)
      st.term = highest
      term = wanted ?? highest + 1
      checkTerm(st, term, highest)
      st.nextOffset = st.committedNext = tail.next
      st.lastRecord = tail.lastRecord
      // Pairs stay true (committed records never move), so the index is only ever extended.
      if (tail.pair) st.index.add(tail.pair[0], tail.pair[1])
      if (term > tail.term) {
        const [k] = await this.#sendAll(tx, st, [markMessage(term, tail.next)])
        await tx.commit()
        await this.#awaitVisible(st, k!)
        st.lastRecord = k!
        st.expectedEnd = k! + 2n
        st.index.add(tail.next, k! + 1n)
      } else {
        await tx.abort() // nothing was sent: local only
      }
      st.term = term
    } catch (e) {
      if (tx?.isActive()) await tx.abort().catch(() => undefined)
      await producer.disconnect().catch(() => undefined)
      st.expectedEnd = undefined
      throw wrapKafka(e, `open WAL channel ${channel}`)
    }
    st.writer = { term, producer, queue: [], running: undefined, failed: undefined, retiring: undefined }
    const wal = new KafkaWal(this, st, term)
    st.open.add(wal)
    this.#log.debug(
      { channel, term, topic: st.topic, nextOffset: String(st.nextOffset) },
      'Kafka WAL channel open',
    )
    return wal
  }

  /** Creates the channel's topic if missing (idempotent across processes) and checks it. */
  async #initChannel(channel: string): Promise<ChannelState> {
    const token = kafkaChannelToken(channel)
    const topic = `${this.prefix}.wal.${token}`
    const configEntries = [
      { name: 'cleanup.policy', value: 'delete' },
      // Harrier truncates explicitly once a checkpoint is durable; age or size must never do it.
      { name: 'retention.ms', value: '-1' },
      { name: 'retention.bytes', value: '-1' },
      { name: 'min.insync.replicas', value: String(this.#minInsync) },
      { name: 'max.message.bytes', value: String(this.#maxMessageBytes) },
      { name: 'unclean.leader.election.enable', value: 'false' },
      ...(this.#fsync ? [{ name: 'flush.messages', value: '1' }] : []),
    ]
    let created = false
    try {
      created = await this.#admin.createTopics({
        topics: [{ topic, numPartitions: 1, replicationFactor: this.#replicas, configEntries }],
        waitForLeaders: true,
        timeout: this.#timeoutMs,
      })
    } catch (e) {
      const err = wrapKafka(e, `create topic ${topic}`)
      // Managed clusters often deny CreateTopics: a topic made by an operator is fine (checked below).
      if (err.kind !== 'ServiceInternal') throw err
      this.#log.warn(
        { topic, err: err.message },
        'Kafka WAL cannot create topics; expecting the topic to exist',
      )
    }
    const meta = await this.#api(`describe topic ${topic}`, () =>
      this.#admin.fetchTopicMetadata({ topics: [topic] }),
    )
    const partitions = meta.topics.find((t) => t.name === topic)?.partitions.length ?? 0
    if (partitions !== 1) {
      throw new DbError(
        'ServiceInternal',
        `Kafka topic ${topic} has ${partitions} partitions; a WAL channel needs exactly 1`,
      )
    }
    const configs = await this.#api(`describe configs of topic ${topic}`, () =>
      this.#admin.describeConfigs({
        resources: [
          {
            type: kafkajs.ConfigResourceTypes.TOPIC,
            name: topic,
            configNames: ['max.message.bytes', 'retention.ms', 'retention.bytes', 'cleanup.policy'],
          },
        ],
        includeSynonyms: false,
      }),
    )
    const entries = configs.resources[0]?.configEntries ?? []
    const value = (name: string): string | undefined =>
      entries.find((c) => c.configName === name)?.configValue
    const maxBatchBytes = Number(value('max.message.bytes') ?? this.#maxMessageBytes)
    if (!Number.isSafeInteger(maxBatchBytes) || maxBatchBytes <= ENTRY_ALLOWANCE) {
      throw new DbError('ServiceInternal', `Kafka topic ${topic}: max.message.bytes is ${maxBatchBytes}`)
    }
    if (
      value('retention.ms') !== '-1' ||
      value('retention.bytes') !== '-1' ||
      value('cleanup.policy') !== 'delete'
    ) {
      // A topic made outside Harrier: let it run, but unflushed entries may expire with it.
      this.#log.warn(
        {
          topic,
          retentionMs: value('retention.ms'),
          retentionBytes: value('retention.bytes'),
          cleanupPolicy: value('cleanup.policy'),
        },
        'Kafka WAL topic may delete entries on its own: set retention.ms=-1, retention.bytes=-1, cleanup.policy=delete',
      )
    }
    if (created) this.#log.info({ topic, replicas: this.#replicas }, 'Kafka WAL topic created')
    const st: ChannelState = {
      name: channel,
      token,
      topic,
      maxEntryBytes: maxBatchBytes - ENTRY_ALLOWANCE,
      maxBatchBytes,
      term: 0,
      nextOffset: 0n,
      committedNext: 0n,
      lastRecord: -1n,
      expectedEnd: undefined,
      index: new OffsetIndex(),
      writer: undefined,
      retiring: new Set(),
      open: new Set(),
      closed: false,
    }
    this.#channels.set(channel, st)
    return st
  }

  /**
   * The last committed record after fencing: highest term, next offset. Unless the end is where
   * our own last commit left it, read from the log.
   */
  async #recoverTail(st: ChannelState): Promise<Tail> {
    const { low, high } = await this.#offsets(st)
    if (st.expectedEnd !== undefined && high === st.expectedEnd && st.lastRecord >= 0n) {
      return { term: st.term, next: st.committedNext, lastRecord: st.lastRecord, pair: undefined }
    }
    st.expectedEnd = undefined
    return this.#tailAt(st, low, high, `recover WAL channel ${st.name}`)
  }

  /**
   * The last committed record below Kafka offset `high` (a last stable offset), found in a window
   * before it that grows until it holds one.
   */
  async #tailAt(st: ChannelState, low: bigint, high: bigint, what: string): Promise<Tail> {
    if (high <= low) {
      if (high === 0n) return { term: 0, next: 0n, lastRecord: -1n, pair: undefined }
      throw new DbError(
        'DataCorrupted',
        `WAL channel ${st.name}: topic ${st.topic} is empty at offset ${high}; its records were deleted outside Harrier (retention?), so the next WAL offset is unknown`,
      )
    }
    for (let window = TAIL_WINDOW; ; window *= 8n) {
      const start = high - window > low ? high - window : low
      let last: ScannedRecord | undefined
      for await (const r of this.#scan(st, start, { what, stopAt: high - 1n })) last = r
      if (last) {
        const key = decodeRecordKey(last.key)
        if (!key) throw foreignRecord(st, last.kafka)
        if (key.kind === 'entry') {
          const pair = [key.offset, last.kafka] as const
          return { term: key.term, next: key.offset + 1n, lastRecord: last.kafka, pair }
        }
        // The next entry sits after the mark.
        const pair = [key.offset, last.kafka + 1n] as const
        return { term: key.term, next: key.offset, lastRecord: last.kafka, pair }
      }
      if (start === low) {
        // Only aborted records and markers: nothing was ever committed, unless someone deleted it.
        if (low === 0n) return { term: 0, next: 0n, lastRecord: -1n, pair: undefined }
        throw new DbError(
          'DataCorrupted',
          `WAL channel ${st.name}: topic ${st.topic} holds no committed record from offset ${low}; they were deleted outside Harrier, so the next WAL offset is unknown`,
        )
      }
    }
  }

  /**
   * Waits until the record at Kafka offset `record` is below the last stable offset. EndTxn
   * returns before the coordinator wrote the commit markers, and until they land read_committed
   * consumers (and followers' tail()) cannot see the transaction: an append resolves after that.
   */
  async #awaitVisible(st: ChannelState, record: bigint): Promise<void> {
    const deadline = Date.now() + STALL_LIMIT_MS
    for (let delay = 1; ; delay = Math.min(delay * 2, 50)) {
      const { high } = await this.#offsets(st)
      if (high > record) return
      if (Date.now() > deadline) {
        throw new DbError(
          'ServiceUnavailable',
          `WAL channel ${st.name}: committed record ${record} of topic ${st.topic} still not visible after ${STALL_LIMIT_MS / 1000} s (last stable offset ${high})`,
        )
      }
      await new Promise((resolve) => setTimeout(resolve, delay))
    }
  }

  async #offsets(st: ChannelState): Promise<{ low: bigint; high: bigint }> {
    const parts = await this.#api(`read offsets of WAL channel ${st.name}`, () =>
      this.#admin.fetchTopicOffsets(st.topic),
    )
    const p = parts.find((x) => x.partition === 0)
    if (!p) {
      throw new DbError('ServiceUnavailable', `Kafka topic ${st.topic}: no offsets for partition 0`)
    }
    // Listed read_committed: `high` is the last stable offset.
    return { low: BigInt(p.low), high: BigInt(p.high) }
  }

  /** Stops a writer: no new jobs, its queue committed, its producer disconnected. Idempotent. */
  retire(st: ChannelState, w: Writer): Promise<void> {
    if (!w.retiring) {
      const retiring = (async () => {
        while (w.running) await w.running
        await w.producer
          .disconnect()
          .catch((e: unknown) => this.#log.warn({ err: e }, 'Kafka producer disconnect failed'))
      })()
      w.retiring = retiring
      // A new owner's producer must not fence appends still draining here (see #open).
      st.retiring.add(retiring)
      void retiring.finally(() => st.retiring.delete(retiring))
    }
    return w.retiring
  }

  // ---- appends -----------------------------------------------------------------------------

  /** Queues a job on the writer; resolves once its transaction committed. */
  enqueue(st: ChannelState, w: Writer, job: Omit<Job, 'resolve' | 'reject'>): Promise<bigint> {
    return new Promise<bigint>((resolve, reject) => {
      if (w.failed) return reject(w.failed)
      if (w.retiring) return reject(fenced(st, w.term, 'the channel is being reopened'))
      w.queue.push({ ...job, resolve, reject })
      this.#kick(st, w)
    })
  }

  #kick(st: ChannelState, w: Writer): void {
    if (w.running) return
    w.running = (async () => {
      while (w.queue.length > 0) await this.#commitJobs(st, w, takeJobs(w.queue))
      // No await between the last check and this: a job queued later starts a new loop.
      w.running = undefined
    })()
  }

  /** Commits `jobs` in one transaction; settles each of them, never throws. */
  async #commitJobs(st: ChannelState, w: Writer, jobs: Job[]): Promise<void> {
    if (w.failed) {
      for (const j of jobs) j.reject(w.failed)
      return
    }
    const messages: Message[] = []
    for (const j of jobs) {
      if (j.kind === 'mark') messages.push(markMessage(w.term, j.base))
      else {
        j.payloads.forEach((value, i) => {
          messages.push({
            key: encodeRecordKey({ kind: 'entry', term: w.term, offset: j.base + BigInt(i) }),
            value,
            partition: 0,
          })
        })
      }
    }
    let offsets: bigint[]
    try {
      const tx = await w.producer.transaction()
      try {
        offsets = await this.#sendAll(tx, st, messages)
        await tx.commit()
      } catch (e) {
        if (tx.isActive()) await tx.abort().catch(() => undefined)
        throw e
      }
      await this.#awaitVisible(st, offsets[offsets.length - 1]!)
    } catch (e) {
      st.expectedEnd = undefined
      const err = wrapKafka(e, `append to WAL channel ${st.name} (term ${w.term})`)
      if (err.kind === 'ChannelFenced') {
        w.failed = fenced(st, w.term, 'a newer owner started a producer with its transactional id', err)
        for (const j of jobs) j.reject(w.failed)
      } else {
        w.failed = new DbError(err.kind, `${err.message}; reopen the channel to continue`, {
          cause: err,
        })
        for (const j of jobs) j.reject(err)
      }
      return
    }
    st.lastRecord = offsets[offsets.length - 1]!
    st.expectedEnd = st.lastRecord + 2n
    let i = 0
    for (const j of jobs) {
      const first = offsets[i]!
      if (j.kind === 'mark') {
        // The next entry sits after the mark.
        st.index.add(j.base, first + 1n)
        i += 1
      } else {
        st.index.add(j.base, first)
        i += j.payloads.length
        const end = j.base + BigInt(j.payloads.length)
        if (end > st.committedNext) st.committedNext = end
      }
      j.resolve(first)
    }
  }

  /**
   * Sends `messages` in the transaction as record batches that fit max.message.bytes, one after
   * the other (kafkajs merges one send into one batch). Returns each message's Kafka offset.
   */
  async #sendAll(tx: Transaction, st: ChannelState, messages: readonly Message[]): Promise<bigint[]> {
    const out: bigint[] = []
    const budget = st.maxBatchBytes - ENTRY_ALLOWANCE / 2
    for (let i = 0; i < messages.length; ) {
      let bytes = 0
      let j = i
      while (j < messages.length) {
        const size = (messages[j]!.value as Buffer).length + RECORD_OVERHEAD
        if (j > i && bytes + size > budget) break
        bytes += size
        j++
      }
      const chunk = messages.slice(i, j)
      const md = await tx.send({ topic: st.topic, messages: chunk, acks: -1, timeout: this.#timeoutMs })
      const base = md.find((r) => r.topicName === st.topic && r.partition === 0)?.baseOffset
      if (base === undefined) {
        throw new DbError('IoFailed', `Kafka acknowledged no offset for topic ${st.topic}`)
      }
      const b = BigInt(base)
      chunk.forEach((_, k) => out.push(b + BigInt(k)))
      i = j
    }
    return out
  }

  // ---- reads and truncation ------------------------------------------------------------------

  /** Entries `from` <= offset < `end`, reading no further than Kafka offset `stopAt`. */
  async *readEntries(
    st: ChannelState,
    from: bigint,
    end: bigint,
    stopAt: bigint,
  ): AsyncGenerator<WalEntry> {
    const what = `read WAL channel ${st.name}`
    let next = from
    for await (const r of this.#scan(st, st.index.lowerBound(from), { what, stopAt })) {
      const key = decodeRecordKey(r.key)
      if (!key) throw foreignRecord(st, r.kafka)
      if (key.kind !== 'entry' || key.offset < next) continue
      if (key.offset >= end) return
      next = key.offset + 1n
      // Copied out: kafkajs hands out slices of the whole fetch response.
      yield { offset: key.offset, payload: new Uint8Array(r.value ?? EMPTY) }
      if (next >= end) return
    }
  }

  async truncate(st: ChannelState, w: Writer, before: bigint): Promise<void> {
    // The mark commits only while this owner's epoch is current: a fenced owner stops here. It
    // also becomes the last record, which the deletion below never reaches.
    const markNext = st.nextOffset
    const mark = await this.enqueue(st, w, { kind: 'mark', base: markNext, payloads: [] })
    let cut = before >= markNext ? mark : st.index.lowerBound(before)
    if (cut > mark) cut = mark
    const { low } = await this.#offsets(st)
    if (cut <= low) return
    await this.#api(`truncate WAL channel ${st.name}`, () =>
      this.#admin.deleteTopicRecords({
        topic: st.topic,
        partitions: [{ partition: 0, offset: String(cut) }],
      }),
    )
  }

  // ---- followers -----------------------------------------------------------------------------

  /**
   * The offset the next entry gets, as the log shows now. Appends resolve only once visible to
   * read_committed consumers, so every acknowledged one is below the last stable offset read
   * here; what is below it is taken from the reader's own follow once it caught up that far, or
   * else read from the end of the log (a consumer join).
   */
  async readerTail(st: ChannelState, r: ReaderState): Promise<bigint> {
    if (this.#closing) throw new DbError('ServiceInternal', 'WAL provider is closed')
    const what = `read the tail of WAL channel ${st.name}`
    const { low, high } = await this.#offsets(st)
    if (high === 0n) return 0n
    // The owner in this provider, and nobody wrote since its last commit.
    if (st.expectedEnd === high && st.lastRecord >= 0n) return st.committedNext
    const covered = (): boolean => r.known !== undefined && r.known.end >= high
    if (r.following > 0 && !covered()) {
      const deadline = Date.now() + TAIL_CATCHUP_MS
      while (!covered() && Date.now() < deadline) {
        let fire: (() => void) | undefined
        await signalOrTimeout(deadline - Date.now(), (f) => {
          fire = f
          r.waiters.add(f)
        })
        if (fire) r.waiters.delete(fire)
      }
    }
    if (r.known && covered()) return r.known.next
    return (await this.#tailAt(st, low, high, what)).next
  }

  /** Entries from `from` on, then new ones as they commit, until `signal` aborts. */
  async *follow(
    st: ChannelState,
    from: bigint,
    signal: AbortSignal,
    r: ReaderState,
  ): AsyncGenerator<WalEntry> {
    const what = `follow WAL channel ${st.name}`
    let next = from < 0n ? 0n : from
    /** The offset the next entry gets after the last record seen (entry or mark). */
    let seenNext: bigint | undefined
    const onCaughtUp = (position: bigint): void => {
      if (seenNext === undefined) return
      r.known = { end: position, next: seenNext }
      for (const f of [...r.waiters]) f()
    }
    r.following++
    try {
      for await (const rec of this.#scan(st, st.index.lowerBound(next), { what, signal, onCaughtUp })) {
        const key = decodeRecordKey(rec.key)
        if (!key) throw foreignRecord(st, rec.kafka)
        seenNext = key.kind === 'entry' ? key.offset + 1n : key.offset
        // Truncated entries are simply absent: the first one seen may be past `from`.
        if (key.kind !== 'entry' || key.offset < next) continue
        next = key.offset + 1n
        yield { offset: key.offset, payload: new Uint8Array(rec.value ?? EMPTY) }
        if (signal.aborted) return
      }
    } finally {
      r.following--
    }
  }

  /**
   * The committed records of the channel's partition from Kafka offset `start` on (read_committed:
   * aborted records and markers are skipped, but count as processed), until the one at `stopAt`
   * was processed, or, without `stopAt`, until `signal` aborts.
   */
  async *#scan(st: ChannelState, start: bigint, opts: ScanOptions): AsyncGenerator<ScannedRecord> {
    const { what, stopAt, signal } = opts
    if (stopAt !== undefined && stopAt < start) return
    if (this.#closing) throw new DbError('ServiceInternal', 'WAL provider is closed')
    if (signal?.aborted) return
    // Below the log start the first fetch would fail (and kafkajs log an error) before resetting.
    const { low } = await this.#offsets(st)
    if (start < low) start = low
    if (stopAt !== undefined && stopAt < start) return
    const fetchBytes = Math.max(1 << 20, st.maxBatchBytes)
    const consumer: Consumer = this.#kafka.consumer({
      groupId: `${this.prefix}.wal-reader.${st.token}.${randomUUID()}`,
      allowAutoTopicCreation: false,
      maxBytesPerPartition: fetchBytes,
      maxBytes: fetchBytes,
      maxWaitTimeInMs: FETCH_WAIT_MS,
      sessionTimeout: SESSION_TIMEOUT_MS,
      heartbeatInterval: HEARTBEAT_MS,
      retry: { retries: this.#retries, restartOnFailure: async () => false },
    })
    const items: ScannedRecord[] = []
    let head = 0
    /** The next Kafka offset to process: where a (re)join seeks. */
    let position = start
    let reported = start
    let failure: DbError | undefined
    let done = false
    let lastNews = Date.now()
    let wake: (() => void) | undefined
    let taken: (() => void) | undefined
    const notify = (): void => {
      lastNews = Date.now()
      const f = wake
      wake = undefined
      f?.()
    }
    const processed = (last: bigint): void => {
      if (last + 1n > position) position = last + 1n
    }
    consumer.on(consumer.events.GROUP_JOIN, () => {
      // Runs before the first fetch of the new generation, so no batch from elsewhere arrives.
      try {
        consumer.seek({ topic: st.topic, partition: 0, offset: String(position) })
      } catch (e) {
        failure ??= wrapKafka(e, what)
        notify()
      }
    })
    // Batches of only aborted records or markers skip eachBatch, but report their last offset here.
    consumer.on(consumer.events.END_BATCH_PROCESS, (ev) => {
      if (ev.payload.topic !== st.topic || ev.payload.partition !== 0) return
      processed(BigInt(ev.payload.lastOffset))
      notify()
    })
    consumer.on(consumer.events.CRASH, (ev) => {
      failure ??= wrapKafka(ev.payload.error, what)
      notify()
    })
    const abort = (): void => {
      failure ??= new DbError('ServiceInternal', 'WAL provider is closed')
      notify()
    }
    this.#scans.add(abort)
    signal?.addEventListener('abort', notify)
    try {
      await consumer.connect()
      await consumer.subscribe({ topics: [st.topic], fromBeginning: true })
      await consumer.run({
        autoCommit: false,
        eachBatch: async ({ batch, isStale, heartbeat }) => {
          if (done || isStale()) return
          for (const m of batch.messages) {
            const offset = BigInt(m.offset)
            if (offset >= position) items.push({ kafka: offset, key: m.key, value: m.value })
          }
          processed(BigInt(batch.lastOffset()))
          notify()
          // Held until the generator took the batch: one fetch in memory per read.
          while (!done && head < items.length) {
            await signalOrTimeout(HEARTBEAT_MS, (fire) => {
              taken = fire
            })
            if (!done) await heartbeat().catch(() => undefined)
          }
        },
      })
      for (;;) {
        if (signal?.aborted) return
        if (head < items.length) {
          const r = items[head++]!
          if (head === items.length) {
            items.length = 0
            head = 0
            const t = taken
            taken = undefined
            t?.()
          }
          yield r
          continue
        }
        if (failure) throw failure
        if (stopAt !== undefined && position > stopAt) return
        if (position > reported) {
          // Everything below `position` has been handed out.
          reported = position
          opts.onCaughtUp?.(position)
        }
        const news = await signalOrTimeout(STALL_CHECK_MS, (fire) => {
          wake = fire
        })
        if (news || stopAt === undefined) continue
        wake = undefined
        // Nothing for a while: if what we still wanted was truncated meanwhile, we are done.
        const { low } = await this.#offsets(st)
        if (low > stopAt) return
        if (Date.now() - lastNews > STALL_LIMIT_MS) {
          throw new DbError(
            'ServiceUnavailable',
            `${what}: no progress past Kafka offset ${position} of topic ${st.topic} for ${STALL_LIMIT_MS / 1000} s`,
          )
        }
      }
    } catch (e) {
      throw wrapKafka(e, what)
    } finally {
      done = true
      wake = undefined
      this.#scans.delete(abort)
      signal?.removeEventListener('abort', notify)
      const t = taken
      taken = undefined
      t?.()
      await consumer
        .disconnect()
        .catch((e: unknown) =>
          this.#log.warn({ err: e, topic: st.topic }, 'Kafka consumer disconnect failed'),
        )
    }
  }

  async #api<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn()
    } catch (e) {
      throw wrapKafka(e, what)
    }
  }
}

interface ReaderState {
  /** Set by a follow once caught up: every record below `end` seen, the next entry gets `next`. */
  known: { readonly end: bigint; readonly next: bigint } | undefined
  /** Follows in progress. */
  following: number
  /** tail() calls waiting for a follow to catch up. */
  readonly waiters: Set<() => void>
}

/** A follower's view of one channel (see `WalReader`). */
export class KafkaWalReader implements WalReader {
  readonly channel: string
  readonly #provider: KafkaWalProvider
  readonly #st: ChannelState
  readonly #state: ReaderState = { known: undefined, following: 0, waiters: new Set() }

  constructor(provider: KafkaWalProvider, st: ChannelState) {
    this.#provider = provider
    this.#st = st
    this.channel = st.name
  }

  tail(): Promise<bigint> {
    return this.#provider.readerTail(this.#st, this.#state)
  }

  follow(from: bigint, signal: AbortSignal): AsyncIterable<WalEntry> {
    if (typeof from !== 'bigint')
      throw new DbError('ParameterInvalid', `WAL follow offset must be a bigint`)
    return this.#provider.follow(this.#st, from, signal, this.#state)
  }
}

/** A `Wal` instance: one channel as seen by one owner (term). */
export class KafkaWal implements Wal {
  readonly channel: string
  readonly term: number
  readonly #provider: KafkaWalProvider
  readonly #st: ChannelState
  #closed = false

  constructor(provider: KafkaWalProvider, st: ChannelState, term: number) {
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
    const w = this.#writer()
    const limit = this.#st.maxEntryBytes
    for (const p of payloads) {
      if (!(p instanceof Uint8Array))
        throw new DbError('ParameterInvalid', `WAL payload must be a Uint8Array`)
      if (p.length > limit) {
        throw new DbError(
          'ParameterTooLarge',
          `WAL entry of ${p.length} bytes exceeds the ${limit} bytes that topic ${this.#st.topic}'s max.message.bytes allows`,
        )
      }
    }
    if (payloads.length === 0) return []
    const st = this.#st
    // Offsets are assigned here, synchronously, so concurrent appends commit in call order.
    const base = st.nextOffset
    st.nextOffset += BigInt(payloads.length)
    // Copied in: the caller may reuse its buffers once append returns, before the bytes are sent.
    await this.#provider.enqueue(st, w, {
      kind: 'entries',
      base,
      payloads: payloads.map((p) => Buffer.from(p)),
    })
    return payloads.map((_, i) => base + BigInt(i))
  }

  read(from: bigint): AsyncIterable<WalEntry> {
    this.#usable()
    if (typeof from !== 'bigint')
      throw new DbError('ParameterInvalid', `WAL read offset must be a bigint`)
    // The end is fixed now, synchronously: entries committed after this call are not read.
    const st = this.#st
    const end = st.committedNext
    const start = from < 0n ? 0n : from
    if (start >= end) return (async function* () {})()
    return this.#provider.readEntries(st, start, end, st.lastRecord)
  }

  async truncate(before: bigint): Promise<void> {
    const w = this.#writer()
    if (typeof before !== 'bigint')
      throw new DbError('ParameterInvalid', `WAL truncate offset must be a bigint`)
    await this.#provider.truncate(this.#st, w, before)
  }

  nextOffset(): bigint {
    return this.#st.nextOffset
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    const st = this.#st
    st.open.delete(this)
    const w = st.writer
    if (!w || w.term !== this.term) return
    if ([...st.open].some((i) => i.term === this.term)) {
      while (w.running) await w.running
      return
    }
    // The last instance of the owner's term: its producer goes (after the queue is committed).
    st.writer = undefined
    await this.#provider.retire(st, w)
  }

  #usable(): void {
    if (this.#closed || this.#st.closed || this.#provider.closing) {
      throw new DbError(
        'ServiceInternal',
        `WAL channel ${this.channel} (term ${this.term}) is closed`,
      )
    }
  }

  /** The writer this instance may append through. */
  #writer(): Writer {
    this.#usable()
    const st = this.#st
    if (st.term > this.term) {
      throw new DbError(
        'ChannelFenced',
        `WAL channel ${this.channel}: term ${this.term} is fenced by term ${st.term}`,
      )
    }
    const w = st.writer
    if (!w || w.term !== this.term) throw fenced(st, this.term, 'the channel is being reopened')
    if (w.failed) throw w.failed
    return w
  }
}

// ---- helpers ---------------------------------------------------------------------------------

/** Refuses `term` if it is below the highest, or is the highest while an instance here holds it. */
function checkTerm(st: ChannelState, term: number, highest: number): void {
  if (term < highest) {
    throw new DbError(
      'ChannelFenced',
      `WAL channel ${st.name}: term ${term} is below the highest term ${highest}`,
    )
  }
  if (term === highest && [...st.open].some((w) => w.term === term)) {
    throw new DbError('ChannelFenced', `WAL channel ${st.name}: term ${term} is already open`)
  }
}

function fenced(st: ChannelState, term: number, why: string, cause?: unknown): DbError {
  return new DbError('ChannelFenced', `WAL channel ${st.name}: term ${term} is fenced (${why})`, {
    cause,
  })
}

function foreignRecord(st: ChannelState, kafkaOffset: bigint): DbError {
  return new DbError(
    'DataCorrupted',
    `WAL channel ${st.name}: topic ${st.topic} has a record Harrier did not write at offset ${kafkaOffset}`,
  )
}

function markMessage(term: number, next: bigint): Message {
  const key = encodeRecordKey({ kind: 'mark', term, offset: next })
  return { key, value: Buffer.alloc(0), partition: 0 }
}

/** The first jobs of the queue, up to one transaction's worth (at least one job). */
function takeJobs(queue: Job[]): Job[] {
  let bytes = 0
  let entries = 0
  let n = 0
  while (n < queue.length) {
    const j = queue[n]!
    const size = j.payloads.reduce((s, p) => s + p.length, 0)
    if (n > 0 && (bytes + size > TX_MAX_BYTES || entries + j.payloads.length > TX_MAX_ENTRIES)) break
    bytes += size
    entries += j.payloads.length
    n++
  }
  return queue.splice(0, n)
}

function saslOptions(s: NonNullable<KafkaWalOptions['sasl']>): SASLOptions {
  const { username, password } = s
  switch (s.mechanism) {
    case 'plain':
      return { mechanism: 'plain', username, password }
    case 'scram-sha-256':
      return { mechanism: 'scram-sha-256', username, password }
    case 'scram-sha-512':
      return { mechanism: 'scram-sha-512', username, password }
  }
}

/** True once `register`'s callback fires, false after `ms` (the timer is cleared either way). */
function signalOrTimeout(ms: number, register: (fire: () => void) => void): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), Math.max(0, ms))
    register(() => {
      clearTimeout(timer)
      resolve(true)
    })
  })
}

/** kafkajs log lines into our logger: its errors are mostly retries, so they are warnings. */
function kafkaLogCreator(log: Logger): () => (entry: LogEntry) => void {
  return () =>
    ({ namespace, level, log: entry }) => {
      const { message, timestamp: _t, logger: _l, ...extra } = entry
      const obj = { kafkajs: namespace, ...extra }
      if (level === kafkajs.logLevel.ERROR || level === kafkajs.logLevel.WARN) log.warn(obj, message)
      else log.debug(obj, message)
    }
}
