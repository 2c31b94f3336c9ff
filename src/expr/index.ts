/**
 * Harrier's filter language: Milvus 2.6 boolean expressions (Plan.g4) parsed once into an
 * immutable typed plan, then evaluated columnar over any ColumnChunk into a row Bitset. The same
 * plan serves search pre-filtering, query, delete and count(*).
 *
 * Errors: every rejected filter throws DbError('ParameterInvalid') whose message names the
 * problem and its position (`unexpected ">" at column 7`, `field "yeer" not found at column 1`).
 * Concurrency: plans are deeply frozen and evaluation keeps no state between calls, so one plan
 * may be evaluated from many callers at once.
 */
import type { Bitset } from '../common/bitset.js'
import type { ColumnChunk } from '../schema/columns.js'
import { type CollectionSchema, primaryField } from '../schema/types.js'
import { Checker, type TemplateValue } from './checker.js'
import { compilePlan } from './evaluator.js'
import { type FieldRef, type PlanNode, deepFreeze, explainNode } from './plan.js'
import { parseSyntax } from './parser.js'

export type { TemplateValue } from './checker.js'
export type { ArithOp, CmpOp, ContainsMode, FieldRef, LikeMatch, PlanKind, PlanNode } from './plan.js'
export type { Value, Scalar } from './values.js'

/** A parsed, type-checked filter. Immutable; safe to share across segments and requests. */
export interface FilterPlan {
  /** The filter exactly as the client sent it. */
  readonly text: string
  /** Frozen typed tree; see plan.ts for the node kinds and their semantics. */
  readonly root: PlanNode
  /** Chunk column keys the filter reads (field names, `$meta` for dynamic keys), sorted. */
  readonly fields: readonly string[]
}

export interface ParseFilterOptions {
  /** Values for `{name}` placeholders (Milvus expr_template_values). */
  readonly templateValues?: Readonly<Record<string, TemplateValue>>
}

const COMPILED = Symbol('harrier.expr.compiled')

interface CompiledPlan extends FilterPlan {
  readonly [COMPILED]: (chunk: ColumnChunk) => Bitset
}

function collectFields(node: PlanNode, out: Set<string>): void {
  const add = (f: FieldRef): void => {
    out.add(f.field)
  }
  switch (node.kind) {
    case 'const':
      return
    case 'and':
    case 'or':
      for (const c of node.children) collectFields(c, out)
      return
    case 'not':
      collectFields(node.child, out)
      return
    case 'fieldCompare':
      add(node.left)
      add(node.right)
      return
    case 'randomSample':
      if (node.predicate) collectFields(node.predicate, out)
      return
    default:
      add(node.target)
  }
}

/**
 * Parses and type-checks a filter against a schema. Throws DbError('ParameterInvalid', <message
 * with position>) for any filter Milvus would reject. Empty or whitespace-only text is not a
 * filter: callers check for that first (Milvus treats it as "no filter").
 */
export function parseFilter(
  text: string,
  schema: CollectionSchema,
  opts?: ParseFilterOptions,
): FilterPlan {
  const syntax = parseSyntax(text)
  const root = deepFreeze(new Checker(text, schema, opts).checkRoot(syntax))
  const fields = new Set<string>()
  collectFields(root, fields)
  const plan: CompiledPlan = {
    text,
    root,
    fields: Object.freeze([...fields].sort()),
    // Compiling up front digests constants (sets, intervals, regexes) once for all chunks.
    [COMPILED]: compilePlan(root),
  }
  return Object.freeze(plan)
}

/**
 * Rows of the chunk that pass (bit i set = row i passes). Comparisons with null never pass and
 * `not` keeps them failing: `is null` is the only way to select a null cell. A column the chunk
 * lacks (a field added after the chunk was written) reads as null.
 */
export function evaluateFilter(plan: FilterPlan, chunk: ColumnChunk): Bitset {
  const compiled = (plan as Partial<CompiledPlan>)[COMPILED] ?? compilePlan(plan.root)
  return compiled(chunk)
}

/**
 * For delete-by-primary-key fast paths: the key list when the plan is exactly `pk in [...]` or
 * `pk == x` on the primary key (duplicates removed, order kept), else undefined.
 */
export function primaryKeyTerms(plan: FilterPlan, schema: CollectionSchema): bigint[] | string[] | undefined {
  const root = plan.root
  const pk = primaryField(schema)
  let values: readonly unknown[]
  if (root.kind === 'in') values = root.values
  else if (root.kind === 'compare' && root.op === '==') values = [root.value]
  else return undefined
  const target = root.target
  if (!target.isPrimaryKey || target.field !== pk.name || target.path.length > 0) return undefined
  if (pk.dataType === 'Int64') {
    if (!values.every((v): v is bigint => typeof v === 'bigint')) return undefined
    return [...new Set(values)]
  }
  if (pk.dataType === 'VarChar') {
    if (!values.every((v): v is string => typeof v === 'string')) return undefined
    return [...new Set(values)]
  }
  return undefined
}

/** The plan as a compact S-expression, e.g. `(and (> age 30) (in name ["a", "b"]))`. */
export function explainPlan(plan: FilterPlan): string {
  return explainNode(plan.root)
}
