/**
 * Cluster test harness: real etcd, NATS JetStream and Ceph RGW (S3) on 127.0.0.1, and Harrier
 * roles as child processes of `harrier run <role>`, each on free ports, killed by PID.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { startCephRgw, type CephRgw } from '../conformance/ceph-rgw.js'
import { freePort, startEtcd, startNats, type RestartableServer, type TestServer } from '../conformance/servers.js'

const CLI = fileURLToPath(new URL('../../src/roles/cli.js', import.meta.url))

export interface Infra {
  readonly etcd: TestServer
  readonly nats: RestartableServer
  readonly s3: CephRgw
  /** Flags every role needs. */
  args(prefix: string): string[]
  stop(): Promise<void>
}

export async function startInfra(): Promise<Infra> {
  const [etcd, nats, s3] = await Promise.all([startEtcd(), startNats(), startCephRgw()])
  return {
    etcd,
    nats,
    s3,
    args: (prefix) => [
      '--etcd',
      etcd.url.replace('etcd://', '') ,
      '--wal',
      `${nats.url}/${prefix}`,
      '--object-store',
      s3.url.replace('?', `/${prefix}?`),
    ],
    async stop() {
      await Promise.all([etcd.stop(), nats.stop(), s3.stop()])
    },
  }
}

export interface RoleProcess {
  readonly role: string
  readonly port: number
  readonly metricsPort: number
  readonly child: ChildProcess
  output(): string
  health(): Promise<{ status: number; body: string }>
  waitHealthy(timeoutMs?: number): Promise<void>
  kill9(): Promise<void>
  stop(): Promise<void>
}

const live = new Set<RoleProcess>()
process.once('exit', () => {
  for (const r of live) r.child.kill('SIGKILL')
})

export async function startRole(role: string, args: string[], opts: { wait?: boolean } = {}): Promise<RoleProcess> {
  const port = await freePort()
  const metricsPort = await freePort()
  const child = spawn(process.execPath, [CLI, 'run', role, '--host', '127.0.0.1', '--port', String(port), '--metrics-port', String(metricsPort), '--session-ttl-ms', '2000', '--log-level', 'info', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()))
  child.stderr!.on('data', (b: Buffer) => (out += b.toString()))
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const health = async () => {
    try {
      const r = await fetch(`http://127.0.0.1:${metricsPort}/healthz`)
      return { status: r.status, body: await r.text() }
    } catch (e) {
      return { status: 0, body: String(e) }
    }
  }
  const rp: RoleProcess = {
    role,
    port,
    metricsPort,
    child,
    output: () => out,
    health,
    async waitHealthy(timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs
      for (;;) {
        if (child.exitCode !== null) throw new Error(`${role} exited (${child.exitCode}):\n${out.slice(-4000)}`)
        if ((await health()).status === 200) return
        if (Date.now() > deadline) throw new Error(`${role} not healthy after ${timeoutMs} ms:\n${out.slice(-4000)}`)
        await new Promise((r) => setTimeout(r, 50))
      }
    },
    async kill9() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL')
        await exited
      }
      live.delete(rp)
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM')
        const t = setTimeout(() => child.kill('SIGKILL'), 10_000)
        await exited
        clearTimeout(t)
      }
      live.delete(rp)
    },
  }
  live.add(rp)
  if (opts.wait !== false) await rp.waitHealthy()
  return rp
}
