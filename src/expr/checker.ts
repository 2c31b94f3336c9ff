/**
 * Type checker: turns the syntax tree into the typed plan against a collection schema, applying
 * Milvus 2.6's rules (planparserv2 visitor + castValue/canBeCompared/canArithmetic):
 *
 * - names not in the schema resolve to keys of the dynamic field (`$meta`), if it is enabled;
 * - integer fields accept only integer constants (`a == 1.5` on Int64 is an error, as in Milvus);
 *   float fields accept both; VarChar only strings; Bool only booleans; JSON anything;
 * - arithmetic is `field op constant` compared with a constant; the constant may be on the left
 *   only for `+` and `*`; `%` needs integers; constant-only subexpressions are folded;
 * - a bare literal is not a predicate (`true` is rejected) but a folded one is (`1 == 1`);
 * - and/or cannot mix constants with predicates; random_sample may only end a top-level `and`.
 */
import {
  type ArrayElementTypeName,
  type CollectionSchema,
  type FieldSchema,
  dynamicField,
  fieldByName,
  isVectorType,
} from '../schema/types.js'
import { filterError } from './diagnostics.js'
import { planLike } from './like.js'
import { keywordInOtherCase } from './lexer.js'
import type { ArithOp, CmpOp, ContainsMode, FieldRef, PlanNode } from './plan.js'
import type { BinaryOp, IdentSyntax, Syntax } from './syntax.js'
import {
  INT64_MAX,
  INT64_MIN,
  type Value,
  formatValue,
  listElementType,
  valueType,
} from './values.js'

/** A value for a `{name}` placeholder: bigint and integral numbers are integers, other numbers floats. */
export type TemplateValue = boolean | number | bigint | string | TemplateValue[]

export interface CheckOptions {
  readonly templateValues?: Readonly<Record<string, TemplateValue>>
}

type ColType = ArrayElementTypeName | 'JSON' | 'Array' | 'Other'

type TE =
  | { readonly t: 'value'; readonly v: Value; readonly computed: boolean; readonly tmpl?: string; readonly s: Syntax }
  | { readonly t: 'column'; readonly ref: FieldRef; readonly s: Syntax }
  | {
      readonly t: 'arith'
      readonly ref: FieldRef
      readonly op: ArithOp
      readonly operand: Value
      readonly arithType: 'Int64' | 'Double'
      readonly s: Syntax
    }
  | { readonly t: 'len'; readonly ref: FieldRef; readonly s: Syntax }
  | { readonly t: 'pred'; readonly node: PlanNode; readonly s: Syntax }
  | { readonly t: 'sample'; readonly factor: number; readonly predicate?: PlanNode; readonly s: Syntax }

type ValueTE = Extract<TE, { t: 'value' }>

const MIN_SAMPLE_FACTOR = 1e-10

function isInt(t: ColType): boolean {
  return t === 'Int8' || t === 'Int16' || t === 'Int32' || t === 'Int64'
}

function isFloat(t: ColType): boolean {
  return t === 'Float' || t === 'Double'
}

function isNumeric(t: ColType): boolean {
  return isInt(t) || isFloat(t)
}

function colType(ref: FieldRef): ColType {
  if (ref.dataType === 'Array') return ref.path.length > 0 ? (ref.elementType ?? 'Other') : 'Array'
  switch (ref.dataType) {
    case 'Bool':
    case 'Int8':
    case 'Int16':
    case 'Int32':
    case 'Int64':
    case 'Float':
    case 'Double':
    case 'VarChar':
    case 'JSON':
      return ref.dataType
    default:
      return 'Other'
  }
}

/** The name as the user wrote it: dynamic keys without `$meta`, paths in brackets. */
function refName(ref: FieldRef): string {
  const [head, ...rest] = ref.isDynamic && ref.path.length > 0 ? ref.path : [ref.field, ...ref.path]
  const steps = rest.map((p) => (ref.dataType === 'Array' ? `[${p}]` : `[${JSON.stringify(p)}]`))
  return `${head}${steps.join('')}`
}

function describeRef(ref: FieldRef): string {
  if (ref.isDynamic) return ref.path.length > 0 ? `dynamic field key "${refName(ref)}"` : 'the dynamic field "$meta"'
  if (ref.dataType === 'JSON') return ref.path.length > 0 ? `JSON path "${refName(ref)}"` : `JSON field "${ref.field}"`
  if (ref.dataType === 'Array') {
    return ref.path.length > 0
      ? `element "${refName(ref)}" of Array<${ref.elementType}> field "${ref.field}"`
      : `Array<${ref.elementType}> field "${ref.field}"`
  }
  return `${ref.dataType} field "${ref.field}"`
}

function describeValue(v: Value): string {
  switch (valueType(v)) {
    case 'Int64':
      return `integer ${formatValue(v)}`
    case 'Double':
      return `floating-point value ${formatValue(v)}`
    case 'VarChar':
      return `string ${formatValue(v)}`
    case 'Bool':
      return `boolean ${formatValue(v)}`
    case 'Array':
      return `list ${formatValue(v)}`
  }
}

function describe(te: TE): string {
  switch (te.t) {
    case 'value':
      return te.tmpl ? `template variable {${te.tmpl}}` : describeValue(te.v)
    case 'column':
      return describeRef(te.ref)
    case 'arith':
      return `arithmetic on ${describeRef(te.ref)}`
    case 'len':
      return `array_length(${refName(te.ref)})`
    case 'pred':
      return 'a boolean expression'
    case 'sample':
      return 'random_sample(...)'
  }
}

const REVERSED: Record<CmpOp, CmpOp> = { '==': '==', '!=': '!=', '<': '>', '<=': '>=', '>': '<', '>=': '<=' }

function isCmp(op: BinaryOp): op is CmpOp {
  return op === '==' || op === '!=' || op === '<' || op === '<=' || op === '>' || op === '>='
}

function isArith(op: BinaryOp): op is ArithOp {
  return op === '+' || op === '-' || op === '*' || op === '/' || op === '%'
}

/** Orders two constants the way Milvus's constant folding does; undefined when incomparable. */
function orderConsts(a: Value, b: Value): number | undefined {
  if (typeof a === 'string' && typeof b === 'string') return a < b ? -1 : a > b ? 1 : 0
  const na = typeof a === 'bigint' || typeof a === 'number'
  const nb = typeof b === 'bigint' || typeof b === 'number'
  if (na && nb) {
    if (typeof a === 'bigint' && typeof b === 'bigint') return a < b ? -1 : a > b ? 1 : 0
    const x = Number(a)
    const y = Number(b)
    return x < y ? -1 : x > y ? 1 : x === y ? 0 : undefined
  }
  return undefined
}

function foldCompare(op: CmpOp, a: Value, b: Value): boolean | undefined {
  if (typeof a === 'boolean' && typeof b === 'boolean') {
    if (op === '==') return a === b
    if (op === '!=') return a !== b
    return undefined
  }
  const o = orderConsts(a, b)
  if (o === undefined) return undefined
  switch (op) {
    case '==':
      return o === 0
    case '!=':
      return o !== 0
    case '<':
      return o < 0
    case '<=':
      return o <= 0
    case '>':
      return o > 0
    case '>=':
      return o >= 0
  }
}

function mkAnd(children: readonly PlanNode[]): PlanNode {
  const flat: PlanNode[] = []
  for (const c of children) {
    if (c.kind === 'and') flat.push(...c.children)
    else flat.push(c)
  }
  return flat.length === 1 ? flat[0]! : { kind: 'and', children: flat }
}

function mkOr(children: readonly PlanNode[]): PlanNode {
  const flat: PlanNode[] = []
  for (const c of children) {
    if (c.kind === 'or') flat.push(...c.children)
    else flat.push(c)
  }
  return flat.length === 1 ? flat[0]! : { kind: 'or', children: flat }
}

export class Checker {
  private readonly dyn: FieldSchema | undefined

  constructor(
    private readonly text: string,
    private readonly schema: CollectionSchema,
    private readonly opts: CheckOptions = {},
  ) {
    const d = dynamicField(schema)
    this.dyn = d && schema.enableDynamicField ? d : undefined
  }

  private fail(at: number, problem: string): never {
    throw filterError(this.text, at, problem)
  }

  checkRoot(s: Syntax): PlanNode {
    const te = this.check(s)
    switch (te.t) {
      case 'pred':
        return te.node
      case 'sample':
        return te.predicate ? { kind: 'randomSample', factor: te.factor, predicate: te.predicate } : { kind: 'randomSample', factor: te.factor }
      case 'value':
        if (typeof te.v === 'boolean' && te.computed) return { kind: 'const', value: te.v }
        return this.fail(s.pos, `the filter must be a boolean expression, not a bare ${describe(te)}`)
      case 'column':
        if (colType(te.ref) === 'Bool') {
          return this.fail(s.pos, `the filter must be a boolean expression; compare the Bool field explicitly, like ${refName(te.ref)} == true`)
        }
        return this.fail(s.pos, `the filter must be a boolean expression, not ${describe(te)}`)
      default:
        return this.fail(s.pos, `the filter must be a boolean expression, not ${describe(te)}`)
    }
  }

  private check(s: Syntax): TE {
    switch (s.k) {
      case 'int':
        if (s.value > INT64_MAX) this.fail(s.pos, `integer ${s.value} overflows int64`)
        return { t: 'value', v: s.value, computed: false, s }
      case 'float':
      case 'string':
      case 'bool':
        return { t: 'value', v: s.value, computed: false, s }
      case 'array':
        return this.list(s)
      case 'template':
        return this.template(s)
      case 'ident':
        return { t: 'column', ref: this.resolve(s), s }
      case 'paren':
        return this.check(s.inner)
      case 'isnull':
        return this.isNull(s)
      case 'unary':
        return this.unary(s)
      case 'binary':
        return this.binary(s)
      case 'logic':
        return this.logic(s)
      case 'range':
        return this.range(s)
      case 'in':
        return this.inList(s)
      case 'like':
        return this.like(s)
      case 'exists':
        return this.exists(s)
      case 'contains':
        return this.contains(s)
      case 'array_length':
        return this.arrayLength(s)
      case 'text_match':
      case 'phrase_match':
        return this.textMatch(s)
      case 'random_sample':
        return this.randomSample(s)
      case 'call':
        return this.call(s)
    }
  }

  // ---- leaves -------------------------------------------------------------------------------

  private resolve(id: IdentSyntax): FieldRef {
    const steps = id.path ?? []
    for (const st of steps) if (st.quoted && st.key === '') this.fail(id.pos, `empty key in JSON path "${id.name}[""]"`)
    let field: FieldSchema
    let path: string[]
    if (id.meta) {
      if (!this.dyn) this.fail(id.pos, 'the dynamic field is not enabled in this collection, so "$meta" cannot be used')
      field = this.dyn
      path = steps.map((p) => p.key)
    } else {
      const f = fieldByName(this.schema, id.name)
      if (f && !f.isDynamic) {
        field = f
        path = steps.map((p) => p.key)
      } else if (this.dyn) {
        field = this.dyn
        path = [id.name, ...steps.map((p) => p.key)]
      } else {
        return this.fail(id.pos, `field "${id.name}" not found`)
      }
    }
    if (isVectorType(field.dataType)) this.fail(id.pos, `vector field "${field.name}" cannot be used in a filter`)
    if (steps.length > 0 && field.dataType !== 'JSON') {
      if (field.dataType !== 'Array') this.fail(id.pos, `${field.dataType} field "${field.name}" cannot be accessed with []`)
      if (steps.some((p) => p.quoted)) this.fail(id.pos, `Array field "${field.name}" can only be indexed with an integer, like ${field.name}[0]`)
      if (steps.length > 1) this.fail(id.pos, `Array field "${field.name}" can only be indexed once`)
    }
    const ref: FieldRef = {
      field: field.name,
      fieldId: field.fieldId,
      dataType: field.dataType,
      path,
      nullable: field.nullable,
      isPrimaryKey: field.isPrimaryKey,
      isDynamic: field.isDynamic,
      ...(field.elementType ? { elementType: field.elementType } : {}),
    }
    return ref
  }

  private list(s: Syntax & { k: 'array' }): TE {
    const items: Value[] = []
    for (const it of s.items) {
      const te = this.check(it)
      if (te.t !== 'value') this.fail(it.pos, `list elements must be constants, not ${describe(te)}`)
      if (te.tmpl) this.fail(it.pos, `template variable {${te.tmpl}} cannot be used inside a list literal; pass the whole list as one template value`)
      items.push(te.v)
    }
    return { t: 'value', v: items, computed: false, s }
  }

  private template(s: Syntax & { k: 'template' }): TE {
    const vals = this.opts.templateValues
    const raw = vals && Object.hasOwn(vals, s.name) ? vals[s.name] : undefined
    if (raw === undefined) this.fail(s.pos, `template variable {${s.name}} has no value in expr_template_values`)
    return { t: 'value', v: this.templateValue(raw, s), computed: false, tmpl: s.name, s }
  }

  private templateValue(v: TemplateValue, s: Syntax & { k: 'template' }): Value {
    switch (typeof v) {
      case 'boolean':
      case 'string':
        return v
      case 'bigint':
        if (v > INT64_MAX || v < INT64_MIN) this.fail(s.pos, `template variable {${s.name}} overflows int64`)
        return v
      case 'number':
        return Number.isSafeInteger(v) ? BigInt(v) : v
      default:
        if (Array.isArray(v)) return v.map((x) => this.templateValue(x, s))
        return this.fail(s.pos, `template variable {${s.name}} has an unsupported value`)
    }
  }

  private isNull(s: Syntax & { k: 'isnull' }): TE {
    const ref = this.resolve(s.ident)
    if (ref.path.length > 0) {
      if (ref.dataType !== 'JSON') this.fail(s.pos, `"is null" can only test a whole field or a JSON path, not ${describeRef(ref)}`)
      // Milvus rewrites `json["k"] is null` to `not exists json["k"]`.
      const ex: PlanNode = { kind: 'exists', target: ref }
      return { t: 'pred', node: s.negated ? ex : { kind: 'not', child: ex }, s }
    }
    return { t: 'pred', node: { kind: 'null', target: ref, isNull: !s.negated }, s }
  }

  // ---- operators ----------------------------------------------------------------------------

  private unary(s: Syntax & { k: 'unary' }): TE {
    if (s.op === '~') this.fail(s.pos, 'bitwise not (~) is not supported')
    if (s.op === '-' && s.arg.k === 'int' && s.arg.value === -INT64_MIN) {
      return { t: 'value', v: INT64_MIN, computed: false, s }
    }
    const a = this.check(s.arg)
    if (s.op === 'not') {
      if (a.t === 'pred') return { t: 'pred', node: { kind: 'not', child: a.node }, s }
      if (a.t === 'value' && typeof a.v === 'boolean' && !a.tmpl) return { t: 'value', v: !a.v, computed: true, s }
      if (a.t === 'sample') this.fail(s.pos, 'random_sample cannot be negated')
      const hint = a.t === 'column' || a.t === 'arith' || a.t === 'len' ? '; "not" binds tighter than comparisons, so write not (a > 1)' : ''
      return this.fail(s.pos, `"not" can only be applied to a boolean expression, not ${describe(a)}${hint}`)
    }
    if (a.t === 'value') {
      if (a.tmpl) this.fail(s.pos, `unary "${s.op}" cannot be applied to template variable {${a.tmpl}}`)
      if (typeof a.v === 'bigint') return { t: 'value', v: s.op === '-' ? BigInt.asIntN(64, -a.v) : a.v, computed: a.computed, s }
      if (typeof a.v === 'number') return { t: 'value', v: s.op === '-' ? -a.v : a.v, computed: a.computed, s }
      return this.fail(s.pos, `unary "${s.op}" needs a number, not ${describe(a)}`)
    }
    if (s.op === '-') return this.fail(s.pos, `unary "-" can only be applied to constants, not ${describe(a)}`)
    if (a.t === 'column' && colType(a.ref) === 'Array') this.wholeArray(s.pos, a.ref, 'unary "+"')
    return a
  }

  private wholeArray(at: number, ref: FieldRef, what: string): never {
    return this.fail(at, `${what} cannot be applied to the whole Array field "${ref.field}"; index an element (${ref.field}[0]) or use array_contains`)
  }

  private binary(s: Syntax & { k: 'binary' }): TE {
    const { op } = s
    if (op === '<<' || op === '>>' || op === '&' || op === '|' || op === '^') {
      this.fail(s.opPos, `bitwise operator "${op}" is not supported`)
    }
    const l = this.check(s.left)
    const r = this.check(s.right)
    if (op === '**') return this.power(s, l, r)
    if (isArith(op)) return this.arith(s, op, l, r)
    if (isCmp(op)) return this.compare(s, op, l, r)
    return this.fail(s.opPos, `unsupported operator "${op}"`)
  }

  private power(s: Syntax & { k: 'binary' }, l: TE, r: TE): TE {
    if (l.t !== 'value' || r.t !== 'value' || l.tmpl || r.tmpl) return this.fail(s.opPos, 'power (**) can only be applied to constants')
    const a = l.v
    const b = r.v
    if ((typeof a !== 'bigint' && typeof a !== 'number') || (typeof b !== 'bigint' && typeof b !== 'number')) {
      return this.fail(s.opPos, `power (**) needs numbers, not ${describe(l)} and ${describe(r)}`)
    }
    if (typeof a === 'bigint' && typeof b === 'bigint' && b >= 0n) {
      // Exponents past 64 bits can only overflow (or stay at 0/±1); skip the huge bigint work.
      const p = b > 64n && (a > 1n || a < -1n) ? INT64_MAX + 1n : a ** b
      if (p <= INT64_MAX && p >= INT64_MIN) return { t: 'value', v: p, computed: true, s }
    }
    const v = Number(a) ** Number(b)
    return { t: 'value', v, computed: true, s }
  }

  private foldArith(s: Syntax & { k: 'binary' }, op: ArithOp, l: ValueTE, r: ValueTE): TE {
    const tm = l.tmpl ?? r.tmpl
    if (tm) this.fail(s.opPos, `template variable {${tm}} cannot be combined with another constant using "${op}"`)
    const a = l.v
    const b = r.v
    if ((typeof a !== 'bigint' && typeof a !== 'number') || (typeof b !== 'bigint' && typeof b !== 'number')) {
      return this.fail(s.opPos, `"${op}" needs numbers, not ${describe(l)} and ${describe(r)}`)
    }
    if (op === '%' && (typeof a !== 'bigint' || typeof b !== 'bigint')) this.fail(s.opPos, 'modulo (%) can only be applied to integers')
    if ((op === '/' || op === '%') && Number(b) === 0) this.fail(s.opPos, op === '/' ? 'division by zero' : 'modulo by zero')
    let v: Value
    if (typeof a === 'bigint' && typeof b === 'bigint') {
      // int64 arithmetic wraps as in Go; division truncates toward zero.
      const raw = op === '+' ? a + b : op === '-' ? a - b : op === '*' ? a * b : op === '/' ? a / b : a % b
      v = BigInt.asIntN(64, raw)
    } else {
      const x = Number(a)
      const y = Number(b)
      v = op === '+' ? x + y : op === '-' ? x - y : op === '*' ? x * y : x / y
    }
    return { t: 'value', v, computed: true, s }
  }

  private arith(s: Syntax & { k: 'binary' }, op: ArithOp, l: TE, r: TE): TE {
    if (l.t === 'value' && r.t === 'value') return this.foldArith(s, op, l, r)
    if (l.t !== 'value' && r.t !== 'value') {
      if (l.t === 'column' && r.t === 'column') return this.fail(s.opPos, 'arithmetic between two fields is not supported')
      return this.fail(s.opPos, `only "field ${op} constant" arithmetic is supported, not ${describe(l)} ${op} ${describe(r)}`)
    }
    const reverse = l.t === 'value'
    const c = (reverse ? l : r) as ValueTE
    const x = reverse ? r : l
    if (x.t !== 'column') {
      if (x.t === 'arith') return this.fail(s.opPos, 'only one arithmetic operation on a field is supported, and it must be compared with a constant')
      return this.fail(s.opPos, `"${op}" cannot be applied to ${describe(x)}`)
    }
    const ref = x.ref
    const ct = colType(ref)
    if (ct === 'Array') this.wholeArray(s.opPos, ref, `"${op}"`)
    if (!isNumeric(ct) && ct !== 'JSON') this.fail(s.opPos, `"${op}" cannot be applied to ${describeRef(ref)}`)
    const v = c.v
    if (typeof v !== 'bigint' && typeof v !== 'number') this.fail(s.opPos, `"${op}" needs a number, not ${describe(c)}`)
    if (isInt(ct) && typeof v === 'number') {
      this.fail(s.opPos, `cannot apply "${op}" to ${describeRef(ref)} and ${describe(c)}; integer fields take integer constants`)
    }
    if (op === '%' && (isFloat(ct) || typeof v !== 'bigint')) this.fail(s.opPos, 'modulo (%) can only be applied to integer fields and integer constants')
    if (reverse && op !== '+' && op !== '*') {
      this.fail(s.opPos, `"${op}" with the constant on the left is not supported; put the field first`)
    }
    const arithType: 'Int64' | 'Double' = isFloat(ct) || typeof v === 'number' ? 'Double' : 'Int64'
    const operand: Value = arithType === 'Int64' ? v : Number(v)
    if ((op === '/' || op === '%') && Number(operand) === 0) this.fail(s.opPos, 'division or modulo by zero')
    return { t: 'arith', ref, op, operand, arithType, s }
  }

  private compare(s: Syntax & { k: 'binary' }, op0: CmpOp, l: TE, r: TE): TE {
    if (l.t === 'value' && r.t === 'value') {
      const tm = l.tmpl ?? r.tmpl
      if (tm) this.fail(s.opPos, `template variable {${tm}} cannot be compared with another constant`)
      const res = foldCompare(op0, l.v, r.v)
      if (res === undefined) this.fail(s.opPos, `cannot compare ${describe(l)} with ${describe(r)} using "${op0}"`)
      return { t: 'value', v: res, computed: true, s }
    }
    if (l.t !== 'value' && r.t !== 'value') return this.compareFields(s, op0, l, r)
    const op = l.t === 'value' ? REVERSED[op0] : op0
    const c = (l.t === 'value' ? l : r) as ValueTE
    const x = l.t === 'value' ? r : l
    switch (x.t) {
      case 'column':
        return { t: 'pred', node: this.compareColumn(s.opPos, op, x.ref, c), s }
      case 'arith': {
        const v = c.v
        if (typeof v !== 'bigint' && typeof v !== 'number') this.fail(s.opPos, `arithmetic on ${describeRef(x.ref)} can only be compared with a number, not ${describe(c)}`)
        if (x.arithType === 'Int64' && typeof v === 'number') {
          this.fail(s.opPos, `integer arithmetic on ${describeRef(x.ref)} cannot be compared with ${describe(c)}`)
        }
        const value: Value = x.arithType === 'Int64' ? v : Number(v)
        return { t: 'pred', node: { kind: 'arith', target: x.ref, arithOp: x.op, operand: x.operand, op, value }, s }
      }
      case 'len':
        if (typeof c.v !== 'bigint') this.fail(s.opPos, `array_length(${refName(x.ref)}) can only be compared with an integer, not ${describe(c)}`)
        return { t: 'pred', node: { kind: 'arrayLength', target: x.ref, op, value: c.v }, s }
      default:
        return this.fail(s.opPos, `cannot compare ${describe(x)} with a constant`)
    }
  }

  private compareFields(s: Syntax & { k: 'binary' }, op: CmpOp, l: TE, r: TE): TE {
    if (l.t !== 'column' || r.t !== 'column') {
      if (l.t === 'pred' || r.t === 'pred' || l.t === 'sample' || r.t === 'sample') {
        return this.fail(s.opPos, `cannot compare boolean expressions with "${op}"; combine them with and/or`)
      }
      return this.fail(s.opPos, `${describe(l.t === 'column' ? r : l)} can only be compared with a constant`)
    }
    const a = l.ref
    const b = r.ref
    const ta = colType(a)
    const tb = colType(b)
    if (ta === 'JSON' || tb === 'JSON') this.fail(s.opPos, 'comparing a JSON field with another field is not supported')
    if (ta === 'Array' || tb === 'Array') this.wholeArray(s.opPos, ta === 'Array' ? a : b, `"${op}"`)
    if (a.path.length > 0 || b.path.length > 0) this.fail(s.opPos, 'comparing an array element with another field is not supported')
    const ok = (isNumeric(ta) && isNumeric(tb)) || (ta === 'VarChar' && tb === 'VarChar') || (ta === 'Bool' && tb === 'Bool')
    if (!ok) this.fail(s.opPos, `cannot compare ${describeRef(a)} with ${describeRef(b)}`)
    return { t: 'pred', node: { kind: 'fieldCompare', left: a, op, right: b }, s }
  }

  /**
   * Casts a constant to the scalar type a column (or array element) holds, or fails with
   * `mismatch(v)`. Integers widen to float fields; floats never narrow to integer fields.
   */
  private castScalar(at: number, ct: ColType, v: Value, mismatch: (v: Value) => string): Value {
    switch (ct) {
      case 'Bool':
        if (typeof v === 'boolean') return v
        break
      case 'Int8':
      case 'Int16':
      case 'Int32':
      case 'Int64':
        if (typeof v === 'bigint') return v
        if (typeof v === 'number') this.fail(at, `${mismatch(v)} (integer fields only take integer constants)`)
        break
      case 'Float':
      case 'Double':
        if (typeof v === 'number') return v
        if (typeof v === 'bigint') return Number(v)
        break
      case 'VarChar':
        if (typeof v === 'string') return v
        break
      case 'JSON':
        return v
      default:
        break
    }
    return this.fail(at, mismatch(v))
  }

  /** Whole-array equality: element types must line up (Milvus: same-typed list of castable values). */
  private castArray(at: number, ref: FieldRef, v: Value): Value {
    const et = ref.elementType ?? 'Other'
    if (!Array.isArray(v) || v.length === 0 || listElementType(v) === undefined) {
      return this.fail(at, `${describeRef(ref)} can only be compared with a non-empty list of ${et} values, not ${describeValue(v)}`)
    }
    return v.map((x) => this.castScalar(at, et, x, (e) => `elements of ${describeRef(ref)} cannot be compared with ${describeValue(e)}`))
  }

  private compareColumn(at: number, op: CmpOp, ref: FieldRef, c: ValueTE): PlanNode {
    const ct = colType(ref)
    if (ct === 'Array') {
      if (op !== '==' && op !== '!=') this.wholeArray(at, ref, `"${op}"`)
      return { kind: 'compare', target: ref, op, value: this.castArray(at, ref, c.v) }
    }
    if (ct === 'Other') this.fail(at, `${describeRef(ref)} cannot be compared`)
    const mismatch = (v: Value): string => `cannot compare ${describeRef(ref)} with ${c.tmpl ? `template variable {${c.tmpl}} = ` : ''}${describeValue(v)}`
    if (ct !== 'JSON' && Array.isArray(c.v)) this.fail(at, mismatch(c.v))
    return { kind: 'compare', target: ref, op, value: this.castScalar(at, ct, c.v, mismatch) }
  }

  private range(s: Syntax & { k: 'range' }): TE {
    const ref = this.resolve(s.mid)
    const ct = colType(ref)
    if (ct === 'Array') this.wholeArray(s.mid.pos, ref, 'a range comparison')
    if (ct === 'Bool') this.fail(s.mid.pos, `range comparisons are not supported on ${describeRef(ref)}`)
    if (ct === 'Other') this.fail(s.mid.pos, `${describeRef(ref)} cannot be compared`)
    const lo = this.check(s.lower)
    const hi = this.check(s.upper)
    if (lo.t !== 'value') return this.fail(s.lower.pos, `the lower bound of a range must be a constant, not ${describe(lo)}`)
    if (hi.t !== 'value') return this.fail(s.upper.pos, `the upper bound of a range must be a constant, not ${describe(hi)}`)
    const cast = (te: ValueTE, which: string): Value => {
      if (Array.isArray(te.v)) this.fail(te.s.pos, `the ${which} bound of a range cannot be ${describeValue(te.v)}`)
      return this.castScalar(te.s.pos, ct, te.v, (v) => `the ${which} bound ${describeValue(v)} does not match ${describeRef(ref)}`)
    }
    const lower = cast(lo, 'lower')
    const upper = cast(hi, 'upper')
    if (!lo.tmpl && !hi.tmpl) {
      const o = orderConsts(lower, upper)
      if (o !== undefined && (o > 0 || (o === 0 && !(s.lowerInclusive && s.upperInclusive)))) {
        this.fail(s.pos, `invalid range: the lower bound ${formatValue(lower)} is not below the upper bound ${formatValue(upper)}`)
      }
    }
    const node: PlanNode = {
      kind: 'range',
      target: ref,
      lower,
      lowerInclusive: s.lowerInclusive,
      upper,
      upperInclusive: s.upperInclusive,
    }
    return { t: 'pred', node, s }
  }

  private inList(s: Syntax & { k: 'in' }): TE {
    const l = this.check(s.left)
    if (l.t === 'value') this.fail(s.left.pos, `"in" needs a field on its left, not ${describe(l)}`)
    if (l.t !== 'column') this.fail(s.left.pos, `"in" can only be applied to a single field, not ${describe(l)}`)
    const r = this.check(s.right)
    if (r.t !== 'value') return this.fail(s.right.pos, `the right-hand side of "in" must be a constant list, not ${describe(r)}`)
    if (!Array.isArray(r.v)) return this.fail(s.right.pos, `the right-hand side of "in" must be a list, like [1, 2], not ${describe(r)}`)
    const ref = l.ref
    const ct = colType(ref)
    if (ct === 'Other') this.fail(s.left.pos, `${describeRef(ref)} cannot be used with "in"`)
    const mismatch = (v: Value): string => `list value ${describeValue(v)} does not match ${describeRef(ref)}`
    const values = (r.v as readonly Value[]).map((v) => {
      if (ct === 'Array') return this.castArray(s.right.pos, ref, v)
      if (ct !== 'JSON' && Array.isArray(v)) this.fail(s.right.pos, mismatch(v))
      return this.castScalar(s.right.pos, ct, v, mismatch)
    })
    const node: PlanNode = { kind: 'in', target: ref, values }
    return { t: 'pred', node: s.negated ? { kind: 'not', child: node } : node, s }
  }

  private like(s: Syntax & { k: 'like' }): TE {
    const l = this.check(s.left)
    if (l.t !== 'column') return this.fail(s.left.pos, `like can only be applied to a field, not ${describe(l)}`)
    const ref = l.ref
    const ct = colType(ref)
    if (ct === 'Array') this.wholeArray(s.left.pos, ref, 'like')
    if (ct !== 'VarChar' && ct !== 'JSON') this.fail(s.left.pos, `like can only be applied to VarChar or JSON fields, not ${describeRef(ref)}`)
    const p = this.check(s.pattern)
    if (p.t !== 'value' || typeof p.v !== 'string') return this.fail(s.pattern.pos, `the like pattern must be a string, not ${describe(p)}`)
    const lp = planLike(p.v)
    return { t: 'pred', node: { kind: 'like', target: ref, pattern: p.v, match: lp.match, operand: lp.operand }, s }
  }

  private exists(s: Syntax & { k: 'exists' }): TE {
    const a = this.check(s.arg)
    if (a.t !== 'column') return this.fail(s.arg.pos, `exists needs a JSON key, like exists meta["key"], not ${describe(a)}`)
    if (a.ref.dataType !== 'JSON') this.fail(s.arg.pos, `exists can only be applied to JSON fields, not ${describeRef(a.ref)}`)
    if (a.ref.path.length === 0) this.fail(s.arg.pos, `exists needs a JSON key, like exists ${a.ref.field}["key"]`)
    return { t: 'pred', node: { kind: 'exists', target: a.ref }, s }
  }

  private contains(s: Syntax & { k: 'contains' }): TE {
    const fn = s.fn
    const mode: ContainsMode = fn.endsWith('_all') ? 'containsAll' : fn.endsWith('_any') ? 'containsAny' : 'contains'
    const [sa, sb] = s.args as [Syntax, Syntax]
    const a = this.check(sa)
    if (a.t !== 'column') return this.fail(sa.pos, `${fn} needs a JSON or Array field as its first argument, not ${describe(a)}`)
    const ref = a.ref
    if (ref.dataType !== 'JSON' && !(ref.dataType === 'Array' && ref.path.length === 0)) {
      this.fail(sa.pos, `${fn} can only be applied to JSON or whole Array fields, not ${describeRef(ref)}`)
    }
    const b = this.check(sb)
    if (b.t !== 'value') return this.fail(sb.pos, `${fn} needs a constant as its second argument, not ${describe(b)}`)
    const et: ColType = ref.dataType === 'Array' ? (ref.elementType ?? 'Other') : 'JSON'
    if (mode === 'contains') {
      const mismatch = (v: Value): string => `${fn}: ${describeRef(ref)} cannot contain ${describeValue(v)}`
      if (et !== 'JSON' && Array.isArray(b.v)) this.fail(sb.pos, mismatch(b.v))
      const v = et === 'JSON' ? b.v : this.castScalar(sb.pos, et, b.v, mismatch)
      return { t: 'pred', node: { kind: 'contains', target: ref, mode, values: [v] }, s }
    }
    if (!Array.isArray(b.v)) return this.fail(sb.pos, `${fn} needs a list as its second argument, like [1, 2], not ${describe(b)}`)
    const values = b.v as readonly Value[]
    if (et !== 'JSON') {
      for (const v of values) {
        const vt = valueType(v)
        const comparable = (isNumeric(et) && (vt === 'Int64' || vt === 'Double')) || (et === 'VarChar' && vt === 'VarChar') || (et === 'Bool' && vt === 'Bool')
        if (!comparable) this.fail(sb.pos, `${fn}: ${describeRef(ref)} cannot contain ${describeValue(v)}`)
      }
    }
    return { t: 'pred', node: { kind: 'contains', target: ref, mode, values }, s }
  }

  private arrayLength(s: Syntax & { k: 'array_length' }): TE {
    const ref = this.resolve(s.arg)
    if (ref.dataType !== 'JSON' && !(ref.dataType === 'Array' && ref.path.length === 0)) {
      this.fail(s.arg.pos, `array_length can only be applied to JSON or whole Array fields, not ${describeRef(ref)}`)
    }
    return { t: 'len', ref, s }
  }

  private textMatch(s: Syntax & { k: 'text_match' | 'phrase_match' }): TE {
    const ref = this.resolve(s.field)
    if (colType(ref) !== 'VarChar' || ref.path.length > 0) this.fail(s.field.pos, `${s.k} can only be applied to VarChar fields, not ${describeRef(ref)}`)
    const f = fieldByName(this.schema, ref.field)
    const enabled = Object.entries(f?.typeParams ?? {}).some(([k, v]) => k === 'enable_match' && v.toLowerCase() === 'true')
    if (!enabled) this.fail(s.field.pos, `field "${ref.field}" does not enable match`)
    if (s.k === 'text_match' && s.minShouldMatch !== undefined && (s.minShouldMatch < 1n || s.minShouldMatch > 1000n)) {
      this.fail(s.pos, `minimum_should_match must be between 1 and 1000, got ${s.minShouldMatch}`)
    }
    if (s.k === 'phrase_match' && s.slop) {
      const sl = this.check(s.slop)
      if (sl.t !== 'value' || typeof sl.v !== 'bigint' || sl.v < 0n || sl.v > 0xffffffffn) {
        this.fail(s.slop.pos, '"slop" must be a constant integer between 0 and 4294967295')
      }
    }
    return this.fail(s.pos, `${s.k} is not supported yet (full-text search is not implemented)`)
  }

  private randomSample(s: Syntax & { k: 'random_sample' }): TE {
    const a = this.check(s.arg)
    if (a.t !== 'value' || a.tmpl || typeof a.v !== 'number') {
      return this.fail(s.arg.pos, `random_sample needs a constant floating-point factor, not ${describe(a)}`)
    }
    if (!(a.v > MIN_SAMPLE_FACTOR && a.v < 1 - MIN_SAMPLE_FACTOR)) {
      this.fail(s.arg.pos, `the random_sample factor must be strictly between 0 and 1, got ${formatValue(a.v)}`)
    }
    return { t: 'sample', factor: a.v, s }
  }

  private logic(s: Syntax & { k: 'logic' }): TE {
    const items = s.items.map((it) => this.check(it))
    const word = s.op
    const values = items.filter((te): te is ValueTE => te.t === 'value')
    if (values.length === items.length) {
      let acc = word === 'and'
      for (const v of values) {
        if (typeof v.v !== 'boolean' || v.tmpl) this.fail(v.s.pos, `"${word}" can only combine boolean expressions, not ${describe(v)}`)
        acc = word === 'and' ? acc && v.v : acc || v.v
      }
      return { t: 'value', v: acc, computed: true, s }
    }
    const preds: PlanNode[] = []
    let sample: Extract<TE, { t: 'sample' }> | undefined
    for (const [i, te] of items.entries()) {
      if (te.t === 'pred') {
        preds.push(te.node)
        continue
      }
      if (te.t === 'sample') {
        if (word === 'or') this.fail(te.s.pos, 'random_sample cannot be used in an "or" expression')
        if (i !== items.length - 1) this.fail(te.s.pos, 'random_sample must be the last operand of an "and" expression')
        sample = te
        continue
      }
      if (te.t === 'value') {
        this.fail(te.s.pos, `"${word}" cannot mix a constant (${describe(te)}) with other expressions`)
      }
      this.fail(te.s.pos, `"${word}" can only combine boolean expressions, not ${describe(te)}`)
    }
    if (sample) {
      if (sample.predicate) preds.push(sample.predicate)
      const predicate = preds.length > 0 ? mkAnd(preds) : undefined
      return predicate ? { t: 'sample', factor: sample.factor, predicate, s } : { t: 'sample', factor: sample.factor, s }
    }
    return { t: 'pred', node: word === 'and' ? mkAnd(preds) : mkOr(preds), s }
  }

  private call(s: Syntax & { k: 'call' }): TE {
    const kw = keywordInOtherCase(s.name)
    if (kw) this.fail(s.pos, `unknown function "${s.name}" (keywords must be all lower-case or all upper-case: "${kw}" or "${kw.toUpperCase()}")`)
    if (/^st_/i.test(s.name)) this.fail(s.pos, `geometry function "${s.name}" is not supported`)
    return this.fail(s.pos, `unknown function "${s.name}"`)
  }
}
