/**
 * The one error type of Harrier. Every failure that reaches a client carries a Milvus `merr` code
 * (pkg/util/merr/errors.go) so SDKs that branch on codes behave as they do against Milvus; the
 * legacy `error_code` name is derived at the edge (see `legacyErrorCode`).
 */
export interface ErrorSpec {
  readonly code: number
  readonly retriable: boolean
  readonly msg: string
}

export const ERRORS = {
  ServiceNotReady: { code: 1, retriable: true, msg: 'service not ready' },
  ServiceUnavailable: { code: 2, retriable: true, msg: 'service unavailable' },
  ServiceInternal: { code: 5, retriable: false, msg: 'service internal error' },
  ServiceRateLimit: { code: 8, retriable: true, msg: 'rate limit exceeded' },
  ServiceUnimplemented: { code: 10, retriable: false, msg: 'service unimplemented' },
  CollectionNotFound: { code: 100, retriable: false, msg: 'collection not found' },
  CollectionNotLoaded: { code: 101, retriable: false, msg: 'collection not loaded' },
  CollectionNumLimitExceeded: { code: 102, retriable: false, msg: 'exceeded the limit number of collections' },
  CollectionIllegalSchema: { code: 105, retriable: false, msg: 'illegal collection schema' },
  CollectionSchemaMismatch: { code: 109, retriable: false, msg: 'collection schema mismatch' },
  PartitionNotFound: { code: 200, retriable: false, msg: 'partition not found' },
  PartitionNotLoaded: { code: 201, retriable: false, msg: 'partition not loaded' },
  GeneralCapacityExceeded: { code: 250, retriable: false, msg: 'general capacity exceeded' },
  ChannelNotFound: { code: 500, retriable: false, msg: 'channel not found' },
  ChannelFenced: { code: 503, retriable: true, msg: 'channel not available' },
  SegmentNotFound: { code: 600, retriable: false, msg: 'segment not found' },
  SegmentNotLoaded: { code: 601, retriable: false, msg: 'segment not loaded' },
  IndexNotFound: { code: 700, retriable: false, msg: 'index not found' },
  IndexNotSupported: { code: 701, retriable: false, msg: 'index type not supported' },
  IndexDuplicate: { code: 702, retriable: false, msg: 'index duplicates' },
  DatabaseNotFound: { code: 800, retriable: false, msg: 'database not found' },
  DatabaseNumLimitExceeded: { code: 801, retriable: false, msg: 'exceeded the limit number of database' },
  DatabaseInvalidName: { code: 802, retriable: false, msg: 'invalid database name' },
  IoKeyNotFound: { code: 1000, retriable: false, msg: 'key not found' },
  IoFailed: { code: 1001, retriable: true, msg: 'IO failed' },
  IoUnexpectedEof: { code: 1002, retriable: false, msg: 'unexpected EOF' },
  DataCorrupted: { code: 1003, retriable: false, msg: 'data corrupted' },
  ParameterInvalid: { code: 1100, retriable: false, msg: 'invalid parameter' },
  ParameterMissing: { code: 1101, retriable: false, msg: 'missing parameter' },
  ParameterTooLarge: { code: 1102, retriable: false, msg: 'parameter too large' },
  MetricNotFound: { code: 1200, retriable: false, msg: 'metric not found' },
  NotAuthenticated: { code: 1400, retriable: false, msg: 'not authenticated' },
  NotPermitted: { code: 1401, retriable: false, msg: 'privilege not permitted' },
  AliasNotFound: { code: 1600, retriable: false, msg: 'alias not found' },
  AliasCollectionNameConflict: { code: 1601, retriable: false, msg: 'alias and collection name conflict' },
  AliasAlreadyExist: { code: 1602, retriable: false, msg: 'alias already exist' },
  FieldNotFound: { code: 1700, retriable: false, msg: 'field not found' },
  FieldInvalidName: { code: 1701, retriable: false, msg: 'field name invalid' },
  Undefined: { code: 65535, retriable: false, msg: 'unexpected error' },
} as const satisfies Record<string, ErrorSpec>

export type ErrorKind = keyof typeof ERRORS

export interface DbErrorOptions {
  readonly cause?: unknown
  /** Whether the client's input caused it (Milvus sets extra_info.is_input_error). */
  readonly input?: boolean
}

export class DbError extends Error {
  override readonly name = 'DbError'
  readonly kind: ErrorKind
  readonly input: boolean

  constructor(kind: ErrorKind, detail?: string, opts?: DbErrorOptions) {
    super(detail ? `${detail}: ${ERRORS[kind].msg}` : ERRORS[kind].msg, { cause: opts?.cause })
    this.kind = kind
    this.input = opts?.input ?? kind === 'ParameterInvalid'
  }

  get code(): number {
    return ERRORS[this.kind].code
  }

  get retriable(): boolean {
    return ERRORS[this.kind].retriable
  }
}

/** Shorthand for the most common error: the client sent something Milvus would refuse. */
export function invalid(detail: string): DbError {
  return new DbError('ParameterInvalid', detail, { input: true })
}

export function isDbError(e: unknown, kind?: ErrorKind): e is DbError {
  return e instanceof DbError && (kind === undefined || e.kind === kind)
}

/**
 * Milvus's `merr.oldCode`: the deprecated `common.ErrorCode` name the SDKs still check
 * (`CollectionNotExists`, `IllegalArgument`, `IndexNotExist`, ...).
 */
export function legacyErrorCode(code: number): string {
  switch (code) {
    case 0:
      return 'Success'
    case 1:
      return 'NotReadyServe'
    case 100:
      return 'CollectionNotExists'
    case 1100:
    case 1101:
    case 1102:
      return 'IllegalArgument'
    case 200:
      return 'MetaFailed'
    case 8:
      return 'RateLimit'
    case 700:
      return 'IndexNotExist'
    case 600:
      return 'SegmentNotFound'
    case 503:
      return 'NoReplicaAvailable'
    case 109:
      return 'SchemaMismatch'
    default:
      return 'UnexpectedError'
  }
}

/** Converts anything thrown into a DbError; unknown errors become ServiceInternal with their cause. */
export function toDbError(e: unknown): DbError {
  if (e instanceof DbError) return e
  const msg = e instanceof Error ? e.message : String(e)
  return new DbError('ServiceInternal', msg, { cause: e })
}

export function assertNever(x: never, what = 'value'): never {
  throw new DbError('ServiceInternal', `unexpected ${what}: ${String(x)}`)
}
