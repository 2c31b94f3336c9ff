import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { DbError } from '../common/errors.js'
import { chunkFromRows, fixtureSchema } from './fixture-schema.js'
import { evaluateFilter, explainPlan, parseFilter, primaryKeyTerms } from './index.js'

const schema = fixtureSchema()

function error(text: string, opts?: Parameters<typeof parseFilter>[2], s = schema): DbError {
  try {
    parseFilter(text, s, opts)
  } catch (e) {
    assert.ok(e instanceof DbError)
    return e
  }
  assert.fail(`expected ${text} to be rejected`)
}

describe('parseFilter', () => {
  it('returns a deeply frozen plan with the columns it reads', () => {
    const plan = parseFilter('i64 > 1 and (color == "red" or arr_s[0] like "x%") and i32 < f64', schema)
    assert.equal(plan.text, 'i64 > 1 and (color == "red" or arr_s[0] like "x%") and i32 < f64')
    assert.deepEqual(plan.fields, ['$meta', 'arr_s', 'f64', 'i32', 'i64'])
    assert.ok(Object.isFrozen(plan))
    assert.ok(Object.isFrozen(plan.root))
    assert.ok(plan.root.kind === 'and' && Object.isFrozen(plan.root.children) && Object.isFrozen(plan.root.children[0]))
    assert.throws(() => {
      ;(plan.root as { kind: string }).kind = 'or'
    }, TypeError)
  })

  it('rejects with ParameterInvalid (1100) naming the problem and the column', () => {
    const e = error('age > > 3')
    assert.equal(e.code, 1100)
    assert.equal(e.kind, 'ParameterInvalid')
    assert.equal(e.input, true)
    assert.equal(e.message, 'cannot parse expression: age > > 3, error: unexpected ">" at column 7: invalid parameter')
    const f = error('yeer > 1', undefined, fixtureSchema({ dynamic: false }))
    assert.match(f.message, /field "yeer" not found at column 1/)
  })

  it('reports line and column for multi-line filters', () => {
    assert.match(error('i64 > 1 and\n  s == 3').message, /at line 2, column 5/)
  })

  it('rejects empty text clearly (callers are expected to treat it as "no filter" first)', () => {
    assert.match(error('').message, /unexpected end of expression at column 1/)
    assert.match(error('   ').message, /unexpected end of expression/)
  })

  it('truncates very long filters in messages', () => {
    const text = `i64 in [${Array.from({ length: 5000 }, (_, i) => i).join(',')}] and`
    const e = error(text)
    assert.ok(e.message.length < 400, e.message)
  })

  it('without a dynamic field, unknown names and $meta are errors', () => {
    const s = fixtureSchema({ dynamic: false })
    assert.match(error('color == "red"', undefined, s).message, /field "color" not found/)
    assert.match(error('$meta["a"] == 1', undefined, s).message, /dynamic field is not enabled/)
    assert.equal(explainPlan(parseFilter('meta["a"] == 1', s)), '(== meta["a"] 1)')
  })
})

describe('template values', () => {
  it('fills every placeholder kind; bigint and integral numbers are integers', () => {
    const v = {
      a: 5,
      b: 5n,
      f: 2.5,
      s: 'x',
      t: true,
      l: [1, 2n, 3],
      ls: ['a', 'b'],
      nested: [[1, 2], [3]],
    }
    const cases: Array<[string, string]> = [
      ['i64 > {a}', '(> i64 5)'],
      ['i64 > {b}', '(> i64 5)'],
      ['f64 > {f}', '(> f64 2.5)'],
      ['f64 > {a}', '(> f64 5.0)'],
      ['s == {s}', '(== s "x")'],
      ['b == {t}', '(== b true)'],
      ['i64 in {l}', '(in i64 [1, 2, 3])'],
      ['s not in {ls}', '(not (in s ["a", "b"]))'],
      ['arr_i64 in {nested}', '(in arr_i64 [[1, 2], [3]])'],
      ['meta["x"] == {l}', '(== meta["x"] [1, 2, 3])'],
      ['{a} <= i32 <= {a}', '(range 5 <= i32 <= 5)'],
      ['array_contains_all(arr_s, {ls})', '(contains_all arr_s ["a", "b"])'],
    ]
    for (const [text, want] of cases) assert.equal(explainPlan(parseFilter(text, schema, { templateValues: v })), want, text)
  })

  it('reports missing and ill-typed values', () => {
    assert.match(error('i64 > {x}').message, /template variable \{x\} has no value/)
    assert.match(error('i64 > {x}', { templateValues: { x: 1.5 } }).message, /with template variable \{x\} = floating-point value 1\.5/)
    assert.match(error('i64 > {x}', { templateValues: { x: 2n ** 64n } }).message, /overflows int64/)
    assert.match(error('s like {x}', { templateValues: { x: 1 } }).message, /the like pattern must be a string/)
    assert.match(error('i64 > {constructor}', { templateValues: {} }).message, /has no value/)
  })

  it('evaluates the same as literals', () => {
    const chunk = chunkFromRows(schema, [{ i64: 1n, s: 'a' }, { i64: 2n, s: 'b' }])
    const viaTemplate = evaluateFilter(parseFilter('i64 in {ids} and s like {p}', schema, { templateValues: { ids: [2], p: 'b%' } }), chunk)
    const literal = evaluateFilter(parseFilter('i64 in [2] and s like "b%"', schema), chunk)
    assert.deepEqual([...viaTemplate.words], [...literal.words])
  })
})

describe('primaryKeyTerms', () => {
  it('returns the keys of pk in [...] and pk == x, de-duplicated', () => {
    assert.deepEqual(primaryKeyTerms(parseFilter('id in [3, 1, 3, 2]', schema), schema), [3n, 1n, 2n])
    assert.deepEqual(primaryKeyTerms(parseFilter('id == 7', schema), schema), [7n])
    assert.deepEqual(primaryKeyTerms(parseFilter('7 == id', schema), schema), [7n])
    assert.deepEqual(primaryKeyTerms(parseFilter('id in []', schema), schema), [])
    assert.deepEqual(primaryKeyTerms(parseFilter('id in {ids}', schema, { templateValues: { ids: [1, 2] } }), schema), [1n, 2n])
  })

  it('works for VarChar primary keys', () => {
    const s = fixtureSchema({ pk: 'VarChar' })
    assert.deepEqual(primaryKeyTerms(parseFilter('id in ["a", "b", "a"]', s), s), ['a', 'b'])
    assert.deepEqual(primaryKeyTerms(parseFilter("id == 'x'", s), s), ['x'])
  })

  it('is undefined for anything else', () => {
    for (const text of ['id > 1', 'id != 1', 'id not in [1]', 'i64 in [1]', 'id in [1] and i64 > 0', 'id in [1] or id in [2]', '1 == 1']) {
      assert.equal(primaryKeyTerms(parseFilter(text, schema), schema), undefined, text)
    }
  })
})
