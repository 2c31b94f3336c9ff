/**
 * The typed, schema-resolved filter plan: what parseFilter returns and every evaluator consumes.
 * Nodes are deeply frozen plain objects (Kysely-style), so one plan can be shared by search
 * pre-filtering, query, delete and count(*) across segments without copying.
 *
 * Semantics are SQL three-valued logic: a comparison involving a null cell is UNKNOWN, `not`
 * keeps UNKNOWN, and a row passes only when the whole filter is TRUE. A JSON key that is missing
 * (or holds a value of another type) is simply FALSE for every operator except `!=`, where it is
 * TRUE, as in Milvus.
 */
import type { ArrayElementTypeName, StoredTypeName } from '../schema/types.js'
import { type Value, formatValue } from './values.js'

export type CmpOp = '==' | '!=' | '<' | '<=' | '>' | '>='
export type ArithOp = '+' | '-' | '*' | '/' | '%'
/** How a LIKE pattern runs: plain string tests when it can, a linear segment matcher otherwise. */
export type LikeMatch = 'equal' | 'prefix' | 'suffix' | 'infix' | 'pattern'
export type ContainsMode = 'contains' | 'containsAll' | 'containsAny'

/** A column reference: a schema field, optionally followed by a JSON path or one array index. */
export interface FieldRef {
  /** Column key in ColumnChunk.columns: the field name, `$meta` for dynamic keys. */
  readonly field: string
  readonly fieldId: number
  readonly dataType: StoredTypeName
  readonly elementType?: ArrayElementTypeName
  /** JSON keys / array index, outermost first; dynamic keys start with the key name. */
  readonly path: readonly string[]
  readonly nullable: boolean
  readonly isPrimaryKey: boolean
  readonly isDynamic: boolean
}

export type PlanNode =
  | { readonly kind: 'const'; readonly value: boolean }
  | { readonly kind: 'and'; readonly children: readonly PlanNode[] }
  | { readonly kind: 'or'; readonly children: readonly PlanNode[] }
  | { readonly kind: 'not'; readonly child: PlanNode }
  /** field op constant */
  | { readonly kind: 'compare'; readonly target: FieldRef; readonly op: CmpOp; readonly value: Value }
  | {
      readonly kind: 'range'
      readonly target: FieldRef
      readonly lower: Value
      readonly lowerInclusive: boolean
      readonly upper: Value
      readonly upperInclusive: boolean
    }
  /** `not in` is `not` over this node. */
  | { readonly kind: 'in'; readonly target: FieldRef; readonly values: readonly Value[] }
  | {
      readonly kind: 'like'
      readonly target: FieldRef
      /** The pattern as written (after string unescaping). */
      readonly pattern: string
      readonly match: LikeMatch
      /** Literal text for equal/prefix/suffix/infix; the pattern itself for 'pattern'. */
      readonly operand: string
    }
  /** (field arithOp operand) op value */
  | {
      readonly kind: 'arith'
      readonly target: FieldRef
      readonly arithOp: ArithOp
      readonly operand: Value
      readonly op: CmpOp
      readonly value: Value
    }
  | { readonly kind: 'arrayLength'; readonly target: FieldRef; readonly op: CmpOp; readonly value: bigint }
  | { readonly kind: 'fieldCompare'; readonly left: FieldRef; readonly op: CmpOp; readonly right: FieldRef }
  /** `is null` / `is not null` on a whole field (JSON paths become `exists`). */
  | { readonly kind: 'null'; readonly target: FieldRef; readonly isNull: boolean }
  | { readonly kind: 'exists'; readonly target: FieldRef }
  | { readonly kind: 'contains'; readonly target: FieldRef; readonly mode: ContainsMode; readonly values: readonly Value[] }
  /** Keeps a uniform random `factor` share of the rows the predicate (if any) accepts. */
  | { readonly kind: 'randomSample'; readonly factor: number; readonly predicate?: PlanNode }

export type PlanKind = PlanNode['kind']

export function formatFieldRef(f: FieldRef): string {
  const steps = f.path.map((p, i) => {
    // Array indexes are numeric; JSON keys are printed quoted even when they look numeric.
    const numeric = f.dataType === 'Array' && i === 0
    return numeric ? `[${p}]` : `[${JSON.stringify(p)}]`
  })
  return `${f.field}${steps.join('')}`
}

/**
 * A compact S-expression of the plan, stable enough for golden tests and EXPLAIN-style logs:
 * `(and (> age 30) (in name ["a", "b"]))`.
 */
export function explainNode(n: PlanNode): string {
  switch (n.kind) {
    case 'const':
      return String(n.value)
    case 'and':
    case 'or':
      return `(${n.kind} ${n.children.map(explainNode).join(' ')})`
    case 'not':
      return `(not ${explainNode(n.child)})`
    case 'compare':
      return `(${n.op} ${formatFieldRef(n.target)} ${formatValue(n.value)})`
    case 'range':
      return `(range ${formatValue(n.lower)} ${n.lowerInclusive ? '<=' : '<'} ${formatFieldRef(n.target)} ${n.upperInclusive ? '<=' : '<'} ${formatValue(n.upper)})`
    case 'in':
      return `(in ${formatFieldRef(n.target)} ${formatValue(n.values)})`
    case 'like':
      return `(like ${formatFieldRef(n.target)} ${n.match} ${JSON.stringify(n.operand)})`
    case 'arith':
      return `(${n.op} (${n.arithOp} ${formatFieldRef(n.target)} ${formatValue(n.operand)}) ${formatValue(n.value)})`
    case 'arrayLength':
      return `(${n.op} (array_length ${formatFieldRef(n.target)}) ${n.value})`
    case 'fieldCompare':
      return `(${n.op} ${formatFieldRef(n.left)} ${formatFieldRef(n.right)})`
    case 'null':
      return `(${n.isNull ? 'is_null' : 'is_not_null'} ${formatFieldRef(n.target)})`
    case 'exists':
      return `(exists ${formatFieldRef(n.target)})`
    case 'contains': {
      const name = n.mode === 'contains' ? 'contains' : n.mode === 'containsAll' ? 'contains_all' : 'contains_any'
      const arg = n.mode === 'contains' ? formatValue(n.values[0] ?? []) : formatValue(n.values)
      return `(${name} ${formatFieldRef(n.target)} ${arg})`
    }
    case 'randomSample':
      return n.predicate ? `(random_sample ${n.factor} ${explainNode(n.predicate)})` : `(random_sample ${n.factor})`
  }
}

/** Freezes a freshly built plan tree in place (values included) and returns it. */
export function deepFreeze<T>(x: T): T {
  if (x !== null && typeof x === 'object' && !Object.isFrozen(x)) {
    Object.freeze(x)
    for (const v of Object.values(x as object)) deepFreeze(v)
  }
  return x
}
