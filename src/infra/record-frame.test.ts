import assert from 'node:assert/strict'
import { open, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { rejectsWith, tempDirs } from '../../tests/conformance/harness.js'
import { FrameReader, containsValidFrame, encodeFrame, recoverLog } from './record-frame.js'

const dirs = tempDirs('frames')

async function fileWith(...parts: Uint8Array[]): Promise<string> {
  const path = join(await dirs.make(), 'log')
  await writeFile(path, Buffer.concat(parts))
  return path
}

describe('record frames', () => {
  after(() => dirs.cleanup())

  it('reads frames larger and smaller than its chunk, across chunk boundaries', async () => {
    const bodies = [1, 5, 40, 3, 100, 7, 16].map((n, i) => Buffer.alloc(n, 65 + i))
    const path = await fileWith(...bodies.map(encodeFrame))
    const fh = await open(path, 'r')
    try {
      const reader = new FrameReader(fh, 0, Number.POSITIVE_INFINITY, 16)
      const got: Buffer[] = []
      for (let f = await reader.next(); f !== undefined; f = await reader.next()) {
        assert.ok(f.ok)
        got.push(f.body)
      }
      assert.deepEqual(got, bodies)
    } finally {
      await fh.close()
    }
  })

  it('stops at `end` and reports a short frame before it as damaged', async () => {
    const a = encodeFrame(Buffer.from('aaaa'))
    const b = encodeFrame(Buffer.from('bbbb'))
    const path = await fileWith(a, b)
    const fh = await open(path, 'r')
    try {
      const clean = new FrameReader(fh, 0, a.length)
      assert.equal((await clean.next())?.ok, true)
      assert.equal(await clean.next(), undefined)
      const cut = new FrameReader(fh, 0, a.length + 5)
      await cut.next()
      assert.deepEqual(await cut.next(), { ok: false, pos: a.length, reason: 'short header' })
    } finally {
      await fh.close()
    }
  })

  it('refuses empty bodies, which a zero-filled tail would look like', () => {
    assert.throws(() => encodeFrame(new Uint8Array(0)))
    assert.equal(containsValidFrame(Buffer.alloc(64)), false)
    assert.equal(
      containsValidFrame(Buffer.concat([Buffer.alloc(3), encodeFrame(Buffer.from('x'))])),
      true,
    )
  })

  it('recoverLog tells a torn tail from damage in the middle', async () => {
    const frames = ['one', 'two', 'three'].map((s) => encodeFrame(Buffer.from(s)))
    const torn = await fileWith(...frames, frames[0]!.subarray(0, 6))
    const fh = await open(torn, 'r')
    try {
      const seen: string[] = []
      const r = await recoverLog(fh, 'torn', (body) => seen.push(body.toString()))
      assert.deepEqual(seen, ['one', 'two', 'three'])
      assert.deepEqual(r, { end: frames.reduce((n, f) => n + f.length, 0), tornBytes: 6 })
    } finally {
      await fh.close()
    }
    const broken = Buffer.concat(frames)
    broken[frames[0]!.length + 9]! ^= 1
    const fh2 = await open(await fileWith(broken), 'r')
    try {
      await rejectsWith(
        recoverLog(fh2, 'broken', () => undefined),
        'DataCorrupted',
        /broken: damaged record at byte 11/,
      )
    } finally {
      await fh2.close()
    }
  })
})
