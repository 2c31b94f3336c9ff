/**
 * A private Docker engine for the Swarm test, run the way
 * /work/shared/design/services-on-this-machine.md section 6 found to work here: Debian docker.io's
 * dockerd with its own socket, data root, exec root and pid file in a temp directory, and without
 * touching the host's netfilter or bridges (--iptables=false --bridge=none ...). Its Swarm listens on
 * 127.0.0.1 only.
 *
 * stop() undoes everything: leaves the Swarm, removes docker_gwbridge, kills dockerd by PID (its
 * containerd goes with it), kills any containerd-shim still running out of our exec root, unmounts
 * whatever is still mounted under the temp directory, deletes it, and removes the files dockerd puts
 * outside it (/etc/docker/key.json, /run/docker) when they were not there before.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { closeSync, existsSync, openSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export interface DockerResult {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

export interface Dockerd {
  readonly dir: string
  /** DOCKER_HOST for the docker CLI. */
  readonly host: string
  readonly pid: number
  /** Runs the docker CLI against this engine; rejects on a non-zero exit unless `allowFail`. */
  docker(args: readonly string[], opts?: { allowFail?: boolean; env?: NodeJS.ProcessEnv; timeoutMs?: number }): Promise<DockerResult>
  /** Environment for child processes that call docker themselves (deploy/local-image.sh). */
  env(): NodeJS.ProcessEnv
  /** Idempotent; returns what it had to clean by force (for the report), and what is left. */
  stop(): Promise<{ notes: string[]; leftovers: string[] }>
}

const OUTSIDE_FILES = ['/etc/docker/key.json', '/run/docker']

export function dockerdBinary(): string | undefined {
  for (const p of ['/usr/sbin/dockerd', '/usr/bin/dockerd']) if (existsSync(p)) return p
  return undefined
}

function exec(cmd: string, args: readonly string[], env: NodeJS.ProcessEnv, timeoutMs = 300_000): Promise<DockerResult> {
  return new Promise((resolve) => {
    execFile(cmd, args, { env, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024, killSignal: 'SIGKILL' }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0
      resolve({ code, stdout: String(stdout), stderr: String(stderr) })
    })
  })
}

/** Mount points at or under `dir`, deepest first. */
export function mountsUnder(dir: string): string[] {
  const lines = readFileSync('/proc/self/mountinfo', 'utf8').split('\n')
  const points = lines
    .map((l) => l.split(' ')[4])
    .filter((p): p is string => p !== undefined && (p === dir || p.startsWith(`${dir}/`)))
    .map((p) => p.replace(/\\040/g, ' '))
  return [...new Set(points)].sort((a, b) => b.length - a.length)
}

/** PIDs of processes whose command line mentions `dir` (dockerd, containerd, shims we started). */
export function processesMentioning(dir: string): { pid: number; cmd: string }[] {
  const out: { pid: number; cmd: string }[] = []
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e) || Number(e) === process.pid) continue
    let cmd: string
    try {
      cmd = readFileSync(`/proc/${e}/cmdline`, 'utf8').split('\0').join(' ').trim()
    } catch {
      continue
    }
    if (cmd.includes(dir)) out.push({ pid: Number(e), cmd })
  }
  return out
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms))
}

async function waitExit(child: ChildProcess, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms
  while (child.exitCode === null && child.signalCode === null) {
    if (Date.now() > deadline) return false
    await sleep(100)
  }
  return true
}

export async function startDockerd(): Promise<Dockerd> {
  const bin = dockerdBinary()
  if (!bin) throw new Error('dockerd is not installed: apt-get install -y --no-install-recommends docker.io')
  const existedBefore = new Map(OUTSIDE_FILES.map((f) => [f, existsSync(f)]))
  // A short path: unix socket paths are limited to 108 bytes and containerd's live under exec/.
  const dir = await mkdtemp(join(tmpdir(), 'hswarm-'))
  const host = `unix://${dir}/docker.sock`
  const env = { ...process.env, DOCKER_HOST: host, DOCKER_CLI_HINTS: 'false' }
  const log = openSync(join(dir, 'dockerd.log'), 'a')
  let child: ChildProcess
  try {
    child = spawn(
      bin,
      [
        '--host', host,
        '--data-root', join(dir, 'root'),
        '--exec-root', join(dir, 'exec'),
        '--pidfile', join(dir, 'dockerd.pid'),
        '--iptables=false', '--ip6tables=false', '--bridge=none', '--ip-masq=false',
      ],
      { stdio: ['ignore', log, log] },
    )
  } finally {
    closeSync(log)
  }
  const killOnExit = () => child.kill('SIGKILL')
  process.once('exit', killOnExit)
  // A signal ends the test without 'exit': stop dockerd first, then die of the signal as before.
  for (const sig of ['SIGTERM', 'SIGINT'] as const) {
    process.once(sig, () => {
      child.kill('SIGTERM')
      process.kill(process.pid, sig)
    })
  }
  const docker: Dockerd['docker'] = async (args, opts = {}) => {
    const r = await exec('docker', args, { ...env, ...opts.env }, opts.timeoutMs)
    if (r.code !== 0 && !opts.allowFail) throw new Error(`docker ${args.join(' ')} exited ${r.code}: ${r.stderr.trim() || r.stdout.trim()}`)
    return r
  }
  let stopped: Promise<{ notes: string[]; leftovers: string[] }> | undefined
  const stop = () =>
    (stopped ??= (async () => {
      const notes: string[] = []
      if (child.exitCode === null && child.signalCode === null) {
        await docker(['swarm', 'leave', '--force'], { allowFail: true, timeoutMs: 60_000 })
        // The gateway bridge outlives the Swarm unless removed while dockerd still runs.
        await docker(['network', 'rm', 'docker_gwbridge'], { allowFail: true, timeoutMs: 30_000 })
        child.kill('SIGTERM')
        if (!(await waitExit(child, 30_000))) {
          notes.push('dockerd ignored SIGTERM for 30 s: SIGKILL')
          child.kill('SIGKILL')
          await waitExit(child, 10_000)
        }
      }
      process.removeListener('exit', killOnExit)
      for (const p of processesMentioning(dir)) {
        notes.push(`killed leftover process ${p.pid}: ${p.cmd.slice(0, 120)}`)
        try {
          process.kill(p.pid, 'SIGKILL')
        } catch {
          // already gone
        }
      }
      if (notes.length > 0) await sleep(500)
      for (const m of mountsUnder(dir)) {
        const r = await exec('umount', [m], process.env)
        if (r.code !== 0) await exec('umount', ['-l', m], process.env)
        notes.push(`unmounted ${m}`)
      }
      rmSync(dir, { recursive: true, force: true })
      for (const f of OUTSIDE_FILES) if (!existedBefore.get(f) && existsSync(f)) rmSync(f, { recursive: true, force: true })
      const leftovers = [
        ...processesMentioning(dir).map((p) => `process ${p.pid}: ${p.cmd}`),
        ...mountsUnder(dir).map((m) => `mount ${m}`),
        ...(existsSync(dir) ? [`directory ${dir}`] : []),
        ...OUTSIDE_FILES.filter((f) => !existedBefore.get(f) && existsSync(f)).map((f) => `file ${f}`),
      ]
      return { notes, leftovers }
    })())

  try {
    const deadline = Date.now() + 30_000
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`dockerd exited: ${readFileSync(join(dir, 'dockerd.log'), 'utf8').slice(-2000)}`)
      const r = await docker(['version', '--format', '{{.Server.Version}}'], { allowFail: true, timeoutMs: 5_000 })
      if (r.code === 0) break
      if (Date.now() > deadline) throw new Error(`dockerd not ready in 30 s: ${r.stderr}`)
      await sleep(200)
    }
  } catch (e) {
    await stop()
    throw e
  }
  return { dir, host, pid: child.pid!, docker, env: () => env, stop }
}
