/**
 * The untyped syntax tree the parser produces. Positions are 0-based offsets into the filter text;
 * the checker turns this into the typed, schema-resolved plan (plan.ts).
 */
import type { PathStep } from './lexer.js'

export type BinaryOp =
  | '+'
  | '-'
  | '*'
  | '/'
  | '%'
  | '**'
  | '<<'
  | '>>'
  | '&'
  | '|'
  | '^'
  | '=='
  | '!='
  | '<'
  | '<='
  | '>'
  | '>='

export type ContainsFn =
  | 'json_contains'
  | 'json_contains_all'
  | 'json_contains_any'
  | 'array_contains'
  | 'array_contains_all'
  | 'array_contains_any'

interface At {
  readonly pos: number
  readonly end: number
}

export interface IdentSyntax extends At {
  readonly k: 'ident'
  readonly name: string
  readonly meta: boolean
  readonly path?: readonly PathStep[]
}

export type Syntax =
  | (At & { readonly k: 'int'; readonly value: bigint })
  | (At & { readonly k: 'float'; readonly value: number })
  | (At & { readonly k: 'string'; readonly value: string })
  | (At & { readonly k: 'bool'; readonly value: boolean })
  | (At & { readonly k: 'array'; readonly items: readonly Syntax[] })
  | (At & { readonly k: 'template'; readonly name: string })
  | IdentSyntax
  | (At & { readonly k: 'paren'; readonly inner: Syntax })
  | (At & { readonly k: 'unary'; readonly op: '+' | '-' | '~' | 'not'; readonly arg: Syntax })
  | (At & { readonly k: 'binary'; readonly op: BinaryOp; readonly opPos: number; readonly left: Syntax; readonly right: Syntax })
  | (At & { readonly k: 'logic'; readonly op: 'and' | 'or'; readonly items: readonly Syntax[] })
  | (At & {
      readonly k: 'range'
      readonly lower: Syntax
      readonly lowerInclusive: boolean
      readonly mid: IdentSyntax
      readonly upper: Syntax
      readonly upperInclusive: boolean
    })
  | (At & { readonly k: 'in'; readonly negated: boolean; readonly left: Syntax; readonly right: Syntax })
  | (At & { readonly k: 'like'; readonly left: Syntax; readonly pattern: Syntax })
  | (At & { readonly k: 'exists'; readonly arg: Syntax })
  | (At & { readonly k: 'isnull'; readonly ident: IdentSyntax; readonly negated: boolean })
  | (At & { readonly k: 'contains'; readonly fn: ContainsFn; readonly args: readonly Syntax[] })
  | (At & { readonly k: 'array_length'; readonly arg: IdentSyntax })
  | (At & {
      readonly k: 'text_match'
      readonly field: IdentSyntax
      readonly query: string
      readonly minShouldMatch?: bigint
    })
  | (At & { readonly k: 'phrase_match'; readonly field: IdentSyntax; readonly query: string; readonly slop?: Syntax })
  | (At & { readonly k: 'random_sample'; readonly arg: Syntax })
  | (At & { readonly k: 'call'; readonly name: string; readonly args: readonly Syntax[] })
