import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
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
      openMetaStore('zk://localhost:2181/harrier'),
      'ParameterInvalid',
      /unsupported meta store url scheme "zk:"/,
    )
    await rejectsWith(
      openObjectStore('gs://bucket/prefix'),
      'ParameterInvalid',
      /unsupported object store url scheme/,
    )
    await rejectsWith(
      openWalProvider('pulsar://localhost:6650'),
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

  it('parses cluster urls, rejecting malformed ones before connecting', async () => {
    await rejectsWith(openMetaStore('etcd://'), 'ParameterInvalid')
    await rejectsWith(openMetaStore('etcd://host-without-port/x'), 'ParameterInvalid')
    await rejectsWith(openWalProvider('nats://h:4222/bad_prefix'), 'ParameterInvalid')
    await rejectsWith(openWalProvider('nats://h:4222/p?replicas=0'), 'ParameterInvalid')
    await rejectsWith(openWalProvider('nats://h:4222/p?colour=red'), 'ParameterInvalid')
    const { parseEtcdUrl } = await import('./meta-store/etcd-meta-store.js')
    const { parseNatsUrl, channelToken } = await import('./wal/nats-wal.js')
    assert.deepEqual(parseEtcdUrl('etcd://10.0.0.1:2379,10.0.0.2:2379/by-dev/meta'), {
      endpoints: ['10.0.0.1:2379', '10.0.0.2:2379'],
      root: 'by-dev/meta/',
    })
    assert.deepEqual(parseEtcdUrl('etcd://127.0.0.1:2379'), {
      endpoints: ['127.0.0.1:2379'],
      root: '',
    })
    assert.deepEqual(parseNatsUrl('nats://a:4222,b:4222/by-dev?replicas=3'), {
      servers: ['a:4222', 'b:4222'],
      prefix: 'by-dev',
      replicas: 3,
    })
    assert.equal(parseNatsUrl('nats://a:4222').prefix, 'harrier')
    // Channel tokens are injective: '_' and '.' are escaped, long names hashed.
    assert.equal(channelToken('by-dev-dml_0'), 'by-dev-dml__0')
    assert.equal(channelToken('a.b'), 'a_db')
    assert.notEqual(channelToken('a_db'), channelToken('a.b'))
    assert.match(channelToken('.'.repeat(100)), /^_h[0-9a-f]{40}$/)
  })

  it('loading the factories does not load the cluster SDKs', async () => {
    const index = new URL('./index.js', import.meta.url).href
    const script = `
      import { createRequire } from 'node:module'
      await import(${JSON.stringify(index)})
      const loaded = Object.keys(createRequire(import.meta.url).cache)
      console.log(JSON.stringify(loaded.filter((p) => /node_modules\\/(etcd3|nats)\\//.test(p))))`
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
      encoding: 'utf8',
    })
    assert.deepEqual(JSON.parse(out), [])
  })
})
