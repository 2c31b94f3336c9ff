/**
 * Layering: a folder under src/ imports only from folders at its level or to its left, so storage
 * never depends on the network edge and cluster transports can replace in-process wiring.
 */
import assert from 'node:assert/strict'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import { it } from 'node:test'
import { fileURLToPath } from 'node:url'

const ORDER: Record<string, number> = {
  common: 0,
  schema: 1,
  expr: 2,
  infra: 3,
  catalog: 4,
  storage: 4,
  index: 5,
  segment: 6,
  query: 7,
  streaming: 8,
  coord: 9,
  nodes: 9,
  access: 10,
  cluster: 10,
  deploy: 10,
  roles: 11,
}

// dist/tests/arch.test.js -> <repo>/src
const SRC = fileURLToPath(new URL('../../src/', import.meta.url))

function* tsFiles(dir: string): Iterable<string> {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name)
    if (statSync(p).isDirectory()) yield* tsFiles(p)
    else if (name.endsWith('.ts') && !name.endsWith('.test.ts') && !name.endsWith('.bench.ts')) yield p
  }
}

it('src/ folders import only from their own layer or lower ones', () => {
  const violations: string[] = []
  for (const file of tsFiles(SRC)) {
    const rel = relative(SRC, file)
    const layer = rel.split('/')[0]!
    assert.ok(layer in ORDER || !rel.includes('/'), `folder ${layer} has no place in the layer order`)
    const text = readFileSync(file, 'utf8')
    for (const m of text.matchAll(/from '(\.\.\/[^']+)'/g)) {
      const target = relative(SRC, join(file, '..', m[1]!)).split('/')[0]!
      if (target in ORDER && ORDER[target]! > ORDER[layer]!) violations.push(`${rel} imports ${m[1]}`)
    }
  }
  assert.deepEqual(violations, [])
})
