/**
 * One typed configuration, from (lowest to highest precedence) defaults, a YAML/JSON config file,
 * HARRIER_* environment variables and command-line flags. Validated once at start-up so a bad value
 * fails fast with a message naming its source.
 */
import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { parse as parseYaml } from 'yaml'
import { invalid } from '../common/errors.js'
import type { LogLevel } from '../common/log.js'

export interface StandaloneConfig {
  dataDir: string
  host: string
  port: number
  metricsPort: number
  logLevel: LogLevel
  /** A growing segment seals at this many rows. */
  segmentMaxRows: number
  /** Unflushed data older than this is flushed in the background. */
  flushIntervalMs: number
  /** How often the background loop looks for small or delete-heavy segments to merge. */
  compactionIntervalMs: number
  /** Worker threads building indexes (0 = one less than the cores, at least 1). */
  indexBuildThreads: number
  /** Cluster roles: etcd endpoints (host:port,...) or an etcd:// URL. */
  etcd: string
  /** Cluster roles: object store URL (s3://bucket/prefix?endpoint=...). */
  objectStore: string
  /** Cluster roles: WAL URL (nats://host:port,...). */
  wal: string
  /** Cluster roles: the address peers dial (default: --host, or the host name when --host is 0.0.0.0). */
  advertiseHost: string
  /** Cluster roles: seconds after which a silent process counts as dead. */
  sessionTtlMs: number
  /** Cluster: WAL channels (pchannels) collections are spread over; fixed when the cluster is first started. */
  dmlChannels: number
  /** Set when --port/HARRIER_PORT/config chose the port (cluster roles otherwise use their own default). */
  portExplicit: boolean
}

export const DEFAULTS: StandaloneConfig = {
  dataDir: './data',
  host: '127.0.0.1',
  port: 19530,
  metricsPort: 9091,
  logLevel: 'info',
  segmentMaxRows: 1_000_000,
  flushIntervalMs: 300_000,
  compactionIntervalMs: 60_000,
  indexBuildThreads: 0,
  etcd: '',
  objectStore: '',
  wal: '',
  advertiseHost: '',
  sessionTtlMs: 3000,
  dmlChannels: 1,
  portExplicit: false,
}

interface Option {
  readonly key: keyof StandaloneConfig
  readonly flag: string
  readonly env: string
  readonly kind: 'string' | 'optional' | 'port' | 'int' | 'count' | 'level'
  readonly help: string
}

export const OPTIONS: readonly Option[] = [
  { key: 'dataDir', flag: '--data-dir', env: 'HARRIER_DATA_DIR', kind: 'string', help: 'directory for the catalog, WAL and segment files' },
  { key: 'host', flag: '--host', env: 'HARRIER_HOST', kind: 'string', help: 'address to listen on (0.0.0.0 for all interfaces)' },
  { key: 'port', flag: '--port', env: 'HARRIER_PORT', kind: 'port', help: 'gRPC port of the Milvus API' },
  { key: 'metricsPort', flag: '--metrics-port', env: 'HARRIER_METRICS_PORT', kind: 'port', help: 'HTTP port for /healthz and /metrics' },
  { key: 'logLevel', flag: '--log-level', env: 'HARRIER_LOG_LEVEL', kind: 'level', help: 'debug | info | warn | error | silent' },
  { key: 'segmentMaxRows', flag: '--segment-max-rows', env: 'HARRIER_SEGMENT_MAX_ROWS', kind: 'int', help: 'rows at which a growing segment seals' },
  { key: 'flushIntervalMs', flag: '--flush-interval-ms', env: 'HARRIER_FLUSH_INTERVAL_MS', kind: 'int', help: 'background flush period for unflushed data' },
  { key: 'compactionIntervalMs', flag: '--compaction-interval-ms', env: 'HARRIER_COMPACTION_INTERVAL_MS', kind: 'int', help: 'how often small and delete-heavy segments are merged' },
  { key: 'indexBuildThreads', flag: '--index-build-threads', env: 'HARRIER_INDEX_BUILD_THREADS', kind: 'count', help: 'worker threads that build indexes (0 = cores - 1, at least 1)' },
  { key: 'etcd', flag: '--etcd', env: 'HARRIER_ETCD', kind: 'optional', help: 'cluster: etcd endpoints, e.g. etcd1:2379,etcd2:2379 (or etcd://h:p/root)' },
  { key: 'objectStore', flag: '--object-store', env: 'HARRIER_OBJECT_STORE', kind: 'optional', help: 'cluster: object store, e.g. s3://harrier/data?endpoint=http://minio:9000' },
  { key: 'wal', flag: '--wal', env: 'HARRIER_WAL', kind: 'optional', help: 'cluster: log broker, e.g. nats://nats1:4222,nats2:4222/harrier' },
  { key: 'advertiseHost', flag: '--advertise-host', env: 'HARRIER_ADVERTISE_HOST', kind: 'optional', help: 'cluster: address other processes dial (default --host; the host name when --host is 0.0.0.0)' },
  { key: 'sessionTtlMs', flag: '--session-ttl-ms', env: 'HARRIER_SESSION_TTL_MS', kind: 'int', help: 'cluster: a process silent this long counts as dead (its lease lapses)' },
  { key: 'dmlChannels', flag: '--dml-channels', env: 'HARRIER_DML_CHANNELS', kind: 'int', help: 'cluster: WAL channels collections are spread over, each owned by one data node (set when the cluster first starts; give every role the same value)' },
]

function coerce(opt: Option, raw: unknown, source: string): StandaloneConfig[keyof StandaloneConfig] {
  const s = String(raw)
  switch (opt.kind) {
    case 'string':
      if (s === '') throw invalid(`${source}: ${opt.flag} must not be empty`)
      return s
    case 'optional':
      return s
    case 'count': {
      const n = Number(s)
      if (!Number.isInteger(n) || n < 0 || n > 1024) throw invalid(`${source}: ${opt.flag} expects an integer 0-1024, got ${JSON.stringify(s)}`)
      return n
    }
    case 'port':
    case 'int': {
      const n = Number(s)
      const max = opt.kind === 'port' ? 65535 : Number.MAX_SAFE_INTEGER
      if (!Number.isInteger(n) || n < (opt.kind === 'port' ? 0 : 1) || n > max) throw invalid(`${source}: ${opt.flag} expects an integer${opt.kind === 'port' ? ' port 0-65535' : ' >= 1'}, got ${JSON.stringify(s)}`)
      return n
    }
    case 'level':
      if (!['debug', 'info', 'warn', 'error', 'silent'].includes(s)) throw invalid(`${source}: ${opt.flag} expects debug|info|warn|error|silent, got ${JSON.stringify(s)}`)
      return s as LogLevel
  }
}

/** Parses flags (and `--config FILE`) over env over file over defaults. */
export function loadConfig(argv: readonly string[], env: NodeJS.ProcessEnv): StandaloneConfig {
  const cfg: StandaloneConfig = { ...DEFAULTS }
  const set = (opt: Option, raw: unknown, source: string) => {
    ;(cfg as unknown as Record<string, unknown>)[opt.key] = coerce(opt, raw, source)
  }
  const flags = new Map<string, string>()
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!
    const eq = a.indexOf('=')
    const name = eq > 0 ? a.slice(0, eq) : a
    if (!name.startsWith('--')) throw invalid(`unexpected argument ${JSON.stringify(a)} (see --help)`)
    if (name !== '--config' && !OPTIONS.some((o) => o.flag === name)) throw invalid(`unknown option ${name} (see --help)`)
    const value = eq > 0 ? a.slice(eq + 1) : argv[++i]
    if (value === undefined) throw invalid(`option ${name} needs a value`)
    flags.set(name, value)
  }
  const file = flags.get('--config') ?? env.HARRIER_CONFIG
  if (file) {
    let doc: unknown
    try {
      doc = parseYaml(readFileSync(resolve(file), 'utf8'))
    } catch (e) {
      throw invalid(`cannot read config file ${file}: ${e instanceof Error ? e.message : String(e)}`)
    }
    if (doc !== null && doc !== undefined) {
      if (typeof doc !== 'object' || Array.isArray(doc)) throw invalid(`config file ${file} must hold a mapping`)
      for (const [k, v] of Object.entries(doc as Record<string, unknown>)) {
        const opt = OPTIONS.find((o) => o.key === k || o.flag === `--${k}`)
        if (!opt) throw invalid(`config file ${file}: unknown key ${k}`)
        set(opt, v, `config file ${file}`)
      }
    }
  }
  for (const opt of OPTIONS) if (env[opt.env] !== undefined && env[opt.env] !== '') set(opt, env[opt.env], `env ${opt.env}`)
  for (const opt of OPTIONS) if (flags.has(opt.flag)) set(opt, flags.get(opt.flag), `flag ${opt.flag}`)
  cfg.portExplicit = cfg.port !== DEFAULTS.port || flags.has('--port') || !!env.HARRIER_PORT
  cfg.dataDir = resolve(cfg.dataDir)
  return cfg
}

export function optionsHelp(): string {
  const w = Math.max(...OPTIONS.map((o) => o.flag.length)) + 6
  const lines = OPTIONS.map((o) => `  ${`${o.flag} ${o.kind === 'string' || o.kind === 'optional' ? 'S' : o.kind === 'level' ? 'L' : 'N'}`.padEnd(w)} ${o.help} (default ${JSON.stringify(DEFAULTS[o.key])}; env ${o.env})`)
  lines.push(`  ${'--config FILE'.padEnd(w)} YAML or JSON file with any of the keys ${OPTIONS.map((o) => o.key).join(', ')} (env HARRIER_CONFIG)`)
  return lines.join('\n')
}
