/**
 * The MetaStore port: an etcd-shaped key-value store holding the catalog, sessions and elections.
 * etcd is the strictest backend we target, so the port promises exactly what etcd promises and
 * every adapter (memory, file, etcd) passes one conformance suite (tests/conformance).
 *
 * Revisions: the store has one revision counter. Every mutation (a put, a delete that removed
 * something, a txn that changed anything, a lease expiry) bumps it by one, and all keys a txn
 * touches carry that one revision. Operations that change nothing do not bump it. Revisions are
 * never reused, across restarts included.
 *
 * Consistency: operations are linearizable in call order within a process, and a result is
 * returned only once the state it reflects is durable (for the file adapter: fsync'd), so no caller
 * ever acts on a write a crash could take back.
 *
 * Keys are non-empty strings, ordered by JavaScript string comparison (byte order for ASCII, which
 * is all the catalog uses). Values are strings.
 */

export interface KeyValue {
  readonly key: string
  readonly value: string
  /** Revision of the put that created the key (since its last delete). */
  readonly createRevision: number
  /** Revision of the last put. */
  readonly modRevision: number
  /** Puts since creation: 1 after the first. */
  readonly version: number
  /** Lease the key is attached to; the key is deleted when the lease ends. */
  readonly lease?: string
}

/**
 * A txn guard, as etcd's. On a missing key, createRevision, modRevision and version read as 0, and
 * every `value` comparison is false (`!=` included: etcd has no way to represent a missing value).
 */
export type Compare =
  | {
      readonly key: string
      readonly target: 'modRevision' | 'createRevision' | 'version'
      readonly op: '=' | '!=' | '<' | '>'
      readonly value: number
    }
  | {
      readonly key: string
      readonly target: 'value'
      readonly op: '=' | '!='
      readonly value: string
    }

export type TxnOp =
  | { readonly type: 'put'; readonly key: string; readonly value: string; readonly lease?: string }
  | { readonly type: 'delete'; readonly key: string }
  | { readonly type: 'deletePrefix'; readonly prefix: string }

export interface TxnRequest {
  readonly compare: readonly Compare[]
  readonly success: readonly TxnOp[]
  readonly failure?: readonly TxnOp[]
}

export interface TxnResult {
  /** Whether every compare held (and `success` ran rather than `failure`). */
  readonly succeeded: boolean
  /** The store revision after the txn. */
  readonly revision: number
}

export interface WatchEvent {
  readonly type: 'put' | 'delete'
  /** For a delete: `key` and `modRevision` (the delete's revision); the rest is empty/0. */
  readonly kv: KeyValue
}

export interface Watcher {
  /** Stops delivery; idempotent. */
  cancel(): void
}

export interface Lease {
  readonly id: string
  /** Restarts the TTL. @throws DbError('IoKeyNotFound') when the lease already expired or was revoked. */
  keepAlive(): Promise<void>
  /** Ends the lease now, deleting its keys (one revision); idempotent. */
  revoke(): Promise<void>
}

export interface MetaStore {
  get(key: string): Promise<KeyValue | undefined>

  /** Keys starting with `prefix` ('' = all), sorted by key, at most `limit` of them. */
  scan(prefix: string, opts?: { readonly limit?: number }): Promise<KeyValue[]>

  /**
   * Sets `key`, attaching it to `lease` if given (and detaching it from a previous one otherwise).
   * @returns the new store revision.
   * @throws DbError('ParameterInvalid') for an empty key or a lease that does not exist.
   */
  put(key: string, value: string, opts?: { readonly lease?: string }): Promise<number>

  /** @returns whether the key existed. */
  delete(key: string): Promise<boolean>

  /** Deletes every key starting with `prefix` in one revision. @returns how many. */
  deletePrefix(prefix: string): Promise<number>

  /**
   * Evaluates every `compare` and, atomically with it, applies `success` if all hold, else
   * `failure`. All its writes share one revision and become visible together. As in etcd, a put
   * may not target a key another op of the same branch puts or deletes (ParameterInvalid);
   * overlapping deletes are fine.
   */
  txn(req: TxnRequest): Promise<TxnResult>

  /**
   * Calls `onEvents` with the events under `prefix` of each revision after `fromRevision` (default:
   * the current revision, i.e. from now on), one call per revision, in revision order, never
   * synchronously inside `watch` or a write. Events are delivered once durable.
   * @throws DbError('ParameterInvalid') if `fromRevision` is older than the history the store
   *   keeps (etcd's "required revision has been compacted"): re-scan, then watch from now.
   */
  watch(
    prefix: string,
    opts: { readonly fromRevision?: number },
    onEvents: (events: WatchEvent[]) => void,
  ): Watcher

  /**
   * A lease of `ttlMs`: keys put with it are deleted (one revision, with delete events) when it
   * expires without keepAlive, or is revoked. In the file adapter leases live in the process: keys
   * attached to a lease are deleted when the store is reopened.
   */
  grantLease(ttlMs: number): Promise<Lease>

  currentRevision(): Promise<number>

  /** Waits for pending writes, stops watchers and lease timers; later calls reject. Idempotent. */
  close(): Promise<void>
}
