/**
 * Test harness: real Harrier servers for end-to-end tests, either in this process (fast, most
 * tests) or as a child process (crash tests kill it with SIGKILL), always on 127.0.0.1 with
 * OS-assigned or free ports, and a temp data directory removed afterwards.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { MilvusClient } from '@zilliz/milvus2-sdk-node'
import { silentLogger } from '../../src/common/log.js'
import { DEFAULTS, type StandaloneConfig } from '../../src/roles/config.js'
import { startStandalone, type Standalone } from '../../src/roles/standalone.js'

export interface TestServer {
  readonly address: string
  readonly dataDir: string
  readonly metricsPort: number
  client(opts?: { database?: string }): MilvusClient
  /** Stops the server but keeps the data directory. */
  stop(): Promise<void>
  /** Stops and removes everything. */
  close(): Promise<void>
}

export async function freePort(): Promise<number> {
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

export async function tempDataDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'harrier-e2e-'))
}

function wrap(dataDir: string, port: number, metricsPort: number, stopFn: () => Promise<void>, ownsDir: boolean): TestServer {
  const clients: MilvusClient[] = []
  const stop = async () => {
    for (const c of clients.splice(0)) await c.closeConnection().catch(() => undefined)
    await stopFn()
  }
  return {
    address: `127.0.0.1:${port}`,
    dataDir,
    metricsPort,
    client(opts) {
      const c = new MilvusClient({ address: `127.0.0.1:${port}`, database: opts?.database, logLevel: 'error' } as never)
      clients.push(c)
      return c
    },
    stop,
    async close() {
      await stop()
      if (ownsDir) await rm(dataDir, { recursive: true, force: true })
    },
  }
}

/** Starts standalone in this process. */
export async function startServer(overrides: Partial<StandaloneConfig> = {}): Promise<TestServer> {
  const ownsDir = overrides.dataDir === undefined
  const dataDir = overrides.dataDir ?? (await tempDataDir())
  const cfg: StandaloneConfig = { ...DEFAULTS, port: 0, metricsPort: 0, logLevel: 'silent', ...overrides, dataDir }
  const s: Standalone = await startStandalone(cfg, silentLogger())
  return wrap(dataDir, s.grpcPort, s.metricsPort, () => s.stop(), ownsDir)
}

const CLI = fileURLToPath(new URL('../../src/roles/cli.js', import.meta.url))

export interface ChildServer extends TestServer {
  readonly child: ChildProcess
  /** stdout+stderr so far. */
  output(): string
  kill9(): Promise<void>
}

/**
 * Starts `harrier run standalone` as a child process and waits until it serves. `cli` runs
 * another build (A/B benches), `nodeFlags` go to node itself (e.g. --cpu-prof).
 */
export async function startChildServer(
  dataDir: string,
  extraArgs: readonly string[] = [],
  opts: { readonly cli?: string; readonly nodeFlags?: readonly string[]; readonly startTimeoutMs?: number } = {},
): Promise<ChildServer> {
  const port = await freePort()
  const metricsPort = await freePort()
  const args = [...(opts.nodeFlags ?? []), opts.cli ?? CLI, 'run', 'standalone', '--data-dir', dataDir, '--port', String(port), '--metrics-port', String(metricsPort), '--log-level', 'info', ...extraArgs]
  const child = spawn(process.execPath, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()))
  child.stderr!.on('data', (b: Buffer) => (out += b.toString()))
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  // Ready when /healthz answers 200: the management port opens after gRPC, once recovery is done.
  const deadline = Date.now() + (opts.startTimeoutMs ?? 120_000)
  for (;;) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL')
      throw new Error(`server did not start:\n${out}`)
    }
    const ok = await fetch(`http://127.0.0.1:${metricsPort}/healthz`).then(
      (r) => r.status === 200,
      () => false,
    )
    if (ok) break
    await new Promise((r) => setTimeout(r, 20))
  }
  const base = wrap(
    dataDir,
    port,
    metricsPort,
    async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM')
        await exited
      }
    },
    false,
  )
  return {
    ...base,
    child,
    output: () => out,
    async kill9() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL')
        await exited
      }
    },
  }
}
