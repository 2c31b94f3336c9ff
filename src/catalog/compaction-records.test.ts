import assert from 'node:assert/strict'
import { it } from 'node:test'
import { MemoryMetaStore } from '../infra/index.js'
import { Catalog } from './catalog.js'

it('remembers finished manual compactions for every process, keeping the newest 1024', async () => {
  const store = new MemoryMetaStore()
  const writer = new Catalog(store)
  await writer.load()
  for (let i = 1; i <= 1030; i++) await writer.recordCompaction(BigInt(5000 + i), i % 3)
  // Another process (a data node that did not run them) reads the same records.
  const reader = new Catalog(store)
  await reader.load()
  assert.equal(await reader.compactionResult(5000n + 1030n), 1030 % 3)
  assert.equal(await reader.compactionResult(5000n + 7n), 7 % 3)
  assert.equal(await reader.compactionResult(5000n + 6n), undefined, 'the oldest beyond 1024 are forgotten')
  assert.equal(await reader.compactionResult(42n), undefined)
})
