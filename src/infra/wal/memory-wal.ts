/**
 * The in-memory WAL, for unit tests: channels live as long as the provider. Payloads are copied
 * in and out.
 */
import type { ChannelLog, WalStats } from './channel-wal.js'
import { BaseWalProvider } from './channel-wal.js'
import type { WalEntry } from './wal.js'

export class MemoryWalProvider extends BaseWalProvider {
  protected override async openLog(): Promise<{ log: ChannelLog; highestTerm: number }> {
    return { log: new MemoryChannelLog(), highestTerm: 0 }
  }

  protected override async saveTerm(): Promise<void> {}

  protected override async closeResources(): Promise<void> {}
}

class MemoryChannelLog implements ChannelLog {
  /** Contiguous offsets: entry i has offset #entries[0].offset + i. */
  #entries: WalEntry[] = []
  #next = 0n
  #appends = 0
  #count = 0

  async append(payloads: readonly Uint8Array[]): Promise<bigint[]> {
    this.#appends++
    this.#count += payloads.length
    return payloads.map((p) => {
      const offset = this.#next++
      this.#entries.push({ offset, payload: new Uint8Array(p) })
      return offset
    })
  }

  read(from: bigint): AsyncIterable<WalEntry> {
    const first = this.#entries[0]?.offset ?? this.#next
    const snapshot = this.#entries.slice(from > first ? Number(from - first) : 0)
    return (async function* () {
      for (const e of snapshot) yield { offset: e.offset, payload: new Uint8Array(e.payload) }
    })()
  }

  async truncate(before: bigint): Promise<void> {
    const first = this.#entries[0]?.offset ?? this.#next
    if (before > first) this.#entries = this.#entries.slice(Number(before - first))
  }

  nextOffset(): bigint {
    return this.#next
  }

  async drain(): Promise<void> {}

  stats(): WalStats {
    return { appends: this.#appends, entries: this.#count, flushes: this.#appends, fsyncs: 0 }
  }

  async close(): Promise<void> {}
}
