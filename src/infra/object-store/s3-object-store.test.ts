/**
 * S3ObjectStore against a real Ceph RADOS Gateway started for this file (tests/conformance/ceph-rgw.ts):
 * the ObjectStore suite, then what only S3 has (pages of 1000 keys, batches of 1000 deletes, key
 * encoding, error mapping). Every store gets its own prefix in one shared bucket, so tests never
 * see each other's objects. Without Ceph installed these fail, unless HARRIER_SKIP_CLUSTER_TESTS=1.
 */
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { after, describe, it } from 'node:test'
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3'
import { clusterTestsSkipped, startCephRgw, type CephRgw } from '../../../tests/conformance/ceph-rgw.js'
import { failsWith, rejectsWith } from '../../../tests/conformance/harness.js'
import { describeObjectStore } from '../../../tests/conformance/object-store.suite.js'
import { openObjectStore } from '../index.js'
import type { ObjectInfo, ObjectStore } from './object-store.js'
import { S3ObjectStore, parseS3Url } from './s3-object-store.js'

const skip = clusterTestsSkipped()

/** One cluster for the whole file, started by the first test that needs it. */
let cluster: Promise<CephRgw> | undefined
const rgw = (): Promise<CephRgw> => (cluster ??= startCephRgw())
after(async () => {
  const c = await cluster?.catch(() => undefined)
  await c?.stop()
})

/** The cluster's URL with a fresh prefix (or `prefix`), so each store starts empty. */
function urlFor(
  c: CephRgw,
  prefix: string = `t/${randomUUID().slice(0, 8)}`,
  extra: Record<string, string> = {},
): string {
  const u = new URL(c.url)
  u.pathname = `/${prefix}`
  for (const [k, v] of Object.entries(extra)) u.searchParams.set(k, v)
  return u.href
}

async function freshStore(prefix?: string): Promise<S3ObjectStore> {
  return S3ObjectStore.open(parseS3Url(urlFor(await rgw(), prefix)))
}

async function collect(it: AsyncIterable<ObjectInfo>): Promise<ObjectInfo[]> {
  const out: ObjectInfo[] = []
  for await (const o of it) out.push(o)
  return out
}

const keysOf = async (s: ObjectStore, prefix: string): Promise<string[]> =>
  (await collect(s.list(prefix))).map((o) => o.key)
const bytes = (s: string): Uint8Array => new TextEncoder().encode(s)
const text = (b: Uint8Array): string => new TextDecoder().decode(b)

/** Runs `fn` over `items`, `limit` at a time. */
async function pool<T>(items: readonly T[], limit: number, fn: (x: T) => Promise<void>): Promise<void> {
  let next = 0
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) await fn(items[next++]!)
    }),
  )
}

if (skip) {
  it('ObjectStore conformance: S3ObjectStore on Ceph RGW', { skip }, () => {})
} else {
  describeObjectStore('S3ObjectStore on Ceph RGW', {
    // Through the s3: factory, as roles/ will open it.
    open: async () => openObjectStore(urlFor(await rgw())),
    async reopen(s) {
      await s.close()
      return freshStore((s as S3ObjectStore).root.slice(0, -1))
    },
  })
}

describe('S3ObjectStore on Ceph RGW', { skip }, () => {
  it('reads ranges at the edges of objects', async () => {
    const s = await freshStore()
    try {
      await s.put('r', bytes('0123456789'))
      await s.put('empty', new Uint8Array(0))
      const read = async (key: string, offset: number, length?: number): Promise<string> =>
        text(await s.get(key, { range: length === undefined ? { offset } : { offset, length } }))
      assert.equal(await read('r', 0, 10), '0123456789')
      assert.equal(await read('r', 0, 1), '0')
      assert.equal(await read('r', 9, 1), '9')
      assert.equal(await read('r', 9, 100), '9')
      assert.equal(await read('r', 9), '9')
      assert.equal(await read('r', 10), '')
      assert.equal(await read('r', 10, 0), '')
      assert.equal(await read('r', 10, 5), '')
      assert.equal(await read('r', 3, 0), '')
      await rejectsWith(s.get('r', { range: { offset: 11 } }), 'ParameterInvalid')
      await rejectsWith(s.get('r', { range: { offset: 11, length: 0 } }), 'ParameterInvalid')
      await rejectsWith(s.get('r', { range: { offset: 1.5 } }), 'ParameterInvalid')
      assert.equal(await read('empty', 0), '')
      assert.equal(await read('empty', 0, 10), '')
      await rejectsWith(s.get('empty', { range: { offset: 1 } }), 'ParameterInvalid')
      await rejectsWith(s.get('missing', { range: { offset: 0, length: 0 } }), 'IoKeyNotFound')
      await rejectsWith(s.get('missing', { range: { offset: 5, length: 2 } }), 'IoKeyNotFound')
      // A range inside a multi-megabyte object.
      const big = Uint8Array.from({ length: 2 * 1024 * 1024 + 3 }, (_, i) => (i * 7) & 0xff)
      await s.put('big', big)
      const mid = await s.get('big', { range: { offset: 1024 * 1024 - 5, length: 10 } })
      assert.deepEqual(mid, big.slice(1024 * 1024 - 5, 1024 * 1024 + 5))
      assert.deepEqual(await s.get('big', { range: { offset: big.length - 2 } }), big.slice(-2))
    } finally {
      await s.close()
    }
  })

  it('lists more than one page (1000 keys) in order, and deletes more than one batch', async () => {
    const s = await freshStore()
    try {
      const n = 2100
      const keys = Array.from({ length: n }, (_, i) => `insert_log/1/2/${i % 7}/${i}`)
      await pool(keys, 32, (k) => s.put(k, bytes(k)))
      await s.put('other/x', bytes('x'))
      const listed = await collect(s.list('insert_log/'))
      assert.equal(listed.length, n)
      assert.deepEqual(
        listed.map((o) => o.key),
        [...keys].sort(),
      )
      assert.ok(listed.every((o) => o.size === bytes(o.key).length))
      assert.equal((await keysOf(s, 'insert_log/1/2/3/')).length, n / 7)
      // 2100 present + 400 missing: three DeleteObjects batches.
      await s.delete([...keys, ...Array.from({ length: 400 }, (_, i) => `never/${i}`)])
      assert.deepEqual(await keysOf(s, ''), ['other/x'])
      await s.delete(keys)
    } finally {
      await s.close()
    }
  })

  it('round-trips keys with unicode, URL-special and control characters', async () => {
    const s = await freshStore()
    try {
      const odd = [
        'ünïcødé/日本語/😀',
        'space and+plus/%25 percent?query#hash&amp=1',
        'tab\there/new\nline/cr\rret',
        'ctrl\u0001x/\u007f',
        "quote'\"<xml>/back\\slash",
      ]
      for (const k of odd) await s.put(k, bytes(`v:${k}`))
      for (const k of odd) {
        assert.equal(text(await s.get(k)), `v:${k}`)
        assert.equal((await s.stat(k))?.size, bytes(`v:${k}`).length)
      }
      assert.deepEqual(await keysOf(s, ''), [...odd].sort())
      assert.deepEqual(await keysOf(s, 'ünïcødé/日'), [odd[0]])
      await s.delete(odd)
      assert.deepEqual(await keysOf(s, ''), [])
      await rejectsWith(s.put('lone\ud800surrogate', bytes('x')), 'ParameterInvalid')
      await rejectsWith(s.put('x'.repeat(1100), bytes('x')), 'ParameterInvalid')
    } finally {
      await s.close()
    }
  })

  it('concurrent puts of one key: the last writer wins, never a partial object', async () => {
    const s = await freshStore()
    try {
      const size = 512 * 1024
      const bodies = Array.from({ length: 8 }, (_, i) => new Uint8Array(size).fill(0x41 + i))
      let reading = true
      const reads = (async () => {
        let n = 0
        while (reading || n === 0) {
          const got = await s.get('same').catch((e: unknown) => {
            if ((e as { kind?: string }).kind === 'IoKeyNotFound') return undefined
            throw e
          })
          if (got) {
            n++
            assert.equal(got.length, size)
            assert.ok(got.every((b) => b === got[0]), 'torn read')
          }
        }
      })()
      await Promise.all(bodies.map((b) => s.put('same', b)))
      reading = false
      await reads
      const got = await s.get('same')
      assert.ok(bodies.some((b) => b[0] === got[0]) && got.every((b) => b === got[0]))
      // Once the race is over, the latest put is what everyone reads, through another client too.
      const last = new Uint8Array(size).fill(0x7a)
      await s.put('same', last)
      const other = await freshStore(s.root.slice(0, -1))
      assert.deepEqual(await other.get('same'), last)
      await other.close()
    } finally {
      await s.close()
    }
  })

  it('keeps keys under its prefix and skips objects it could not have written', async (t) => {
    const c = await rgw()
    const prefix = `layout/${randomUUID().slice(0, 8)}`
    const s = await freshStore(prefix)
    const root = await freshStore('')
    const raw = new S3Client({
      endpoint: c.endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: c.accessKey, secretAccessKey: c.secretKey },
    })
    try {
      await s.put('a/b', bytes('ab'))
      assert.deepEqual(await keysOf(root, `${prefix}/`), [`${prefix}/a/b`])
      // An S3 console's "folder" marker and a key with an empty segment, written behind our back.
      const bucket = new URL(c.url).hostname
      for (const [Key, Body] of [
        [`${prefix}/dir/`, new Uint8Array(0)],
        [`${prefix}/x//y`, bytes('y')],
      ] as const) {
        await raw.send(new PutObjectCommand({ Bucket: bucket, Key, Body }))
      }
      assert.deepEqual(await keysOf(s, ''), ['a/b'])
      // Latency of small objects (reported, not asserted beyond sanity).
      const body = new Uint8Array(1024).fill(1)
      const t0 = performance.now()
      for (let i = 0; i < 20; i++) await s.put(`lat/${i}`, body)
      const t1 = performance.now()
      for (let i = 0; i < 20; i++) await s.get(`lat/${i}`)
      const t2 = performance.now()
      t.diagnostic(`1 KiB put ${((t1 - t0) / 20).toFixed(1)} ms, get ${((t2 - t1) / 20).toFixed(1)} ms`)
      assert.ok(t2 - t0 < 10_000)
    } finally {
      raw.destroy()
      await root.close()
      await s.close()
    }
  })

  it('creates a missing bucket at open, unless told not to', async () => {
    const c = await rgw()
    const u = new URL(c.url)
    u.hostname = `created-${randomUUID().slice(0, 8)}`
    const s = await openObjectStore(u.href)
    await s.put('k', bytes('v'))
    await s.close()
    // Opening it again, from a second client: the bucket exists now.
    const again = await openObjectStore(u.href)
    assert.equal(text(await again.get('k')), 'v')
    await again.close()
    u.hostname = `missing-${randomUUID().slice(0, 8)}`
    u.searchParams.set('createBucket', 'false')
    await rejectsWith(openObjectStore(u.href), 'ServiceInternal', /does not exist/)
  })

  it('maps rejected credentials and an unreachable endpoint to DbErrors', async () => {
    const c = await rgw()
    await rejectsWith(
      S3ObjectStore.open({ ...parseS3Url(urlFor(c, 'p', { secretKey: 'wrong' })), maxAttempts: 1 }),
      'ServiceInternal',
      /access denied/,
    )
    // A port nobody listens on (the discard port is closed on test machines).
    const down = await S3ObjectStore.open({
      ...parseS3Url(urlFor(c, 'p', { endpoint: 'http://127.0.0.1:9' })),
      maxAttempts: 1,
    }).then(
      () => assert.fail('opened'),
      (e: unknown) => e,
    )
    assert.equal((down as { kind?: string }).kind, 'IoFailed')
    assert.equal((down as { retriable?: boolean }).retriable, true)
  })
})

describe('s3: object store URLs', () => {
  it('parses bucket, prefix and parameters', () => {
    assert.deepEqual(
      parseS3Url(
        's3://milvus-bucket/files/a%20b/?endpoint=http://127.0.0.1:7480&region=us-west-2&accessKey=ak&secretKey=sk&pathStyle=false&createBucket=false',
      ),
      {
        bucket: 'milvus-bucket',
        prefix: 'files/a b',
        endpoint: 'http://127.0.0.1:7480',
        region: 'us-west-2',
        accessKeyId: 'ak',
        secretAccessKey: 'sk',
        forcePathStyle: false,
        createBucket: false,
      },
    )
    assert.deepEqual(parseS3Url('s3://b.1-x'), { bucket: 'b.1-x', prefix: '' })
    assert.deepEqual(parseS3Url(new URL('s3://bkt/p')), { bucket: 'bkt', prefix: 'p' })
  })

  it('rejects bad URLs with ParameterInvalid', async () => {
    const badUrls = [
      's3://',
      's3:///prefix',
      's3://UPPER',
      's3://ab',
      's3://under_score',
      's3://-dash',
      's3://a..b',
      's3://192.168.1.1',
      's3://bucket:9000/p',
      's3://user:pass@bucket',
      's3://bucket/a//b',
      's3://bucket/%E0%A4%A',
      's3://bucket/nul%00',
      's3://bucket#frag',
      's3://bucket?endpoint=ftp://x',
      's3://bucket?endpoint=not-a-url',
      's3://bucket?endpoint=http://h:1/path',
      's3://bucket?region=US_EAST',
      's3://bucket?foo=1',
      's3://bucket?accessKey=a',
      's3://bucket?secretKey=s',
      's3://bucket?pathStyle=yes',
      's3://bucket?createBucket=1',
    ]
    for (const url of badUrls) {
      await rejectsWith(openObjectStore(url), 'ParameterInvalid').catch((e: unknown) => {
        throw new Error(`${url}: ${String(e)}`)
      })
    }
  })

  it('keeps secrets out of error messages', async () => {
    await rejectsWith(
      openObjectStore('s3://bucket?accessKey=ak&secretKey=TOPSECRET&foo=1'),
      'ParameterInvalid',
      /^(?!.*TOPSECRET).*secretKey=\*\*\*/,
    )
    await failsWith(() => parseS3Url('s3://not a host?secretKey=TOPSECRET'), 'ParameterInvalid')
    assert.throws(
      () => parseS3Url('s3://not a host?secretKey=TOPSECRET'),
      (e: unknown) => !String(e).includes('TOPSECRET'),
    )
  })

  it('S3ObjectStore.open validates options given directly', async () => {
    await rejectsWith(S3ObjectStore.open({ bucket: 'Bad' }), 'ParameterInvalid')
    await rejectsWith(S3ObjectStore.open({ bucket: 'ok-bucket', prefix: '/abs' }), 'ParameterInvalid')
    await rejectsWith(S3ObjectStore.open({ bucket: 'ok-bucket', endpoint: 'x' }), 'ParameterInvalid')
    await rejectsWith(S3ObjectStore.open({ bucket: 'ok-bucket', accessKeyId: 'a' }), 'ParameterInvalid')
  })
})
