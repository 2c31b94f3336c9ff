import assert from 'node:assert/strict'
import { mkdir, readdir, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { CaptureLogger, rejectsWith, tempDirs } from '../../../tests/conformance/harness.js'
import { describeObjectStore } from '../../../tests/conformance/object-store.suite.js'
import { LocalObjectStore } from './local-object-store.js'

const dirs = tempDirs('objects')

describeObjectStore('LocalObjectStore', {
  open: async () => LocalObjectStore.open({ root: await dirs.make() }),
  async reopen(s) {
    await s.close()
    return LocalObjectStore.open({ root: (s as LocalObjectStore).root })
  },
  cleanup: () => dirs.cleanup(),
})

/** Every file under `root`, relative, sorted. */
async function files(root: string): Promise<string[]> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true })
  return entries
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath ?? e.path, e.name).slice(root.length + 1))
    .sort()
}

describe('LocalObjectStore on disk', () => {
  after(() => dirs.cleanup())

  it('stores key a/b/c at <root>/a/b/c and leaves no temp files behind', async () => {
    const root = await dirs.make()
    const s = await LocalObjectStore.open({ root })
    await Promise.all(Array.from({ length: 10 }, (_, i) => s.put('a/b/c', new Uint8Array([i]))))
    assert.deepEqual(await files(root), ['a/b/c'])
    await s.close()
  })

  it('ignores temp files of crashed puts in list, and removes them on open', async () => {
    const root = await dirs.make()
    const s = await LocalObjectStore.open({ root })
    await s.put('seg/1/data', new Uint8Array([1, 2, 3]))
    const deadWriter = 'data.harrier-tmp-2147483646.abc-0011aabb'
    const ownEarlierLife = `other.harrier-tmp-${process.pid}.0-0011aabb`
    await writeFile(join(root, 'seg', '1', deadWriter), 'partial')
    await writeFile(join(root, 'seg', '1', ownEarlierLife), 'partial')
    const listed: string[] = []
    for await (const o of s.list('')) listed.push(o.key)
    assert.deepEqual(listed, ['seg/1/data'])
    await s.close()
    const log = new CaptureLogger()
    const s2 = await LocalObjectStore.open({ root, log })
    assert.deepEqual(await files(root), ['seg/1/data'])
    assert.equal(log.find('removed temp files of interrupted puts')?.obj.files, 2)
    await s2.close()
  })

  it('leaves temp files of live writers alone', async () => {
    const root = await dirs.make()
    await mkdir(join(root, 'x'))
    const live = `y.harrier-tmp-${process.ppid}.zz-00`
    await writeFile(join(root, 'x', live), 'in flight')
    const s = await LocalObjectStore.open({ root })
    assert.deepEqual(await files(root), [`x/${live}`])
    await s.close()
  })

  it('removes directories emptied by delete', async () => {
    const root = await dirs.make()
    const s = await LocalObjectStore.open({ root })
    await s.put('insert_log/1/2/3/f', new Uint8Array([1]))
    await s.put('insert_log/1/9', new Uint8Array([1]))
    await s.delete(['insert_log/1/2/3/f'])
    assert.deepEqual(await readdir(join(root, 'insert_log', '1')), ['9'])
    await s.delete(['insert_log/1/9'])
    assert.deepEqual(await readdir(root), [])
    assert.ok((await stat(root)).isDirectory())
    await s.close()
  })

  it('rejects a key that collides with a prefix of another', async () => {
    const root = await dirs.make()
    const s = await LocalObjectStore.open({ root })
    await s.put('a/b', new Uint8Array([1]))
    await rejectsWith(s.put('a', new Uint8Array([2])), 'ParameterInvalid')
    await rejectsWith(s.put('a/b/c', new Uint8Array([3])), 'ParameterInvalid')
    assert.deepEqual(await files(root), ['a/b'])
    await s.close()
  })
})
