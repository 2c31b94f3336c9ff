#!/usr/bin/env node
/**
 * The `harrier` command. Roles are composition roots; this file only parses arguments, sets up
 * logging and signal handling, and starts one of them.
 */
import { isDbError } from '../common/errors.js'
import { createLogger } from '../common/log.js'
import { loadConfig, optionsHelp } from './config.js'
import { clusterStatus, formatStatus } from '../cluster/status.js'
import { openMetaStore } from '../infra/index.js'
import { CLUSTER_ROLES, etcdUrl, startClusterRole } from './cluster.js'
import { deployMain, sizingMain } from '../deploy/cli.js'
import { harrierVersion, startStandalone } from './standalone.js'

const USAGE = `harrier ${harrierVersion()} — a Milvus-compatible vector database

Usage:
  harrier run standalone [options]   serve every role in one process (the default of "npm start")
  harrier run <role> [options]       cluster mode: one role per process, on etcd + S3 + NATS
                                     roles: proxy mixcoord (rootcoord datacoord querycoord indexcoord)
                                            datanode querynode indexnode
  harrier deploy <swarm|compose|k8s> write deployment files (Swarm stack from a host plan, ...)
  harrier sizing --vectors N --dim D memory/CPU/disk per role and a suggested host plan
  harrier status --etcd E [--json]   the cluster: processes, health, elected roles, collections
  harrier version                    print the version
  harrier --help                     this text ("harrier run --help" for the options)
`

const RUN_USAGE = `Usage: harrier run standalone [options]
       harrier run <proxy|mixcoord|datanode|querynode|indexnode> --etcd E --object-store S --wal W [options]

standalone serves the Milvus gRPC API (MilvusService) and /healthz + /metrics, with all data under
--data-dir. Acknowledged writes are fsync'd to the write-ahead log before the reply, so they survive
kill -9.

Cluster roles (rootcoord, datacoord, querycoord and indexcoord are names for mixcoord) start in any
order: each answers /healthz at once ("waiting for etcd at ..."), waits with backoff for etcd, the
object store and the log broker, then registers a session in etcd under a lease. Coordinators and
the WAL channel's data node are elected (the others stand by); a killed process is noticed when its
lease lapses (--session-ttl-ms). Default gRPC ports: proxy 19530, mixcoord 53100, datanode 21124,
querynode 21123, indexnode 21121; clients connect to a proxy only.

Options (flags override env vars, which override the config file):
${optionsHelp()}
  --help                  this text

Examples:
  npm start -- --data-dir /tmp/x --port 29530 --metrics-port 29091
  harrier run querynode --etcd etcd1:2379 --wal nats://nats1:4222 \
    --object-store 's3://harrier/data?endpoint=http://minio1:9000' --host 0.0.0.0 --advertise-host qn1
`

const STATUS_USAGE = `Usage: harrier status --etcd E [--json] [--probe-timeout-ms N]

Prints what etcd knows of a Harrier cluster: every registered process (role, node id, gRPC and
metrics addresses, /healthz as probed now, the elections it holds), the active coordinator and
WAL channel owner, and per collection its flushed segments, rows, indexed segments, channel
checkpoints and the query nodes serving it. Read-only. --etcd takes host:port[,host:port] or an
etcd:// URL (also HARRIER_ETCD). Exit code 0 when every process is healthy and a coordinator and a
channel owner are elected, 1 otherwise, 2 on usage errors.
`

async function statusMain(argv: string[], out: (s: string) => void): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    out(STATUS_USAGE)
    return 0
  }
  let etcd = process.env.HARRIER_ETCD ?? ''
  let json = false
  let probeTimeoutMs = 2000
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!
    if (a === '--json') json = true
    else if (a === '--etcd' || a.startsWith('--etcd=')) etcd = a.includes('=') ? a.slice(7) : (argv[++i] ?? '')
    else if (a === '--probe-timeout-ms') probeTimeoutMs = Number(argv[++i])
    else {
      process.stderr.write(`unknown argument ${a}\n\n${STATUS_USAGE}`)
      return 2
    }
  }
  if (!etcd || !Number.isFinite(probeTimeoutMs) || probeTimeoutMs <= 0) {
    process.stderr.write(STATUS_USAGE)
    return 2
  }
  const meta = await openMetaStore(etcdUrl(etcd), { log: createLogger('silent') })
  try {
    const s = await clusterStatus(meta, { probeTimeoutMs })
    out(json ? JSON.stringify(s, null, 2) : formatStatus(s))
    const ok = s.processes.every((p) => p.healthy) && !!s.leaders.mixcoord && Object.keys(s.leaders).length > 1
    return ok ? 0 : 1
  } finally {
    await meta.close()
  }
}

async function main(argv: string[]): Promise<number> {
  const out = (s: string) => process.stdout.write(s.endsWith('\n') ? s : `${s}\n`)
  const [cmd, ...rest] = argv
  if (cmd === undefined || cmd === '--help' || cmd === '-h' || cmd === 'help') {
    out(USAGE)
    return cmd === undefined ? 2 : 0
  }
  if (cmd === 'version' || cmd === '--version') {
    out(harrierVersion())
    return 0
  }
  if (cmd === 'status') return statusMain(rest, out)
  if (cmd === 'deploy' || cmd === 'sizing') {
    const io = { out: (t: string) => process.stdout.write(t), err: (t: string) => process.stderr.write(t), version: harrierVersion() }
    return cmd === 'deploy' ? deployMain(rest, io) : sizingMain(rest, io)
  }
  if (cmd !== 'run') {
    process.stderr.write(`unknown command ${cmd}\n\n${USAGE}`)
    return 2
  }
  const [role, ...opts] = rest
  if (role === undefined || role === '--help' || role === '-h' || opts.includes('--help') || opts.includes('-h')) {
    out(RUN_USAGE)
    return role === undefined ? 2 : 0
  }
  if (role !== 'standalone' && !(CLUSTER_ROLES as readonly string[]).includes(role)) {
    process.stderr.write(`unknown role ${role}\n\n${RUN_USAGE}`)
    return 2
  }
  const cfg = loadConfig(opts, process.env)
  const log = createLogger(cfg.logLevel)
  const server = role === 'standalone' ? await startStandalone(cfg, log) : await startClusterRole(role, cfg, log)
  const lost = 'lost' in server ? server.lost : new Promise<string>(() => undefined)
  const code = await new Promise<number>((resolve) => {
    const onSignal = (sig: NodeJS.Signals) => {
      log.info({ signal: sig }, 'stopping')
      server.stop().then(() => resolve(0), () => resolve(0))
    }
    process.once('SIGINT', onSignal)
    process.once('SIGTERM', onSignal)
    // A role that lost its session cannot prove what it holds: exit, and let the supervisor restart it.
    void lost.then(() => server.stop().then(() => resolve(1), () => resolve(1)))
  })
  return code
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code
  },
  (e: unknown) => {
    process.stderr.write(`harrier: ${isDbError(e) ? e.message : e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`)
    process.exitCode = 1
  },
)
