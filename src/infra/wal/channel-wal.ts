/**
 * What both WAL providers share: channel-name rules, terms and fencing, and the `Wal` instances
 * handed out. An adapter supplies only a `ChannelLog` per channel (the actual log, shared by every
 * instance of that channel) and term persistence.
 */
import { DbError } from '../../common/errors.js'
import { checkChannelName, type Wal, type WalEntry, type WalOpenOptions, type WalProvider, type WalReader } from './wal.js'

export interface WalStats {
  /** append/appendBatch calls. */
  readonly appends: number
  /** Entries appended. */
  readonly entries: number
  /** Durable writes (one per group-commit batch, plus one per segment roll inside a batch). */
  readonly flushes: number
  /** fdatasync calls on segment files (0 for memory and for fsync: false). */
  readonly fsyncs: number
}

/** One channel's log. Offsets are assigned synchronously, in call order. */
export interface ChannelLog {
  append(payloads: readonly Uint8Array[]): Promise<bigint[]>
  read(from: bigint): AsyncIterable<WalEntry>
  truncate(before: bigint): Promise<void>
  nextOffset(): bigint
  /** Resolves once no append is queued or in flight. */
  drain(): Promise<void>
  stats(): WalStats
  close(): Promise<void>
}

interface ChannelState {
  readonly name: string
  readonly log: ChannelLog
  /** Highest term opened; instances with a lower one are fenced. */
  term: number
  readonly open: Set<ChannelWal>
  closed: boolean
}


export abstract class BaseWalProvider implements WalProvider {
  readonly #channels = new Map<string, ChannelState>()
  /** open() calls run one at a time: they read and write term state across awaits. */
  #opening: Promise<unknown> = Promise.resolve()
  #closing: Promise<void> | undefined

  /** Opens (creating or recovering) the log of `channel`, with the highest term it has seen. */
  protected abstract openLog(channel: string): Promise<{ log: ChannelLog; highestTerm: number }>
  /** Makes `term` the channel's highest term, durably, before any instance uses it. */
  protected abstract saveTerm(channel: string, term: number): Promise<void>
  /** Called once by close() after every log closed. */
  protected abstract closeResources(): Promise<void>

  open(channel: string, opts?: WalOpenOptions): Promise<ChannelWal> {
    const opened = this.#opening.then(() => this.#open(channel, opts))
    this.#opening = opened.catch(() => undefined)
    return opened
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      await this.#opening
      for (const st of this.#channels.values()) {
        st.closed = true
        await st.log.close()
      }
      await this.closeResources()
    })()
    return this.#closing
  }

  /** In-process followers (tests, standalone tools): they poll the shared log. */
  openReader(channel: string): Promise<WalReader> {
    const opened = this.#opening.then(async () => {
      const st = await this.#state(channel)
      return {
        channel,
        tail: async () => st.log.nextOffset(),
        follow: (from: bigint, signal: AbortSignal) => followLog(st, from, signal),
      }
    })
    this.#opening = opened.catch(() => undefined)
    return opened
  }

  async #state(channel: string): Promise<ChannelState> {
    if (this.#closing) throw new DbError('ServiceInternal', 'WAL provider is closed')
    checkChannelName(channel)
    let st = this.#channels.get(channel)
    if (!st) {
      const { log, highestTerm } = await this.openLog(channel)
      st = { name: channel, log, term: highestTerm, open: new Set(), closed: false }
      this.#channels.set(channel, st)
    }
    return st
  }

  async #open(channel: string, opts: WalOpenOptions | undefined): Promise<ChannelWal> {
    const st = await this.#state(channel)
    const term = opts?.term ?? st.term + 1
    if (!Number.isSafeInteger(term) || term <= 0) {
      throw new DbError(
        'ParameterInvalid',
        `WAL channel ${channel}: term must be a positive integer, got ${term}`,
      )
    }
    if (term < st.term) {
      throw new DbError(
        'ChannelFenced',
        `WAL channel ${channel}: term ${term} is below the highest term ${st.term}`,
      )
    }
    if (term === st.term && [...st.open].some((w) => w.term === term)) {
      throw new DbError('ChannelFenced', `WAL channel ${channel}: term ${term} is already open`)
    }
    if (term > st.term) {
      await this.saveTerm(channel, term)
      st.term = term // fences every older instance from here on
    }
    // Appends the fenced instances issued before this point complete before the new owner reads.
    await st.log.drain()
    const wal = new ChannelWal(st, term)
    st.open.add(wal)
    return wal
  }
}

async function* followLog(st: ChannelState, from: bigint, signal: AbortSignal): AsyncGenerator<WalEntry> {
  let next = from < 0n ? 0n : from
  while (!signal.aborted && !st.closed) {
    for await (const e of st.log.read(next)) {
      if (signal.aborted) return
      yield e
      next = e.offset + 1n
    }
    // In-process logs have no push notification; a short poll keeps followers within a few ms.
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, 5)
      signal.addEventListener('abort', () => {
        clearTimeout(t)
        resolve()
      }, { once: true })
    })
  }
}

/** A `Wal` instance: one channel as seen by one owner (term). */
export class ChannelWal implements Wal {
  readonly channel: string
  readonly term: number
  readonly #st: ChannelState
  #closed = false

  constructor(st: ChannelState, term: number) {
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
    for (const p of payloads) {
      if (!(p instanceof Uint8Array))
        throw new DbError('ParameterInvalid', `WAL payload must be a Uint8Array`)
    }
    return this.#st.log.append(payloads)
  }

  read(from: bigint): AsyncIterable<WalEntry> {
    this.#usable()
    if (typeof from !== 'bigint')
      throw new DbError('ParameterInvalid', `WAL read offset must be a bigint`)
    return this.#st.log.read(from < 0n ? 0n : from)
  }

  async truncate(before: bigint): Promise<void> {
    this.#writable()
    if (typeof before !== 'bigint')
      throw new DbError('ParameterInvalid', `WAL truncate offset must be a bigint`)
    await this.#st.log.truncate(before)
  }

  nextOffset(): bigint {
    return this.#st.log.nextOffset()
  }

  /** Counters of the channel's log (shared by every instance of the channel). */
  stats(): WalStats {
    return this.#st.log.stats()
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#st.open.delete(this)
    await this.#st.log.drain()
  }

  #usable(): void {
    if (this.#closed || this.#st.closed) {
      throw new DbError(
        'ServiceInternal',
        `WAL channel ${this.channel} (term ${this.term}) is closed`,
      )
    }
  }

  #writable(): void {
    this.#usable()
    if (this.#st.term > this.term) {
      throw new DbError(
        'ChannelFenced',
        `WAL channel ${this.channel}: term ${this.term} is fenced by term ${this.#st.term}`,
      )
    }
  }
}
