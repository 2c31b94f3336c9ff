/**
 * One physical WAL channel with timestamp assignment and in-order apply.
 *
 * Timestamps are taken and the append is queued in the same synchronous step, so WAL offset order
 * equals timestamp order. A message is applied to the in-memory replicas only after it is durable,
 * strictly in offset order, and the write is acknowledged only after it has been applied; hence a
 * read whose snapshot timestamp is the channel's tsafe sees exactly the acknowledged writes.
 */
import type { Timestamp, TsoAllocator } from '../common/tso.js'
import type { Wal } from '../infra/index.js'
import { encodeDmlMessage, type DmlMessage } from '../storage/dml-message.js'

export type ApplyFn = (msg: DmlMessage, offset: bigint) => void

interface Pending {
  readonly ts: Timestamp
  offset?: bigint
  done: boolean
  failed?: unknown
  readonly msg: DmlMessage
  resolve(r: { offset: bigint; ts: Timestamp }): void
  reject(e: unknown): void
}

export class DmlChannel {
  readonly wal: Wal
  private readonly tso: TsoAllocator
  private readonly apply: ApplyFn
  private readonly queue: Pending[] = []
  private waiters: { ts: Timestamp; resolve(): void }[] = []
  /** Offset of the next message to apply, i.e. everything below it is applied. */
  private appliedUpTo: bigint

  constructor(wal: Wal, tso: TsoAllocator, apply: ApplyFn) {
    this.wal = wal
    this.tso = tso
    this.apply = apply
    this.appliedUpTo = wal.nextOffset()
  }

  /** Builds the message with a fresh timestamp, makes it durable, applies it, then resolves. */
  append(build: (ts: Timestamp) => DmlMessage): Promise<{ offset: bigint; ts: Timestamp }> {
    const ts = this.tso.next()
    const msg = build(ts)
    const bytes = encodeDmlMessage(msg)
    return new Promise((resolve, reject) => {
      const p: Pending = { ts, msg, done: false, resolve, reject }
      this.queue.push(p)
      this.wal.append(bytes).then(
        (offset) => {
          p.offset = offset
          p.done = true
          this.drain()
        },
        (e: unknown) => {
          p.done = true
          p.failed = e
          this.drain()
        },
      )
    })
  }

  private drain(): void {
    while (this.queue.length > 0 && this.queue[0]!.done) {
      const p = this.queue.shift()!
      if (p.failed !== undefined) {
        p.reject(p.failed)
        continue
      }
      try {
        this.apply(p.msg, p.offset!)
        this.appliedUpTo = p.offset! + 1n
        p.resolve({ offset: p.offset!, ts: p.ts })
      } catch (e) {
        // A durable message that cannot be applied would also fail at replay; surface it loudly.
        p.reject(e)
      }
    }
    this.wakeWaiters()
  }

  /** Every write with a timestamp <= tsafe is applied; later writes will get larger timestamps. */
  tsafe(): Timestamp {
    const head = this.queue[0]
    return head ? head.ts - 1n : this.tso.peek()
  }

  /** Resolves once the channel's tsafe reaches `ts` (Strong and Session reads wait here). */
  waitTsafe(ts: Timestamp): Promise<void> {
    if (this.tsafe() >= ts || this.queue.length === 0) return Promise.resolve()
    return new Promise((resolve) => this.waiters.push({ ts, resolve }))
  }

  private wakeWaiters(): void {
    if (this.waiters.length === 0) return
    const safe = this.tsafe()
    const empty = this.queue.length === 0
    const keep: typeof this.waiters = []
    for (const w of this.waiters) if (empty || w.ts <= safe) w.resolve()
    else keep.push(w)
    this.waiters = keep
  }

  /** Offset below which every message has been applied (the flush upper bound). */
  appliedOffset(): bigint {
    return this.appliedUpTo
  }

  pendingCount(): number {
    return this.queue.length
  }
}
