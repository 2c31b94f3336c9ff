/** Wire Status objects: the only place DbError becomes `common.Status`. */
import { legacyErrorCode, toDbError } from '../common/errors.js'

export interface WireStatus {
  error_code: string
  reason: string
  code: number
  retriable: boolean
  detail: string
  extra_info: Record<string, string>
}

export const OK: Readonly<WireStatus> = Object.freeze({ error_code: 'Success', reason: '', code: 0, retriable: false, detail: '', extra_info: {} })

export function okStatus(): WireStatus {
  return { ...OK, extra_info: {} }
}

export function errorStatus(e: unknown): WireStatus {
  const err = toDbError(e)
  return {
    error_code: legacyErrorCode(err.code),
    reason: err.message,
    code: err.code,
    retriable: err.retriable,
    detail: err.message,
    extra_info: err.input ? { is_input_error: 'true' } : {},
  }
}
