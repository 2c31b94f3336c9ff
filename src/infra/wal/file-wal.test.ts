import assert from 'node:assert/strict'
import { appendFile, readFile, readdir, stat, truncate, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import {
  CaptureLogger,
  frameBounds,
  rejectsWith,
  tempDirs,
} from '../../../tests/conformance/harness.js'
import { describeWal } from '../../../tests/conformance/wal.suite.js'
import { FileWalProvider, type FileWalOptions } from './file-wal.js'
import type { Wal } from './wal.js'

const dirs = tempDirs('wal')

describeWal('FileWalProvider', {
  open: async () => FileWalProvider.open({ dir: await dirs.make() }),
  async reopen(p) {
    await p.close()
    return FileWalProvider.open({ dir: (p as FileWalProvider).dir })
  },
  cleanup: () => dirs.cleanup(),
})

// The same suite with tiny segments, so every behaviour also holds across segment boundaries.
describeWal('FileWalProvider (64-byte segments)', {
  open: async () =>
    FileWalProvider.open({ dir: await dirs.make(), segmentBytes: 64, fsync: false }),
  async reopen(p) {
    await p.close()
    return FileWalProvider.open({ dir: (p as FileWalProvider).dir, segmentBytes: 64, fsync: false })
  },
  cleanup: () => dirs.cleanup(),
})

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s)

async function readAll(wal: Wal, from = 0n): Promise<Array<[bigint, string]>> {
  const out: Array<[bigint, string]> = []
  for await (const e of wal.read(from)) out.push([e.offset, new TextDecoder().decode(e.payload)])
  return out
}

async function segments(dir: string, channel = 'c'): Promise<string[]> {
  return (await readdir(join(dir, channel))).filter((n) => n.endsWith('.wal')).sort()
}

/** Writes m0..m{n-1} to channel 'c' of a new WAL directory, one append each, and closes it. */
async function walWith(n: number, opts: Partial<FileWalOptions> = {}): Promise<string> {
  const dir = await dirs.make()
  const p = await FileWalProvider.open({ dir, ...opts })
  const w = await p.open('c')
  for (let i = 0; i < n; i++) await w.append(bytes(`m${i}`))
  await p.close()
  return dir
}

async function reopenAndRead(
  dir: string,
  log: CaptureLogger,
): Promise<{ entries: Array<[bigint, string]>; next: bigint }> {
  const p = await FileWalProvider.open({ dir, log })
  try {
    const w = await p.open('c')
    return { entries: await readAll(w), next: w.nextOffset() }
  } finally {
    await p.close()
  }
}

const recordBounds = async (path: string) => frameBounds(await readFile(path))

const first5: Array<[bigint, string]> = [
  [0n, 'm0'],
  [1n, 'm1'],
  [2n, 'm2'],
  [3n, 'm3'],
  [4n, 'm4'],
]

describe('FileWalProvider crash safety', () => {
  after(() => dirs.cleanup())

  it('drops garbage after the last record, with a warning, and appends after it', async () => {
    const dir = await walWith(5)
    const [seg] = await segments(dir)
    const path = join(dir, 'c', seg!)
    const size = (await stat(path)).size
    await appendFile(path, Buffer.from('\x05\x00\x00\x00garbage!'))
    const log = new CaptureLogger()
    const { entries, next } = await reopenAndRead(dir, log)
    assert.deepEqual(entries, first5)
    assert.equal(next, 5n)
    const line = log.find('dropped torn WAL tail')
    assert.equal(line?.level, 'warn')
    assert.deepEqual([line?.obj.channel, line?.obj.offset, line?.obj.bytesDropped], ['c', 5, 12])
    assert.equal((await stat(path)).size, size)
    const p = await FileWalProvider.open({ dir })
    const w = await p.open('c')
    assert.equal(await w.append(bytes('m5')), 5n)
    assert.deepEqual((await readAll(w)).at(-1), [5n, 'm5'])
    await p.close()
  })

  it('drops a record cut off mid-write', async () => {
    const dir = await walWith(5)
    const [seg] = await segments(dir)
    const path = join(dir, 'c', seg!)
    const [start, end] = (await recordBounds(path))[4]!
    await truncate(path, start + Math.floor((end - start) / 2))
    const log = new CaptureLogger()
    const { entries, next } = await reopenAndRead(dir, log)
    assert.deepEqual(entries, first5.slice(0, 4))
    assert.equal(next, 4n)
    assert.equal(log.find('dropped torn WAL tail')?.obj.offset, 4)
  })

  it('drops a zero-filled tail (a crash after the file grew, before the data landed)', async () => {
    const dir = await walWith(5)
    const [seg] = await segments(dir)
    await appendFile(join(dir, 'c', seg!), Buffer.alloc(4096))
    const log = new CaptureLogger()
    const { entries } = await reopenAndRead(dir, log)
    assert.deepEqual(entries, first5)
    assert.equal(log.find('dropped torn WAL tail')?.obj.bytesDropped, 4096)
  })

  it('drops a last record whose checksum fails', async () => {
    const dir = await walWith(5)
    const [seg] = await segments(dir)
    const path = join(dir, 'c', seg!)
    const buf = await readFile(path)
    buf[buf.length - 1]! ^= 0x20
    await writeFile(path, buf)
    const log = new CaptureLogger()
    const { entries, next } = await reopenAndRead(dir, log)
    assert.deepEqual(entries, first5.slice(0, 4))
    assert.equal(next, 4n)
    assert.ok(log.find('dropped torn WAL tail'))
  })

  it('refuses to open when a record in the middle is damaged', async () => {
    const dir = await walWith(5)
    const [seg] = await segments(dir)
    const path = join(dir, 'c', seg!)
    const [start] = (await recordBounds(path))[1]!
    const buf = await readFile(path)
    buf[start + 17]! ^= 0x01
    await writeFile(path, buf)
    const p = await FileWalProvider.open({ dir })
    await rejectsWith(p.open('c'), 'DataCorrupted', /followed by intact records/)
    await p.close()
    assert.deepEqual(await readFile(path), buf, 'the damaged file is left for inspection')
  })

  it('reports damage in an older segment when reading it', async () => {
    const dir = await walWith(6, { segmentBytes: 48 })
    const segs = await segments(dir)
    assert.ok(segs.length >= 3, segs.join())
    const path = join(dir, 'c', segs[0]!)
    const buf = await readFile(path)
    buf[buf.length - 1]! ^= 0x01
    await writeFile(path, buf)
    const p = await FileWalProvider.open({ dir, segmentBytes: 48 })
    const w = await p.open('c')
    await rejectsWith(readAll(w), 'DataCorrupted')
    // Reading from a later segment does not touch the damaged one.
    assert.deepEqual(
      (await readAll(w, 4n)).map(([o]) => o),
      [4n, 5n],
    )
    await p.close()
  })
})

describe('FileWalProvider segments and group commit', () => {
  after(() => dirs.cleanup())

  it('group-commits 200 concurrent appends into far fewer fsyncs, all durable', async () => {
    const dir = await dirs.make()
    const p = await FileWalProvider.open({ dir })
    const w = await p.open('c')
    const offsets = await Promise.all(
      Array.from({ length: 200 }, (_, i) => w.append(bytes(`m${i}`))),
    )
    const stats = w.stats()
    assert.equal(stats.appends, 200)
    assert.ok(stats.fsyncs >= 1 && stats.fsyncs <= 20, `${stats.fsyncs} fsyncs for 200 appends`)
    await p.close()
    const { entries } = await reopenAndRead(dir, new CaptureLogger())
    assert.equal(entries.length, 200)
    const byOffset = new Map(entries)
    offsets.forEach((off, i) => assert.equal(byOffset.get(off), `m${i}`))
  })

  it('shares fsyncs among 8 appenders that each wait for their previous append', async () => {
    const dir = await dirs.make()
    const p = await FileWalProvider.open({ dir })
    const w = await p.open('c')
    await Promise.all(
      Array.from({ length: 8 }, async (_, a) => {
        for (let i = 0; i < 25; i++) await w.append(bytes(`a${a}-${i}`))
      }),
    )
    const { fsyncs } = w.stats()
    assert.ok(fsyncs < 100, `${fsyncs} fsyncs for 200 appends by 8 appenders`)
    assert.equal((await readAll(w)).length, 200)
    await p.close()
  })

  it('rolls segments named by their first offset; truncate deletes whole segments below', async () => {
    const dir = await dirs.make()
    const p = await FileWalProvider.open({ dir, segmentBytes: 100 })
    const w = await p.open('c')
    // Each record is 16 + 10 bytes: three fit in a 100-byte segment.
    for (let i = 0; i < 10; i++) await w.append(bytes(`payload-${i.toString().padStart(2, '0')}`))
    const segs = await segments(dir)
    assert.deepEqual(segs, [
      '00000000000000000000.wal',
      '00000000000000000003.wal',
      '00000000000000000006.wal',
      '00000000000000000009.wal',
    ])
    assert.deepEqual(
      (await readAll(w, 5n)).map(([o]) => o),
      [5n, 6n, 7n, 8n, 9n],
    )
    await w.truncate(7n)
    assert.deepEqual(await segments(dir), ['00000000000000000006.wal', '00000000000000000009.wal'])
    assert.deepEqual(
      (await readAll(w)).map(([o]) => o),
      [6n, 7n, 8n, 9n],
    )
    await w.truncate(1000n)
    assert.deepEqual(
      await segments(dir),
      ['00000000000000000009.wal'],
      'the last segment always stays',
    )
    await p.close()
  })

  it('keeps an appendBatch in one segment even if it overflows it', async () => {
    const dir = await dirs.make()
    const p = await FileWalProvider.open({ dir, segmentBytes: 64 })
    const w = await p.open('c')
    await w.append(bytes('first'))
    await w.appendBatch(Array.from({ length: 5 }, (_, i) => bytes(`batch-${i}`)))
    await w.append(bytes('after'))
    assert.deepEqual(await segments(dir), [
      '00000000000000000000.wal',
      '00000000000000000001.wal',
      '00000000000000000006.wal',
    ])
    await p.close()
  })

  it('locks the directory against a second provider', async () => {
    const dir = await dirs.make()
    const p = await FileWalProvider.open({ dir })
    await rejectsWith(FileWalProvider.open({ dir }), 'ServiceInternal', /WAL .* is locked by pid/)
    await p.close()
    await (await FileWalProvider.open({ dir })).close()
  })

  it('rejects a bad segmentBytes', async () => {
    await rejectsWith(
      FileWalProvider.open({ dir: await dirs.make(), segmentBytes: 0 }),
      'ParameterInvalid',
    )
  })
})
