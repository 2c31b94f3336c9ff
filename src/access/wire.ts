/** Small conversions between wire objects (SDK conventions) and domain values. */
import { composeTs, physicalMs, type Timestamp } from '../common/tso.js'
import { invalid } from '../common/errors.js'
import type { TemplateValue } from '../expr/index.js'

export type Req = Record<string, unknown>

export interface KeyValuePair {
  key: string
  value: string
}

export function kvToRecord(list: unknown): Record<string, string> {
  const out: Record<string, string> = {}
  if (Array.isArray(list)) for (const kv of list as KeyValuePair[]) if (kv && typeof kv.key === 'string') out[kv.key] = String(kv.value ?? '')
  return out
}

export function recordToKv(rec: Readonly<Record<string, string>>): KeyValuePair[] {
  return Object.entries(rec).map(([key, value]) => ({ key, value }))
}

export function str(v: unknown): string {
  return typeof v === 'string' ? v : v === undefined || v === null ? '' : String(v)
}

export function strList(v: unknown): string[] {
  return Array.isArray(v) ? v.map(str) : []
}

export function int(v: unknown, what: string, dflt = 0): number {
  if (v === undefined || v === null || v === '') return dflt
  const n = typeof v === 'number' ? v : Number(v)
  if (!Number.isFinite(n) || !Number.isInteger(n)) throw invalid(`${what} must be an integer, got ${String(v)}`)
  return n
}

/** Milvus reports creation times both as hybrid timestamps and as UTC milliseconds. */
export function utcMs(ts: Timestamp): string {
  return physicalMs(ts).toString()
}

export function tsString(ts: Timestamp): string {
  return ts.toString()
}

export function boundedTs(nowMs: number, graceMs: number): Timestamp {
  return composeTs(Math.max(0, nowMs - graceMs))
}

interface WireTemplateValue {
  val?: string
  bool_val?: boolean
  int64_val?: string
  float_val?: number
  string_val?: string
  array_val?: { data?: string; [k: string]: unknown }
}

/** expr_template_values (map<string, TemplateValue>) to plain JS values for the filter parser. */
export function templateValues(raw: unknown): Record<string, TemplateValue> | undefined {
  if (!raw || typeof raw !== 'object') return undefined
  const out: Record<string, TemplateValue> = {}
  for (const [k, v] of Object.entries(raw as Record<string, WireTemplateValue>)) out[k] = templateValue(v)
  return Object.keys(out).length > 0 ? out : undefined
}

function templateValue(v: WireTemplateValue): TemplateValue {
  switch (v.val) {
    case 'bool_val':
      return !!v.bool_val
    case 'int64_val':
      return BigInt(v.int64_val ?? '0')
    case 'float_val':
      return Number(v.float_val)
    case 'string_val':
      return str(v.string_val)
    case 'array_val':
      return templateArray(v.array_val ?? {})
    default:
      throw invalid('template value without a value')
  }
}

function templateArray(a: { data?: string; [k: string]: unknown }): TemplateValue[] {
  const key = a.data
  if (!key) return []
  const inner = (a[key] as { data?: unknown[] } | undefined)?.data ?? []
  switch (key) {
    case 'bool_data':
      return inner.map((x) => !!x)
    case 'long_data':
      return inner.map((x) => BigInt(str(x)))
    case 'double_data':
      return inner.map((x) => Number(x))
    case 'string_data':
      return inner.map(str)
    case 'array_data':
      return inner.map((x) => templateArray(x as { data?: string }))
    case 'json_data':
      return inner.map((x) => JSON.parse(Buffer.from(x as Uint8Array).toString('utf8')) as TemplateValue)
    default:
      throw invalid(`unsupported template array type ${key}`)
  }
}
