/**
 * Fuzz: thousands of random token soups and mutated valid filters. The parser must never crash
 * (only DbError ParameterInvalid with a positioned message), never hang, and any plan it returns
 * must evaluate without throwing. Pathological shapes (deep nesting, huge lists, long chains,
 * backtracking-prone LIKE patterns) are checked separately with time bounds.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { isDbError } from '../common/errors.js'
import { chunkFromRows, fixtureSchema } from './fixture-schema.js'
import { evaluateFilter, parseFilter } from './index.js'

const schema = fixtureSchema()
const chunk = chunkFromRows(schema, [
  { id: 1n, i8: 1, i32: 5, i64: 7n, f32: 0.5, f64: 2.5, b: true, s: 'abc', n_i64: null, meta: { a: 1, l: [1, 2] }, arr_i64: [1n, 2n], arr_s: ['x'], color: 'red' },
  { id: 2n, i8: -3, i32: -1, i64: -(2n ** 63n), f32: 1, f64: -0, b: false, s: '', n_i64: 3n, meta: { a: 'x' }, arr_i64: [], arr_s: [], n_json: { k: 1 } },
  { id: 3n, i64: 2n ** 63n - 1n, s: '中文', meta: null, n_s: 'q', n_arr: [5n] },
])

const SEEDS = [
  'i64 > 5 and s like "pre%"',
  '1 < i32 <= 5 or not (f64 == 2.5)',
  'meta["a"]["b"] in [1, "x", 2.5, true]',
  'color == "red" && exists $meta["size"]',
  'array_contains_any(arr_i64, [1, 2, 3]) || array_length(arr_s) >= 2',
  'i64 % 3 == 1 and n_i64 is not null',
  'json_contains_all(meta["l"], [1, 2]) and random_sample(0.5)',
  '10 > f32 >= -1.5 and s not in ["a", \'b\']',
  'arr_s[0] like "a_c%" or meta["x"] is null',
  'i32 + 5 > 10 and 2 * i64 < 9223372036854775807',
  'b == True and id in {ids}',
  's like "%a%b%"',
  '-(-5) <= i8 and 0x1F != i16 and 017 == i32',
]

const ATOMS = [
  'i64', 'i8', 's', 'f32', 'b', 'meta', 'arr_i64', 'arr_s', 'n_i64', '$meta', 'color', 'meta["a"]', 'arr_i64[0]',
  '1', '0', '-1', '2.5', '1e3', '0x1F', '9223372036854775808', '"x"', "'y'", '"%a_"', 'true', 'FALSE', '[', ']', '[1, 2]',
  '(', ')', '{', '}', '{ids}', ',', '==', '!=', '<', '<=', '>', '>=', '=', '+', '-', '*', '/', '%', '**', '&', '|', '^',
  '~', '!', '<<', '>>', '&&', '||', 'and', 'or', 'not', 'AND', 'Or', 'in', 'not in', 'like', 'exists', 'is null',
  'is not null', 'json_contains(', 'array_contains_all(', 'array_length(', 'random_sample(', 'text_match(', 'foo(',
  '$', '#', '\\', '"unterminated', "'\\q'", '\n', ' ', '中', '😀',
]

function checkOne(text: string): void {
  const t0 = performance.now()
  let plan: ReturnType<typeof parseFilter> | undefined
  try {
    plan = parseFilter(text, schema, { templateValues: { ids: [1, 2] } })
  } catch (e) {
    if (!isDbError(e, 'ParameterInvalid')) throw new Error(`non-DbError for ${JSON.stringify(text)}: ${String(e)}`)
    assert.match(e.message, /^cannot parse expression: .*, error: .+ at (line \d+, )?column \d+: invalid parameter$/s, `unclear error for ${JSON.stringify(text)}`)
  }
  if (plan) evaluateFilter(plan, chunk)
  const ms = performance.now() - t0
  // A hang guard, not a timing test: the bound is loose enough for a busy 2-core CI machine while
  // still catching exponential backtracking, which takes seconds to minutes on these inputs.
  assert.ok(ms < 3000, `${JSON.stringify(text.slice(0, 80))} took ${ms.toFixed(1)} ms`)
}

const soup = fc.array(fc.constantFrom(...ATOMS), { minLength: 1, maxLength: 14 }).chain((atoms) =>
  fc.array(fc.constantFrom(' ', '', '  '), { minLength: atoms.length, maxLength: atoms.length }).map((gaps) =>
    atoms.map((a, i) => a + gaps[i]).join(''),
  ),
)

type Mutation = { kind: 'delete' | 'insert' | 'duplicate' | 'truncate' | 'swap'; at: number; len: number; atom: string }

const mutation: fc.Arbitrary<Mutation> = fc.record({
  kind: fc.constantFrom<Mutation['kind']>('delete', 'insert', 'duplicate', 'truncate', 'swap'),
  at: fc.nat(),
  len: fc.integer({ min: 1, max: 6 }),
  atom: fc.constantFrom(...ATOMS),
})

function mutate(seed: string, ms: readonly Mutation[]): string {
  let s = seed
  for (const m of ms) {
    const at = s.length === 0 ? 0 : m.at % (s.length + 1)
    switch (m.kind) {
      case 'delete':
        s = s.slice(0, at) + s.slice(at + m.len)
        break
      case 'insert':
        s = s.slice(0, at) + m.atom + s.slice(at)
        break
      case 'duplicate':
        s = s.slice(0, at + m.len) + s.slice(at, at + m.len) + s.slice(at + m.len)
        break
      case 'truncate':
        s = s.slice(0, at)
        break
      case 'swap': {
        const b = Math.min(s.length, at + m.len)
        s = s.slice(0, at) + s.slice(b, b + m.len) + s.slice(at, b) + s.slice(b + m.len)
        break
      }
    }
  }
  return s
}

describe('parser fuzz', () => {
  it('seeds are valid filters', () => {
    for (const s of SEEDS) parseFilter(s, schema, { templateValues: { ids: [1, 2] } })
  })

  it('random token soups never crash or hang', () => {
    fc.assert(fc.property(soup, (text) => checkOne(text)), { numRuns: 4000 })
  })

  it('mutated valid filters never crash or hang', () => {
    fc.assert(
      fc.property(fc.constantFrom(...SEEDS), fc.array(mutation, { minLength: 1, maxLength: 4 }), (seed, ms) => checkOne(mutate(seed, ms))),
      { numRuns: 4000 },
    )
  })

  it('arbitrary unicode strings never crash', () => {
    fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 40 }), (text) => checkOne(text)), { numRuns: 1500 })
  })

  it('pathological shapes are bounded', () => {
    const big = 'x'.repeat(200_000)
    const cases = [
      '('.repeat(5000) + 'i64 > 1' + ')'.repeat(5000),
      `${'not '.repeat(5000)}(i64 > 1)`,
      `${'-'.repeat(5000)}1 < i64`,
      `${'['.repeat(5000)}1${']'.repeat(5000)}`,
      `i64 > 0${' + 1'.repeat(20000)}`,
      Array.from({ length: 20000 }, (_, i) => `i64 == ${i}`).join(' or '),
      Array.from({ length: 20000 }, (_, i) => `i64 != ${i}`).join(' and '),
      `i64 in [${Array.from({ length: 100_000 }, (_, i) => i).join(', ')}]`,
      `s in [${Array.from({ length: 50_000 }, (_, i) => `"v${i}"`).join(', ')}]`,
      `s == "${big}"`,
      `i64 == ${'9'.repeat(100_000)}`,
      `i64 == 0x${'f'.repeat(100_000)}`,
      `f64 == ${'1'.repeat(100_000)}.5`,
      `meta${'["k"]'.repeat(20000)} == 1`,
      `s like "${'%a'.repeat(200)}%b"`,
      `${'x'.repeat(100_000)} > 1`,
    ]
    for (const text of cases) checkOne(text)
  })

  it('backtracking-prone LIKE patterns stay linear at evaluation', () => {
    const rows = Array.from({ length: 200 }, (_, i) => ({ id: BigInt(i), s: 'a'.repeat(2000) }))
    const c = chunkFromRows(schema, rows)
    const t0 = performance.now()
    const plan = parseFilter(`s like "${'%a'.repeat(30)}%b"`, schema)
    assert.equal(evaluateFilter(plan, c).count(), 0)
    assert.ok(performance.now() - t0 < 1000)
  })
})
