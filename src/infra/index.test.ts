import assert from 'node:assert/strict'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { after, describe, it } from 'node:test'
import { rejectsWith, tempDirs } from '../../tests/conformance/harness.js'
import {
  FileMetaStore,
  FileWalProvider,
  LocalObjectStore,
  MemoryMetaStore,
  MemoryObjectStore,
  MemoryWalProvider,
  openMetaStore,
  openObjectStore,
  openWalProvider,
} from './index.js'

const dirs = tempDirs('factories')

describe('infra factories', () => {
  after(() => dirs.cleanup())

  it('memory:// gives a fresh in-memory instance per call', async () => {
    const a = await openMetaStore('memory://')
    const b = await openMetaStore('memory://')
    assert.ok(a instanceof MemoryMetaStore)
    await a.put('k', 'v')
    assert.equal(await b.get('k'), undefined)
    assert.ok((await openObjectStore('memory://')) instanceof MemoryObjectStore)
    assert.ok((await openWalProvider('memory://')) instanceof MemoryWalProvider)
    await Promise.all([a.close(), b.close()])
  })

  it('file:///abs and a plain absolute path open the embedded adapters', async () => {
    const root = await dirs.make()
    const meta = await openMetaStore(pathToFileURL(join(root, 'meta')).href)
    const objects = await openObjectStore(join(root, 'objects with space'))
    const wal = await openWalProvider(`file://${join(root, 'wal')}`)
    assert.ok(meta instanceof FileMetaStore)
    assert.ok(objects instanceof LocalObjectStore)
    assert.equal(objects.root, join(root, 'objects with space'))
    assert.ok(wal instanceof FileWalProvider)
    await meta.put('k', 'v')
    await meta.close()
    const again = await openMetaStore(join(root, 'meta'))
    assert.equal((await again.get('k'))?.value, 'v')
    await Promise.all([again.close(), objects.close(), wal.close()])
  })

  it('rejects unknown schemes and relative paths', async () => {
    await rejectsWith(
      openMetaStore('etcd://localhost:2379/harrier'),
      'ParameterInvalid',
      /unsupported meta store url scheme "etcd:"/,
    )
    await rejectsWith(
      openObjectStore('s3://bucket/prefix'),
      'ParameterInvalid',
      /unsupported object store url scheme/,
    )
    await rejectsWith(
      openWalProvider('nats://localhost:4222'),
      'ParameterInvalid',
      /unsupported WAL url scheme/,
    )
    await rejectsWith(
      openMetaStore('./data/meta'),
      'ParameterInvalid',
      /unsupported meta store url scheme/,
    )
    await rejectsWith(openMetaStore('file://host/path'), 'ParameterInvalid')
  })
})
