/**
 * Helpers for the deploy tests: running the real validators (docker stack config, kubectl
 * kustomize, nginx -t, promtool) and generating into temporary directories.
 *
 * A validator that is not installed fails the test with the install hint, because CI installs
 * them all; HARRIER_SKIP_CLUSTER_TESTS=1 turns that into a skip for machines without them.
 */
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parsePlan, type HostPlan } from './plan.js'

/** The repository root (this file runs from dist/src/deploy/). */
export const REPO = fileURLToPath(new URL('../../../', import.meta.url))
export const REFERENCE_PLAN = 'deploy/examples/reference-26-hosts.yaml'

export function referencePlan(): HostPlan {
  return parsePlan(readFileSync(join(REPO, REFERENCE_PLAN), 'utf8'), REFERENCE_PLAN, { defaultImage: 'harrier:0.1.0' })
}

const INSTALL_HINT: Readonly<Record<string, string>> = {
  docker: 'the docker CLI (validates stack files without a daemon)',
  kubectl: 'kubectl (with kustomize built in)',
  nginx: 'apt-get install -y --no-install-recommends nginx',
  promtool: 'apt-get install -y --no-install-recommends prometheus',
  chroot: 'coreutils',
}

export interface SkipContext {
  skip(message?: string): void
}

/** Path of a tool, or undefined after skipping `t` (HARRIER_SKIP_CLUSTER_TESTS=1); throws otherwise. */
export function requireTool(name: string, t: SkipContext): string | undefined {
  const r = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' })
  const path = r.status === 0 ? r.stdout.trim() : ''
  if (path !== '') return path
  const msg = `${name} is not installed (${INSTALL_HINT[name] ?? name}); CI installs it. Set HARRIER_SKIP_CLUSTER_TESTS=1 to skip this test`
  if (process.env.HARRIER_SKIP_CLUSTER_TESTS === '1') {
    t.skip(msg)
    return undefined
  }
  throw new Error(msg)
}

export interface RunResult {
  readonly status: number | null
  readonly stdout: string
  readonly stderr: string
}

export function run(cmd: string, args: readonly string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): RunResult {
  const r = spawnSync(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, encoding: 'utf8', timeout: opts.timeoutMs ?? 60_000 })
  if (r.error) throw r.error
  return { status: r.status, stdout: r.stdout, stderr: r.stderr }
}

/** A fresh temporary directory, removed by the returned function. */
export function tempDir(prefix: string): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `harrier-${prefix}-`))
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) }
}

/** Deploy-time variables the generated stack requires. */
export const STACK_ENV: NodeJS.ProcessEnv = {
  ...process.env,
  MINIO_ROOT_USER: 'harrier',
  MINIO_ROOT_PASSWORD: 'test-secret-1',
  GRAFANA_ADMIN_PASSWORD: 'test-admin',
}
