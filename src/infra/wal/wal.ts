/**
 * The WAL port: one physical channel (pchannel) = one ordered, durable log of opaque payloads, in
 * the spirit of Milvus's walimpls. Time ticks, message types and segment assignment live above it
 * (streaming/); this layer only appends, reads, truncates and fences.
 *
 * Offsets: every entry gets the next offset of its channel (0, 1, 2, ...). They strictly increase
 * and are never reused, not after truncate and not after reopen (entries whose append never
 * resolved may be lost in a crash, and their offsets with them).
 *
 * Fencing: each open instance has a term. Opening a channel with a higher term fences every
 * instance with a lower one: their append/appendBatch/truncate reject with
 * DbError('ChannelFenced') forever (reading stays allowed). Before the new instance is handed out,
 * appends the old ones had already issued are finished, so the new owner reads a settled log.
 */
import { DbError } from '../../common/errors.js'


export interface WalEntry {
  readonly offset: bigint
  readonly payload: Uint8Array
}

export interface Wal {
  readonly channel: string
  readonly term: number
  /** Durable before it resolves (fsync'd for the file adapter). Offsets strictly increase and are never reused, even after truncate or reopen. */
  append(payload: Uint8Array): Promise<bigint>
  /** Same, for several payloads in one durable write; returns their offsets in order. */
  appendBatch(payloads: readonly Uint8Array[]): Promise<bigint[]>
  /** Entries with offset >= from, in order, up to the end at the time of the call (durable entries only). */
  read(from: bigint): AsyncIterable<WalEntry>
  /** Drop entries with offset < before (may keep some; file adapter deletes whole segment files entirely below). */
  truncate(before: bigint): Promise<void>
  /** The offset the next append will get. */
  nextOffset(): bigint
  /** Waits for this instance's pending appends; later appends reject. Idempotent. */
  close(): Promise<void>
}

export interface WalOpenOptions {
  /**
   * Fencing term: default the channel's highest term so far + 1. A term below the highest is
   * rejected with DbError('ChannelFenced'), as is the highest one while an instance holds it.
   */
  readonly term?: number
}

/**
 * A read-only view of a channel for followers (query nodes): takes no term, so it never fences the
 * owner. `tail()` is the read index of Strong reads: every append acknowledged before the call has
 * an offset below it.
 */
export interface WalReader {
  readonly channel: string
  /** The offset the next durable entry will get, as the log sees it now. */
  tail(): Promise<bigint>
  /**
   * The lowest offset still readable (entries below were truncated). A follower whose position is
   * below it may move up to it: truncation only removes what every checkpoint has passed.
   */
  firstOffset?(): Promise<bigint>
  /**
   * Entries with offset >= from, in order, then new ones as they become durable, until `signal`
   * aborts (the iteration then ends without an error). Entries truncated away before they could be
   * read are skipped: a follower learns their content from the flushed segments instead.
   */
  follow(from: bigint, signal: AbortSignal): AsyncIterable<WalEntry>
}

export interface WalProvider {
  /**
   * Opens (creating if needed) a channel. Names are 1-200 characters of [A-Za-z0-9_.-], not '.'
   * or '..' (DbError('ParameterInvalid') otherwise).
   */
  open(channel: string, opts?: WalOpenOptions): Promise<Wal>
  /** A follower's view of a channel (created if missing); never fences. */
  openReader?(channel: string): Promise<WalReader>
  /** Closes every channel; instances reject afterwards. Idempotent. */
  close(): Promise<void>
}

const CHANNEL_NAME = /^[A-Za-z0-9_.-]{1,200}$/

/** The channel-name rule every adapter enforces (names become file, stream and topic names). */
export function checkChannelName(channel: string): void {
  if (typeof channel !== 'string' || !CHANNEL_NAME.test(channel) || channel === '.' || channel === '..') {
    throw new DbError('ParameterInvalid', `WAL channel name ${JSON.stringify(channel)}: use 1-200 of [A-Za-z0-9_.-]`)
  }
}
