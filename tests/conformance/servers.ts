/**
 * Real etcd and NATS JetStream servers for the cluster adapters' tests, started by the test itself
 * on 127.0.0.1 with free ports and a temp data directory, stopped by PID (never by name).
 *
 * A missing binary is a test failure naming the apt package to install, not a silent skip: the
 * cluster adapters must not go untested because a package was forgotten. HARRIER_SKIP_CLUSTER_TESTS=1 turns
 * these tests into skips instead (`clusterSkipReason`), for machines that cannot install them.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { accessSync, constants, readFileSync, rmSync } from 'node:fs'
import { mkdtemp, open, rm, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { delimiter, join } from 'node:path'
import { sleep } from './harness.js'

export interface TestServer {
  /** The adapter URL without a path, e.g. `etcd://127.0.0.1:41234` or `nats://127.0.0.1:41235`. */
  readonly url: string
  readonly pid: number | undefined
  /** Kills the server (SIGTERM, SIGKILL after 5 s) and removes its data directory. Idempotent. */
  stop(): Promise<void>
}

export interface RestartableServer extends TestServer {
  /**
   * Stops the process (SIGKILL when `crash`, else SIGTERM) and starts it again on the same ports
   * and data directory, resolving once it is healthy.
   */
  restart(opts?: { readonly crash?: boolean }): Promise<void>
}

interface Binary {
  readonly name: string
  readonly aptPackages: string
}

const ETCD: Binary = { name: 'etcd', aptPackages: 'etcd-server etcd-client' }
const NATS: Binary = { name: 'nats-server', aptPackages: 'nats-server' }

/** Debian puts nats-server in /usr/sbin, which a non-root PATH may lack. */
const EXTRA_DIRS = ['/usr/sbin', '/usr/local/sbin', '/sbin', '/usr/local/bin', '/usr/bin']

function findBinary(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter).filter(Boolean), ...EXTRA_DIRS]
  for (const dir of dirs) {
    const path = join(dir, name)
    try {
      accessSync(path, constants.X_OK)
      return path
    } catch {
      // not here
    }
  }
  return undefined
}

function requireBinary(b: Binary): string {
  const path = findBinary(b.name)
  if (!path) {
    throw new Error(
      `${b.name} is not installed: run \`apt-get install -y ${b.aptPackages}\` ` +
        `(or set HARRIER_SKIP_CLUSTER_TESTS=1 to skip the cluster adapter tests)`,
    )
  }
  return path
}

/**
 * The `skip` option for a cluster test suite: a reason when HARRIER_SKIP_CLUSTER_TESTS=1, else
 * undefined (the suite runs, and fails loudly if the server binary is missing).
 */
export function clusterSkipReason(server: 'etcd' | 'nats'): string | undefined {
  if (process.env.HARRIER_SKIP_CLUSTER_TESTS !== '1') return undefined
  const b = server === 'etcd' ? ETCD : NATS
  const installed = findBinary(b.name) !== undefined
  const missing = installed ? '' : ` (${b.name} missing: apt-get install -y ${b.aptPackages})`
  return `HARRIER_SKIP_CLUSTER_TESTS=1${missing}`
}

/** A port free right now (the kernel picks it); the tiny race with other processes is accepted. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer()
    srv.unref()
    srv.once('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address()
      srv.close(() =>
        typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port')),
      )
    })
  })
}

async function removeDir(dir: string): Promise<void> {
  liveDirs.delete(dir)
  await rm(dir, { recursive: true, force: true })
}

async function freePorts(n: number): Promise<number[]> {
  const ports = new Set<number>()
  while (ports.size < n) ports.add(await freePort())
  return [...ports]
}

/**
 * Children still running when the test process exits are killed, so a crash or a runner timeout
 * (SIGTERM, SIGINT) leaves no daemons behind. The signal is re-raised to keep its default effect.
 */
const live = new Set<ChildProcess>()
/** Data directories of servers not yet stopped, removed on exit too. */
const liveDirs = new Set<string>()
const killLive = (): void => {
  for (const child of live) child.kill('SIGKILL')
  for (const dir of liveDirs) rmSync(dir, { recursive: true, force: true })
}
process.once('exit', killLive)
for (const sig of ['SIGTERM', 'SIGINT'] as const) {
  process.once(sig, () => {
    killLive()
    process.kill(process.pid, sig)
  })
}

interface Spawned {
  readonly child: ChildProcess
  readonly exited: Promise<void>
}

async function spawnLogged(
  bin: string,
  args: readonly string[],
  logFile: string,
): Promise<Spawned> {
  const log = await open(logFile, 'a')
  const child = spawn(bin, args, { stdio: ['ignore', log.fd, log.fd] })
  await log.close()
  live.add(child)
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => {
      live.delete(child)
      resolve()
    })
    child.once('error', () => {
      live.delete(child)
      resolve()
    })
  })
  return { child, exited }
}

async function kill(p: Spawned, signal: NodeJS.Signals): Promise<void> {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return
  p.child.kill(signal)
  const escalate = setTimeout(() => p.child.kill('SIGKILL'), 5000)
  await p.exited
  clearTimeout(escalate)
}

function logTail(file: string): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-15).join('\n')
  } catch {
    return '(no log)'
  }
}

/** Polls `probe` until true; fails with the server log if the process dies or time runs out. */
async function waitHealthy(
  what: string,
  p: Spawned,
  logFile: string,
  probe: () => Promise<boolean>,
  timeoutMs = 15_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (p.child.exitCode !== null || p.child.signalCode !== null) {
      throw new Error(`${what} exited during startup:\n${logTail(logFile)}`)
    }
    if (await probe().catch(() => false)) return
    if (Date.now() > deadline) {
      await kill(p, 'SIGKILL')
      throw new Error(`${what} not healthy within ${timeoutMs} ms:\n${logTail(logFile)}`)
    }
    await sleep(25)
  }
}

async function httpOk(url: string, body?: (text: string) => boolean): Promise<boolean> {
  const res = await fetch(url, { signal: AbortSignal.timeout(1000) })
  const text = await res.text()
  return res.ok && (body ? body(text) : true)
}

/**
 * A single-member etcd (flags from shared/design/services-on-this-machine.md §1). Heartbeat 10 ms
 * and election timeout 100 ms bring etcd's minimum lease TTL down to 1 s (it is
 * ceil(1.5 × election timeout), 2 s with the defaults), so lease tests finish quickly.
 */
export async function startEtcd(opts: { readonly clientPort?: number } = {}): Promise<TestServer> {
  const bin = requireBinary(ETCD)
  const dir = await mkdtemp(join(tmpdir(), 'harrier-etcd-'))
  liveDirs.add(dir)
  const [free, peer] = await freePorts(2)
  const client = opts.clientPort ?? free
  const clientUrl = `http://127.0.0.1:${client}`
  const peerUrl = `http://127.0.0.1:${peer}`
  const logFile = join(dir, 'etcd.log')
  const args = [
    '--name=n1',
    `--data-dir=${join(dir, 'data')}`,
    '--logger=zap',
    '--log-outputs=stderr',
    `--listen-client-urls=${clientUrl}`,
    `--advertise-client-urls=${clientUrl}`,
    `--listen-peer-urls=${peerUrl}`,
    `--initial-advertise-peer-urls=${peerUrl}`,
    `--initial-cluster=n1=${peerUrl}`,
    '--heartbeat-interval=10',
    '--election-timeout=100',
  ]
  const p = await spawnLogged(bin, args, logFile)
  try {
    await waitHealthy('etcd', p, logFile, () =>
      httpOk(`${clientUrl}/health`, (t) => t.includes('"health":"true"')),
    )
  } catch (e) {
    await kill(p, 'SIGKILL')
    await removeDir(dir)
    throw e
  }
  let stopped: Promise<void> | undefined
  return {
    url: `etcd://127.0.0.1:${client}`,
    pid: p.child.pid,
    stop: () =>
      (stopped ??= (async () => {
        await kill(p, 'SIGTERM')
        await removeDir(dir)
      })()),
  }
}

/**
 * A single NATS server with JetStream on file storage (flags from services-on-this-machine.md §3).
 * max_payload is raised to 8 MiB through a config file (2.9 has no flag for it): the WAL suite
 * appends 1 MiB entries, the default limit.
 */
export async function startNats(): Promise<RestartableServer> {
  const bin = requireBinary(NATS)
  const dir = await mkdtemp(join(tmpdir(), 'harrier-nats-'))
  liveDirs.add(dir)
  const [port, monitor] = await freePorts(2)
  const logFile = join(dir, 'nats.log')
  const conf = join(dir, 'nats.conf')
  await writeFile(conf, 'max_payload: 8MB\n')
  const args = [
    '-a',
    '127.0.0.1',
    '-p',
    String(port),
    '-js',
    '-sd',
    join(dir, 'store'),
    '-m',
    String(monitor),
    '-c',
    conf,
  ]
  const healthy = (p: Spawned) =>
    waitHealthy('nats-server', p, logFile, () =>
      httpOk(`http://127.0.0.1:${monitor}/healthz?js-enabled-only=true`),
    )
  let p = await spawnLogged(bin, args, logFile)
  try {
    await healthy(p)
  } catch (e) {
    await kill(p, 'SIGKILL')
    await removeDir(dir)
    throw e
  }
  let stopped: Promise<void> | undefined
  const server: RestartableServer = {
    url: `nats://127.0.0.1:${port}`,
    get pid() {
      return p.child.pid
    },
    async restart(opts) {
      if (stopped) throw new Error('nats-server was stopped')
      await kill(p, opts?.crash ? 'SIGKILL' : 'SIGTERM')
      p = await spawnLogged(bin, args, logFile)
      await healthy(p)
    },
    stop: () =>
      (stopped ??= (async () => {
        await kill(p, 'SIGTERM')
        await removeDir(dir)
      })()),
  }
  return server
}
