/**
 * A throwaway Ceph RADOS Gateway on 127.0.0.1 for the S3 adapter's tests: one monitor, one memstore
 * OSD (data in RAM) and radosgw, all children of this process, auth off, in a temp directory.
 * Recipe and its gotchas: /work/shared/design/services-on-this-machine.md section 2.
 *
 * Start-up takes 1.2-1.7 s here (up to ~6 s seen; 12 s with Ceph's default 1 s Paxos interval), so a
 * test file shares one cluster: start it lazily, stop it in `after`.
 * Every daemon runs in the foreground (`-f`) so the PID we hold is the daemon's, and stop() kills
 * exactly those PIDs; an exit handler SIGKILLs them too if the test process dies without stop().
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { closeSync, constants, openSync, rmSync } from 'node:fs'
import { access, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { delimiter, join } from 'node:path'

export interface CephRgw {
  /** `s3://<bucket>?endpoint=..&accessKey=..&secretKey=..`: the adapter URL, without a prefix. */
  readonly url: string
  /** `http://127.0.0.1:<port>`. */
  readonly endpoint: string
  readonly accessKey: string
  readonly secretKey: string
  /** Kills every daemon it started (by PID) and removes its directory. Idempotent. */
  stop(): Promise<void>
}

/** What CI must install; the error for missing binaries names them. */
export const CEPH_APT_PACKAGES = 'radosgw ceph-mon ceph-osd'
/** Set to 1 to skip the tests that need Ceph (they fail otherwise when it is not installed). */
export const SKIP_ENV = 'HARRIER_SKIP_CLUSTER_TESTS'

const BINARIES = [
  'ceph-mon',
  'ceph-osd',
  'radosgw',
  'radosgw-admin',
  'ceph',
  'ceph-authtool',
  'monmaptool',
]
const ACCESS_KEY = 'minioadmin'
const SECRET_KEY = 'minioadmin'
const BUCKET = 'harrier-test'
const START_TIMEOUT_MS = 60_000

/** The reason to skip cluster tests, or false to run them. */
export function clusterTestsSkipped(): string | false {
  return process.env[SKIP_ENV] === '1' ? `${SKIP_ENV}=1` : false
}

/** Starts mon + osd + radosgw and creates the S3 user. Cleans up after itself if start-up fails. */
export async function startCephRgw(): Promise<CephRgw> {
  const bins = await findBinaries()
  const dir = await mkdtemp(join(tmpdir(), 'harrier-ceph-'))
  liveDirs.add(dir)
  const daemons: Daemon[] = []
  const stop = once(async () => {
    // Reverse start order; memstore data is throwaway, so a short grace then SIGKILL.
    for (const d of [...daemons].reverse()) await d.kill()
    untrack(daemons)
    await rm(dir, { recursive: true, force: true })
    liveDirs.delete(dir)
  })
  try {
    const deadline = Date.now() + START_TIMEOUT_MS
    const [monPort, rgwPort] = [await freePort(), await freePort()]
    const conf = join(dir, 'ceph.conf')
    for (const sub of ['run', 'log', 'mon', 'osd', 'rgw']) await mkdir(join(dir, sub))
    const fsid = randomUUID()
    await writeFile(conf, cephConf(dir, fsid, monPort, rgwPort))
    const run = (bin: string, args: string[]): Promise<string> =>
      exec(bins[bin]!, ['-c', conf, ...args], dir, deadline)

    // Monitor: keyring + monmap + mkfs, then the daemon.
    const keyring = join(dir, 'keyring')
    await run('ceph-authtool', [
      '--create-keyring', keyring, '--gen-key', '-n', 'mon.', '--cap', 'mon', 'allow *',
    ])
    const monmap = join(dir, 'monmap')
    const monAddr = `[v2:127.0.0.1:${monPort}]`
    await run('monmaptool', ['--create', '--addv', 'a', monAddr, '--fsid', fsid, monmap])
    await run('ceph-mon', ['--mkfs', '-i', 'a', '--monmap', monmap, '--keyring', keyring])
    daemons.push(startDaemon('ceph-mon', bins['ceph-mon']!, ['-c', conf, '-i', 'a', '-f'], dir))

    // OSD: register (the ceph CLI waits for the monitor), mkfs, start.
    const osdUuid = randomUUID()
    const osdId = (await run('ceph', ['osd', 'new', osdUuid])).trim()
    if (!/^\d+$/.test(osdId)) throw new Error(`ceph osd new printed ${JSON.stringify(osdId)}`)
    await mkdir(join(dir, 'osd', `ceph-${osdId}`))
    await run('ceph-osd', ['-i', osdId, '--mkfs', '--osd-uuid', osdUuid])
    daemons.push(startDaemon('ceph-osd', bins['ceph-osd']!, ['-c', conf, '-i', osdId, '-f'], dir))

    // Gateway: creates its pools on first start, then answers anonymous requests.
    daemons.push(startDaemon('radosgw', bins.radosgw!, ['-c', conf, '-n', 'client.rgw.a', '-f'], dir))
    const endpoint = `http://127.0.0.1:${rgwPort}`
    await waitFor(deadline, daemons, async () => (await fetch(`${endpoint}/`)).status < 500)
    await run('radosgw-admin', [
      'user', 'create', '--uid=harrier', '--display-name=harrier',
      `--access-key=${ACCESS_KEY}`, `--secret-key=${SECRET_KEY}`,
    ])
    // The gateway learns of the new user asynchronously: wait for a signed request to pass.
    await waitFor(deadline, daemons, () => signedRequestWorks(endpoint))

    const query = new URLSearchParams({ endpoint, accessKey: ACCESS_KEY, secretKey: SECRET_KEY })
    return {
      url: `s3://${BUCKET}?${query.toString()}`,
      endpoint,
      accessKey: ACCESS_KEY,
      secretKey: SECRET_KEY,
      stop,
    }
  } catch (e) {
    const logs = await logTails(dir)
    await stop()
    throw new Error(`Ceph RGW did not start: ${e instanceof Error ? e.message : String(e)}${logs}`, {
      cause: e,
    })
  }
}

function cephConf(dir: string, fsid: string, monPort: number, rgwPort: number): string {
  return `[global]
fsid = ${fsid}
mon host = v2:127.0.0.1:${monPort}
public network = 127.0.0.0/8
auth cluster required = none
auth service required = none
auth client required = none
# Required with auth none: in secure mode radosgw loops on "get_initial_auth_request returned -13".
ms mon client mode = crc
ms client mode = crc
osd pool default size = 1
osd pool default min size = 1
mon allow pool size one = true
# RGW makes ~8 pools; 32 PGs each would exceed mon_max_pg_per_osd on one OSD.
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon warn on pool no redundancy = false
mon data avail warn = 5
# Each of the ~15 map changes RGW's first start makes (pools, app tags) waits for a Paxos proposal,
# 1 s apart by default: 11 s of a 12 s start. One monitor has nobody to batch with.
paxos propose interval = 0.05
paxos min wait = 0.01
run dir = ${dir}/run
pid file = ${dir}/run/$name.pid
admin socket = ${dir}/run/$name.asok
log file = ${dir}/log/$name.log
keyring = ${dir}/keyring
mon data = ${dir}/mon/$cluster-$id
osd data = ${dir}/osd/$cluster-$id

[osd]
osd objectstore = memstore
memstore device bytes = 1073741824
osd max object name len = 256
osd max object namespace len = 64

[client.rgw.a]
rgw data = ${dir}/rgw
# Without tcp_nodelay small GETs take ~47 ms (Nagle + delayed ACK); with it 3-5 ms.
rgw frontends = beast endpoint=127.0.0.1:${rgwPort} tcp_nodelay=1
`
}

interface Daemon {
  readonly name: string
  readonly child: ChildProcess
  kill(): Promise<void>
}

/** PIDs to SIGKILL and directories to remove if the process ends without stop(). */
const live = new Set<ChildProcess>()
const liveDirs = new Set<string>()
let exitHookInstalled = false

function startDaemon(name: string, bin: string, args: string[], dir: string): Daemon {
  // Output goes to a file, not a pipe: nobody drains a pipe after start-up, and a full one blocks.
  const fd = openSync(join(dir, 'log', `${name}.out`), 'a')
  let child: ChildProcess
  try {
    child = spawn(bin, args, { cwd: dir, stdio: ['ignore', fd, fd] })
  } finally {
    closeSync(fd)
  }
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => resolve())
    child.once('error', () => resolve())
  })
  live.add(child)
  if (!exitHookInstalled) {
    exitHookInstalled = true
    const killAll = (): void => {
      for (const c of live) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL')
      for (const d of liveDirs) rmSync(d, { recursive: true, force: true })
    }
    process.once('exit', killAll)
    // A signal ends the process without 'exit': kill the daemons, then die of the signal as before.
    for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
      process.once(sig, () => {
        killAll()
        process.kill(process.pid, sig)
      })
    }
  }
  return {
    name,
    child,
    async kill() {
      if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM')
        const t = setTimeout(() => child.kill('SIGKILL'), 2000)
        await exited
        clearTimeout(t)
      }
      live.delete(child)
    },
  }
}

function untrack(daemons: readonly Daemon[]): void {
  for (const d of daemons) live.delete(d.child)
}

async function findBinaries(): Promise<Record<string, string>> {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/bin', '/sbin', '/bin']
  const found: Record<string, string> = {}
  const missing: string[] = []
  for (const bin of BINARIES) {
    let path: string | undefined
    for (const d of dirs.filter(Boolean)) {
      const p = join(d, bin)
      if (await access(p, constants.X_OK).then(() => true, () => false)) {
        path = p
        break
      }
    }
    if (path) found[bin] = path
    else missing.push(bin)
  }
  if (missing.length > 0) {
    throw new Error(
      `Ceph RGW tests need ${missing.join(', ')}: apt-get install -y ${CEPH_APT_PACKAGES} ` +
        `(or set ${SKIP_ENV}=1 to skip them)`,
    )
  }
  return found
}

function exec(bin: string, args: string[], cwd: string, deadline: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      bin,
      args,
      { cwd, timeout: Math.max(1000, deadline - Date.now()), killSignal: 'SIGKILL' },
      (err, stdout, stderr) => {
        if (err) reject(new Error(`${bin} ${args.join(' ')}: ${err.message}\n${stderr}`))
        else resolve(stdout)
      },
    )
  })
}

/** Polls `ready` every 100 ms; fails early if a daemon died, and at the deadline. */
async function waitFor(
  deadline: number,
  daemons: readonly Daemon[],
  ready: () => Promise<boolean>,
): Promise<void> {
  for (;;) {
    const dead = daemons.find((d) => d.child.exitCode !== null || d.child.signalCode !== null)
    if (dead) throw new Error(`${dead.name} exited (${dead.child.exitCode ?? dead.child.signalCode})`)
    if (await ready().catch(() => false)) return
    if (Date.now() > deadline) throw new Error(`not ready within ${START_TIMEOUT_MS} ms`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

/** A ListBuckets signed with the test user's keys; the SDK is loaded only here, in tests. */
async function signedRequestWorks(endpoint: string): Promise<boolean> {
  const { S3Client, ListBucketsCommand } = await import('@aws-sdk/client-s3')
  const s3 = new S3Client({
    endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY },
    maxAttempts: 1,
  })
  try {
    await s3.send(new ListBucketsCommand({}))
    return true
  } finally {
    s3.destroy()
  }
}

async function logTails(dir: string): Promise<string> {
  let out = ''
  for (const name of ['ceph-mon.out', 'ceph-osd.out', 'radosgw.out', 'mon.a.log', 'client.rgw.a.log']) {
    const text = await readFile(join(dir, 'log', name), 'utf8').catch(() => '')
    if (text.trim()) out += `\n--- ${name} (tail) ---\n${text.slice(-1500)}`
  }
  return out
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer()
    s.unref()
    s.on('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address()
      const port = typeof addr === 'object' && addr ? addr.port : 0
      s.close(() => resolve(port))
    })
  })
}

function once(fn: () => Promise<void>): () => Promise<void> {
  let p: Promise<void> | undefined
  return () => (p ??= fn())
}
