/**
 * Constants as the plan carries them. The JS type is the filter type: bigint is an integer
 * literal (Milvus int64_val), number a floating-point one (float_val), so `2` and `2.0` stay
 * distinct exactly as they are in Milvus's GenericValue.
 */

export type Scalar = boolean | bigint | number | string
export type Value = Scalar | readonly Value[]

/** Milvus's names for constant types, used in messages and type rules. */
export type ValueType = 'Bool' | 'Int64' | 'Double' | 'VarChar' | 'Array'

export const INT64_MIN = -(2n ** 63n)
export const INT64_MAX = 2n ** 63n - 1n

export function valueType(v: Value): ValueType {
  switch (typeof v) {
    case 'boolean':
      return 'Bool'
    case 'bigint':
      return 'Int64'
    case 'number':
      return 'Double'
    case 'string':
      return 'VarChar'
    default:
      return 'Array'
  }
}

/** Element type of a list literal when all elements agree (Milvus's `same_type`), else undefined. */
export function listElementType(items: readonly Value[]): ValueType | undefined {
  let t: ValueType | undefined
  for (const v of items) {
    const vt = valueType(v)
    if (t === undefined) t = vt
    else if (t !== vt) return undefined
  }
  return t
}

export function formatValue(v: Value): string {
  switch (typeof v) {
    case 'boolean':
      return String(v)
    case 'bigint':
      return v.toString()
    case 'number':
      return Number.isInteger(v) && Math.abs(v) < 1e21 ? v.toFixed(1) : String(v)
    case 'string':
      return JSON.stringify(v)
    default:
      return `[${v.map(formatValue).join(', ')}]`
  }
}

/** Smallest double greater than x; NaN past +Infinity so nothing compares true against it. */
export function nextUp(x: number): number {
  if (Number.isNaN(x) || x === Infinity) return Number.NaN
  if (x === 0) return Number.MIN_VALUE
  const f = new Float64Array([x])
  const i = new BigInt64Array(f.buffer)
  i[0] = x > 0 ? i[0]! + 1n : i[0]! - 1n
  return f[0]!
}

export function nextDown(x: number): number {
  return -nextUp(-x)
}
