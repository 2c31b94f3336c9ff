import assert from 'node:assert/strict'
import { appendFile, readFile, stat, truncate, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import {
  CaptureLogger,
  frameBounds,
  rejectsWith,
  tempDirs,
} from '../../../tests/conformance/harness.js'
import { describeMetaStore } from '../../../tests/conformance/meta-store.suite.js'
import { FileMetaStore } from './file-meta-store.js'

const dirs = tempDirs('meta')
const where = new WeakMap<FileMetaStore, string>()

describeMetaStore('FileMetaStore', {
  async open() {
    const dir = await dirs.make()
    const s = await FileMetaStore.open({ dir })
    where.set(s, dir)
    return s
  },
  async reopen(s) {
    const dir = where.get(s as FileMetaStore)!
    await s.close()
    const s2 = await FileMetaStore.open({ dir })
    where.set(s2, dir)
    return s2
  },
  cleanup: () => dirs.cleanup(),
})

describe('FileMetaStore crash safety', () => {
  after(() => dirs.cleanup())

  /** A closed store in a new directory with keys k0..k{n-1} written one record each. */
  async function journalWith(n: number): Promise<string> {
    const dir = await dirs.make()
    const s = await FileMetaStore.open({ dir })
    for (let i = 0; i < n; i++) await s.put(`k${i}`, `value-${i}`)
    await s.close()
    return dir
  }

  async function reopenKeys(
    dir: string,
    log: CaptureLogger,
  ): Promise<{ keys: string[]; rev: number }> {
    const s = await FileMetaStore.open({ dir, log })
    try {
      return { keys: (await s.scan('')).map((kv) => kv.key), rev: await s.currentRevision() }
    } finally {
      await s.close()
    }
  }

  const recordBounds = async (dir: string) => frameBounds(await readFile(join(dir, 'journal')))

  it('drops garbage appended after the last record, with a warning', async () => {
    const dir = await journalWith(5)
    const size = (await stat(join(dir, 'journal'))).size
    await appendFile(
      join(dir, 'journal'),
      Buffer.from([0x13, 0x00, 0x00, 0x00, 0xde, 0xad, 0xbe, 0xef, 0x01]),
    )
    const log = new CaptureLogger()
    const { keys, rev } = await reopenKeys(dir, log)
    assert.deepEqual(keys, ['k0', 'k1', 'k2', 'k3', 'k4'])
    assert.equal(rev, 5)
    const line = log.find('dropped torn meta journal tail')
    assert.equal(line?.level, 'warn')
    assert.equal(line?.obj.bytesDropped, 9)
    assert.equal(
      (await stat(join(dir, 'journal'))).size,
      size,
      'file truncated back to the last good record',
    )
    // The repaired journal reopens cleanly.
    const again = new CaptureLogger()
    await reopenKeys(dir, again)
    assert.equal(again.find('dropped torn meta journal tail'), undefined)
  })

  it('drops a record cut off mid-write', async () => {
    const dir = await journalWith(5)
    const bounds = await recordBounds(dir)
    const [start, end] = bounds[4]!
    await truncate(join(dir, 'journal'), start + Math.floor((end - start) / 2))
    const log = new CaptureLogger()
    const { keys, rev } = await reopenKeys(dir, log)
    assert.deepEqual(keys, ['k0', 'k1', 'k2', 'k3'])
    assert.equal(rev, 4)
    assert.ok(log.find('dropped torn meta journal tail'))
  })

  it('drops a last record whose checksum fails', async () => {
    const dir = await journalWith(5)
    const bounds = await recordBounds(dir)
    const buf = await readFile(join(dir, 'journal'))
    buf[bounds[4]![1] - 3]! ^= 0x40
    await writeFile(join(dir, 'journal'), buf)
    const log = new CaptureLogger()
    const { keys } = await reopenKeys(dir, log)
    assert.deepEqual(keys, ['k0', 'k1', 'k2', 'k3'])
    assert.ok(log.find('dropped torn meta journal tail'))
    // Revisions continue from the surviving records.
    const s = await FileMetaStore.open({ dir })
    assert.equal(await s.put('k4', 'again'), 5)
    await s.close()
  })

  it('refuses to open when a record in the middle is damaged', async () => {
    const dir = await journalWith(5)
    const bounds = await recordBounds(dir)
    const buf = await readFile(join(dir, 'journal'))
    buf[bounds[2]![0] + 12]! ^= 0x01
    await writeFile(join(dir, 'journal'), buf)
    await rejectsWith(FileMetaStore.open({ dir }), 'DataCorrupted', /followed by intact records/)
    // The failed open released its lock and left the file alone.
    assert.deepEqual(await readFile(join(dir, 'journal')), buf)
    await rejectsWith(FileMetaStore.open({ dir }), 'DataCorrupted')
  })

  it('refuses a damaged snapshot', async () => {
    const dir = await dirs.make()
    const s = await FileMetaStore.open({ dir, compactAfterBytes: 1 })
    await s.put('a', '1')
    await s.close()
    const buf = await readFile(join(dir, 'snapshot'))
    buf[buf.length - 2]! ^= 0xff
    await writeFile(join(dir, 'snapshot'), buf)
    await rejectsWith(FileMetaStore.open({ dir }), 'DataCorrupted')
  })
})

describe('FileMetaStore compaction, group commit and locking', () => {
  after(() => dirs.cleanup())

  it('folds the journal into a snapshot and reopens to the same state', async () => {
    const dir = await dirs.make()
    const s = await FileMetaStore.open({ dir, compactAfterBytes: 2048 })
    for (let i = 0; i < 200; i++) await s.put(`k/${i % 50}`, `v${i}`)
    await s.deletePrefix('k/4')
    assert.ok(s.stats().compactions > 0)
    assert.ok(s.stats().journalBytes < 2048 + 256)
    const before = await s.scan('')
    const rev = await s.currentRevision()
    await s.close()
    const s2 = await FileMetaStore.open({ dir })
    assert.deepEqual(await s2.scan(''), before)
    assert.equal(await s2.currentRevision(), rev)
    assert.equal(await s2.put('x', 'y'), rev + 1)
    await s2.close()
  })

  it('survives a crash between writing the snapshot and emptying the journal', async () => {
    const dir = await dirs.make()
    const s = await FileMetaStore.open({ dir })
    for (let i = 0; i < 10; i++) await s.put(`k${i}`, `${i}`)
    await s.close()
    const journal = await readFile(join(dir, 'journal'))
    // Compact (tiny threshold: the next write triggers it), then restore the old journal beside the
    // new snapshot, as if the process died right after the snapshot rename.
    const s2 = await FileMetaStore.open({ dir, compactAfterBytes: 1 })
    await s2.put('k10', '10')
    const rev = await s2.currentRevision()
    await s2.close()
    await writeFile(join(dir, 'journal'), journal)
    const s3 = await FileMetaStore.open({ dir })
    assert.equal((await s3.scan('')).length, 11)
    assert.equal(await s3.currentRevision(), rev)
    await s3.close()
  })

  it('group-commits concurrent writes into few fsyncs, all durable', async () => {
    const dir = await dirs.make()
    const s = await FileMetaStore.open({ dir })
    const revs = await Promise.all(
      Array.from({ length: 200 }, (_, i) => s.put(`c/${i}`, String(i))),
    )
    assert.deepEqual(
      [...revs].sort((a, b) => a - b),
      Array.from({ length: 200 }, (_, i) => i + 1),
    )
    const { fsyncs } = s.stats()
    assert.ok(fsyncs >= 1 && fsyncs <= 20, `${fsyncs} fsyncs for 200 puts`)
    await s.close()
    const s2 = await FileMetaStore.open({ dir })
    assert.equal((await s2.scan('c/')).length, 200)
    await s2.close()
  })

  it('allows one open store per directory', async () => {
    const dir = await dirs.make()
    const s = await FileMetaStore.open({ dir })
    await rejectsWith(
      FileMetaStore.open({ dir }),
      'ServiceInternal',
      new RegExp(`meta store .* is locked by pid ${process.pid}`),
    )
    await s.close()
    const s2 = await FileMetaStore.open({ dir })
    await s2.close()
  })

  it('rejects a lock held by another live process', async () => {
    const dir = await dirs.make()
    const other = process.ppid
    await writeFile(join(dir, 'LOCK'), `${other}\n`)
    await rejectsWith(
      FileMetaStore.open({ dir }),
      'ServiceInternal',
      new RegExp(`locked by pid ${other}`),
    )
  })

  it('takes over the lock of a dead process, or of an earlier life of this pid', async () => {
    for (const pid of [2147483646, process.pid]) {
      const dir = await dirs.make()
      await writeFile(join(dir, 'LOCK'), `${pid}\n`)
      const s = await FileMetaStore.open({ dir })
      await s.put('a', '1')
      await s.close()
      await assert.rejects(stat(join(dir, 'LOCK')), /ENOENT/)
    }
  })
})
