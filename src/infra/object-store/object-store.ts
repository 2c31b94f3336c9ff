/**
 * The ObjectStore port: S3-shaped blob storage for binlogs, deltalogs, stats and index files.
 * Objects are immutable blobs written whole; there are no directories, only '/'-separated keys.
 *
 * Keys: non-empty, '/'-separated, no leading or trailing '/', no empty, '.' or '..' segment, no NUL
 * (DbError('ParameterInvalid') otherwise). Because the local adapter maps keys onto files, a key may
 * not also be a '/'-prefix of another key ('a' and 'a/b' cannot both exist). Segment names ending in
 * `.harrier-tmp-*` are reserved for the local adapter's temp files.
 */
import { DbError } from '../../common/errors.js'

export interface ObjectInfo {
  readonly key: string
  readonly size: number
  readonly lastModifiedMs: number
}

export interface ByteRange {
  /** First byte; must be within [0, size]. */
  readonly offset: number
  /** Bytes to read; clamped to the end of the object; default: to the end. */
  readonly length?: number
}

export interface ObjectStore {
  /** Creates or replaces `key` atomically: readers see the old or the new body, never a mix. */
  put(key: string, body: Uint8Array): Promise<void>

  /**
   * The body, or the `range` of it.
   * @throws DbError('IoKeyNotFound') if the object does not exist.
   * @throws DbError('ParameterInvalid') for a range starting outside the object.
   */
  get(key: string, opts?: { readonly range?: ByteRange }): Promise<Uint8Array>

  /** undefined if the object does not exist. */
  stat(key: string): Promise<ObjectInfo | undefined>

  /** Objects whose key starts with `prefix` (any string, '' = all), sorted by key, at any depth. */
  list(prefix: string): AsyncIterable<ObjectInfo>

  /** Removes the objects; missing keys are fine (idempotent). */
  delete(keys: readonly string[]): Promise<void>

  /** Later calls reject. Idempotent. */
  close(): Promise<void>
}

/** Marks the local adapter's temp files; see LocalObjectStore. */
export const TEMP_MARKER = '.harrier-tmp-'

/** @throws DbError('ParameterInvalid') unless `key` is a valid object key (see the top of this file). */
export function checkObjectKey(key: string): void {
  if (typeof key !== 'string' || key.length === 0) throw badKey(key, 'empty')
  if (key.includes('\0')) throw badKey(key, 'contains NUL')
  if (key.startsWith('/')) throw badKey(key, "starts with '/'")
  for (const seg of key.split('/')) {
    if (seg === '') throw badKey(key, 'has an empty segment')
    if (seg === '.' || seg === '..') throw badKey(key, `has a '${seg}' segment`)
    if (seg.includes(TEMP_MARKER)) throw badKey(key, `uses the reserved '${TEMP_MARKER}'`)
  }
}

/** @throws DbError('ParameterInvalid') unless `prefix` is '' or could start a valid key. */
export function checkObjectPrefix(prefix: string): void {
  if (typeof prefix !== 'string') throw badKey(prefix, 'not a string')
  if (prefix === '') return
  if (prefix.startsWith('/') || prefix.includes('\0')) throw badKey(prefix, 'is not a key prefix')
  // Complete segments must be valid; the last one may be partial ('insert_log/1/2' matches '.../20/...').
  const segs = prefix.split('/')
  segs.pop()
  for (const seg of segs) {
    if (seg === '' || seg === '.' || seg === '..') throw badKey(prefix, 'is not a key prefix')
  }
}

/** Resolves a ByteRange against an object of `size` bytes to [start, end). */
export function resolveRange(
  key: string,
  size: number,
  range: ByteRange | undefined,
): { start: number; end: number } {
  if (range === undefined) return { start: 0, end: size }
  const { offset, length } = range
  if (!Number.isSafeInteger(offset) || offset < 0 || offset > size) {
    throw new DbError('ParameterInvalid', `range offset ${offset} outside ${key} (${size} bytes)`)
  }
  if (length !== undefined && (!Number.isSafeInteger(length) || length < 0)) {
    throw new DbError('ParameterInvalid', `range length ${length} for ${key}`)
  }
  return { start: offset, end: length === undefined ? size : Math.min(size, offset + length) }
}

export function notFound(key: string): DbError {
  return new DbError('IoKeyNotFound', `object ${key}`)
}

function badKey(key: unknown, why: string): DbError {
  return new DbError('ParameterInvalid', `object key ${JSON.stringify(key)} ${why}`)
}
