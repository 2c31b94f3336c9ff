import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { CaptureLogger, failsWith } from '../../../tests/conformance/harness.js'
import { describeMetaStore } from '../../../tests/conformance/meta-store.suite.js'
import { MemoryMetaStore } from './memory-meta-store.js'

describeMetaStore('MemoryMetaStore', { open: async () => new MemoryMetaStore() })

describe('MemoryMetaStore watch history', () => {
  it('refuses to watch from a revision older than the history it keeps', async () => {
    const s = new MemoryMetaStore({ watchHistory: 10 })
    for (let i = 0; i < 200; i++) await s.put(`k${i % 5}`, String(i))
    await failsWith(() => s.watch('', { fromRevision: 1 }, () => undefined), 'ParameterInvalid')
    // Recent history is still there.
    const seen: number[] = []
    s.watch('', { fromRevision: 195 }, (events) => seen.push(events[0]!.kv.modRevision))
    await new Promise((r) => setTimeout(r, 5))
    assert.deepEqual(seen, [196, 197, 198, 199, 200])
    await s.close()
  })

  it('logs a watch callback that throws', async () => {
    const log = new CaptureLogger()
    const s = new MemoryMetaStore({ log })
    s.watch('', {}, () => {
      throw new Error('consumer bug')
    })
    await s.put('a', '1')
    await new Promise((r) => setTimeout(r, 5))
    assert.equal(log.find('meta store watch callback threw')?.level, 'error')
    await s.close()
  })
})
