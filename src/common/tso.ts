/**
 * Hybrid timestamps as Milvus's TSO issues them: physical milliseconds << 18 | logical counter.
 * Strictly increasing within a process even when the wall clock steps back, so every write gets a
 * distinct, ordered timestamp (MVCC and upsert's delete-then-insert rely on it).
 */
export type Timestamp = bigint

export const LOGICAL_BITS = 18n
const LOGICAL_MASK = (1n << LOGICAL_BITS) - 1n

export function composeTs(physicalMs: number, logical = 0): Timestamp {
  return (BigInt(physicalMs) << LOGICAL_BITS) | BigInt(logical)
}

export function physicalMs(ts: Timestamp): number {
  return Number(ts >> LOGICAL_BITS)
}

export function logicalOf(ts: Timestamp): number {
  return Number(ts & LOGICAL_MASK)
}

export class TsoAllocator {
  private last: Timestamp = 0n
  private readonly clock: () => number

  constructor(opts: { clock?: () => number; floor?: Timestamp } = {}) {
    this.clock = opts.clock ?? Date.now
    if (opts.floor !== undefined) this.last = opts.floor
  }

  /** Never hands out a value <= one already handed out, nor <= a recovered floor. */
  next(): Timestamp {
    const wall = composeTs(this.clock())
    this.last = wall > this.last ? wall : this.last + 1n
    return this.last
  }

  /** Raises the floor, e.g. after recovering timestamps from the WAL. */
  observe(ts: Timestamp): void {
    if (ts > this.last) this.last = ts
  }

  peek(): Timestamp {
    return this.last
  }
}
