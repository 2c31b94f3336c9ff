/**
 * Server-side cursors of search iterator v2. Milvus identifies an iterator by a UUID token and
 * pages by score alone (`search_iter_last_bound`), dropping rows tied with the bound; Harrier keeps,
 * per token, the snapshot the first page read and the primary keys already returned at the bound,
 * so every row comes exactly once and all pages read the same snapshot.
 *
 * Cursors are small (a timestamp, a float, the tied keys) and expire after an idle period; an
 * expired or foreign token still works, with Milvus's stateless semantics.
 */
import { randomUUID } from 'node:crypto'
import type { Timestamp } from '../common/tso.js'

export interface IteratorCursor {
  readonly collectionId: bigint
  /** Snapshot every page of this iterator reads. */
  readonly ts: Timestamp
  /** Score (float32) of the last row handed out; undefined before the first row. */
  bound: number | undefined
  /** Primary keys handed out with a score equal to `bound`. */
  returned: Set<bigint | string>
}

interface Entry {
  readonly cursor: IteratorCursor
  expires: number
}

// Go's uuid.Parse forms: canonical, braced, urn-prefixed, or 32 bare hex digits.
const UUID = /^(?:urn:uuid:)?\{?[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}\}?$/i

export function isIteratorToken(token: string): boolean {
  return UUID.test(token)
}

export class SearchIterators {
  private readonly entries = new Map<string, Entry>()
  private readonly idleMs: number
  private readonly max: number

  constructor(opts: { idleMs?: number; max?: number } = {}) {
    this.idleMs = opts.idleMs ?? 10 * 60_000
    this.max = opts.max ?? 4096
  }

  /** A new iterator's token. */
  newToken(): string {
    return randomUUID()
  }

  get(token: string, collectionId: bigint): IteratorCursor | undefined {
    const e = this.entries.get(token)
    if (!e || e.expires < Date.now() || e.cursor.collectionId !== collectionId) return undefined
    return e.cursor
  }

  put(token: string, cursor: IteratorCursor): void {
    const now = Date.now()
    // Map order is insertion order: re-inserting keeps the least recently used entries in front.
    this.entries.delete(token)
    this.entries.set(token, { cursor, expires: now + this.idleMs })
    for (const [t, e] of this.entries) {
      if (this.entries.size <= this.max && e.expires >= now) break
      this.entries.delete(t)
    }
  }
}
