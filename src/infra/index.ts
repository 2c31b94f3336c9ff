/**
 * The storage layer's front door: the three ports (MetaStore, ObjectStore, WAL) and `open*`
 * factories that pick an adapter from a URL, as PGlite picks its file system:
 *
 *   memory://            a fresh in-memory instance per call (unit tests)
 *   file:///abs/path     the embedded adapter in that directory (standalone)
 *   /abs/path            same as file://
 *   etcd://h:p[,h:p]/root                 meta store on etcd, keys under `root/`
 *   nats://h:p[,h:p]/prefix[?replicas=N]  WAL on NATS JetStream, names starting with `prefix`
 *   kafka://h:p[,h:p]/prefix[?replicas=N&..]  WAL on Kafka, topics starting with `prefix.`, see parseKafkaUrl
 *   s3://bucket[/prefix]?endpoint=..      object store on S3 (Ceph RGW, MinIO, AWS), see parseS3Url
 *
 * Cluster adapters (and their SDKs) are loaded with `await import()` so standalone never pays for
 * them; they parse their own URL, since several comma-separated hosts are not a WHATWG URL. Only
 * roles/ should call these.
 */
import { isAbsolute } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { DbError } from '../common/errors.js'
import type { Logger } from '../common/log.js'
import { FileMetaStore, MemoryMetaStore, type MetaStore } from './meta-store/index.js'
import { LocalObjectStore, MemoryObjectStore, type ObjectStore } from './object-store/index.js'
import { FileWalProvider, MemoryWalProvider, type WalProvider } from './wal/index.js'

export * from './meta-store/index.js'
export * from './object-store/index.js'
export * from './wal/index.js'

export interface InfraDeps {
  readonly log?: Logger
}

/** Opens from a parsed URL; or, for `{ raw }`, from the URL string itself. */
type Opener<T> =
  | ((url: URL, deps: InfraDeps) => Promise<T>)
  | { readonly raw: (url: string, deps: InfraDeps) => Promise<T> }

/** Adapters by URL scheme (with the trailing ':', as URL.protocol has it). */
const META_STORES: Readonly<Record<string, Opener<MetaStore>>> = {
  'memory:': async (_url, deps) => new MemoryMetaStore(deps),
  'file:': (url, deps) => FileMetaStore.open({ dir: fileURLToPath(url), log: deps.log }),
  'etcd:': {
    raw: async (url, deps) => {
      const { EtcdMetaStore, parseEtcdUrl } = await import('./meta-store/etcd-meta-store.js')
      return EtcdMetaStore.open({ ...parseEtcdUrl(url), log: deps.log })
    },
  },
}

const OBJECT_STORES: Readonly<Record<string, Opener<ObjectStore>>> = {
  'memory:': async () => new MemoryObjectStore(),
  'file:': (url, deps) => LocalObjectStore.open({ root: fileURLToPath(url), log: deps.log }),
  's3:': async (url, deps) => {
    const { S3ObjectStore, parseS3Url } = await import('./object-store/s3-object-store.js')
    return S3ObjectStore.open({ ...parseS3Url(url), log: deps.log })
  },
}

const WAL_PROVIDERS: Readonly<Record<string, Opener<WalProvider>>> = {
  'memory:': async () => new MemoryWalProvider(),
  'file:': (url, deps) => FileWalProvider.open({ dir: fileURLToPath(url), log: deps.log }),
  'nats:': {
    raw: async (url, deps) => {
      const { NatsWalProvider, parseNatsUrl } = await import('./wal/nats-wal.js')
      return NatsWalProvider.open({ ...parseNatsUrl(url), log: deps.log })
    },
  },
  'kafka:': {
    raw: async (url, deps) => {
      const { KafkaWalProvider, parseKafkaUrl } = await import('./wal/kafka-wal.js')
      return KafkaWalProvider.open({ ...parseKafkaUrl(url), log: deps.log })
    },
  },
}

/** @throws DbError('ParameterInvalid') for an unsupported scheme or a relative path. */
export function openMetaStore(url: string, deps: InfraDeps = {}): Promise<MetaStore> {
  return openWith('meta store', META_STORES, url, deps)
}

/** @throws DbError('ParameterInvalid') for an unsupported scheme or a relative path. */
export function openObjectStore(url: string, deps: InfraDeps = {}): Promise<ObjectStore> {
  return openWith('object store', OBJECT_STORES, url, deps)
}

/** @throws DbError('ParameterInvalid') for an unsupported scheme or a relative path. */
export function openWalProvider(url: string, deps: InfraDeps = {}): Promise<WalProvider> {
  return openWith('WAL', WAL_PROVIDERS, url, deps)
}

async function openWith<T>(
  what: string,
  openers: Readonly<Record<string, Opener<T>>>,
  url: string,
  deps: InfraDeps,
): Promise<T> {
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*:)\/\//.exec(url)?.[1]?.toLowerCase()
  const raw = scheme !== undefined && Object.hasOwn(openers, scheme) ? openers[scheme] : undefined
  if (raw !== undefined && typeof raw !== 'function') return raw.raw(url, deps)
  const parsed = parseStorageUrl(what, url)
  const opener = Object.hasOwn(openers, parsed.protocol) ? openers[parsed.protocol] : undefined
  if (!opener || typeof opener !== 'function') {
    throw new DbError(
      'ParameterInvalid',
      `unsupported ${what} url scheme ${JSON.stringify(parsed.protocol)} in ${url} (use ${Object.keys(
        openers,
      )
        .map((s) => `${s}//`)
        .join(' or ')})`,
    )
  }
  return opener(parsed, deps)
}

function parseStorageUrl(what: string, url: string): URL {
  if (isAbsolute(url)) return pathToFileURL(url)
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    throw new DbError(
      'ParameterInvalid',
      `unsupported ${what} url scheme in ${JSON.stringify(url)}: expected memory://, ` +
        'file:///absolute/path, an absolute path or a cluster url (etcd://, s3://, nats://, kafka://)',
    )
  }
  if (parsed.protocol === 'file:' && parsed.host !== '') {
    throw new DbError(
      'ParameterInvalid',
      `${what} url ${url}: file URLs need an absolute path (file:///...)`,
    )
  }
  return parsed
}
