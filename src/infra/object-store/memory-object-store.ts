/** The in-memory ObjectStore, for unit tests. Bodies are copied in and out. */
import { DbError } from '../../common/errors.js'
import {
  checkObjectKey,
  checkObjectPrefix,
  notFound,
  resolveRange,
  type ByteRange,
  type ObjectInfo,
  type ObjectStore,
} from './object-store.js'

interface Entry {
  readonly body: Uint8Array
  readonly info: ObjectInfo
}

export class MemoryObjectStore implements ObjectStore {
  readonly #objects = new Map<string, Entry>()
  #closed = false

  async put(key: string, body: Uint8Array): Promise<void> {
    this.#open()
    checkObjectKey(key)
    const copy = new Uint8Array(body)
    this.#objects.set(key, {
      body: copy,
      info: { key, size: copy.length, lastModifiedMs: Date.now() },
    })
  }

  async get(key: string, opts?: { readonly range?: ByteRange }): Promise<Uint8Array> {
    this.#open()
    checkObjectKey(key)
    const entry = this.#objects.get(key)
    if (!entry) throw notFound(key)
    const { start, end } = resolveRange(key, entry.body.length, opts?.range)
    return entry.body.slice(start, end)
  }

  async stat(key: string): Promise<ObjectInfo | undefined> {
    this.#open()
    checkObjectKey(key)
    return this.#objects.get(key)?.info
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    this.#open()
    checkObjectPrefix(prefix)
    const keys = [...this.#objects.keys()].filter((k) => k.startsWith(prefix)).sort()
    for (const key of keys) {
      const entry = this.#objects.get(key)
      if (entry) yield entry.info
    }
  }

  async delete(keys: readonly string[]): Promise<void> {
    this.#open()
    for (const key of keys) checkObjectKey(key)
    for (const key of keys) this.#objects.delete(key)
  }

  async close(): Promise<void> {
    this.#closed = true
  }

  #open(): void {
    if (this.#closed) throw new DbError('ServiceInternal', 'object store is closed')
  }
}
