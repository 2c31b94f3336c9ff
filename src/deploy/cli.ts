/**
 * `harrier deploy swarm|compose|k8s` and `harrier sizing`: argument parsing, file output and
 * exit codes (0 done, 2 usage error or invalid plan). The roles CLI dispatches here.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { isDbError } from '../common/errors.js'
import { generateCompose } from './compose.js'
import { type GeneratedFile, writeGenerated } from './files.js'
import { generateK8s } from './k8s.js'
import { type HostPlan, parsePlan } from './plan.js'
import { computeSizing, formatSizing, parseSizingArgs, SIZING_HELP, sizingPlanYaml } from './sizing.js'
import { checkStack, generateSwarm, STACK_FILE } from './swarm.js'

export interface CliIo {
  readonly out: (s: string) => void
  readonly err: (s: string) => void
  /** Harrier's version: the default image tag is harrier:<version>. */
  readonly version: string
}

export const DEPLOY_HELP = `Usage: harrier deploy <target> [options]

Writes deployment files for a Harrier cluster.

Targets:
  swarm     Docker Swarm stack from a host plan (one "docker stack deploy", any start order)
  compose   docker-compose files: standalone, and a small one-host cluster
  k8s       Kubernetes manifests, kustomize layout (base/ + overlays/)

"harrier deploy <target> --help" shows each target's options.
Example plan: deploy/examples/reference-26-hosts.yaml (the reference guide's 26 hosts).
`

const SWARM_HELP = `Usage: harrier deploy swarm --plan FILE --out DIR [--image IMAGE]

Turns a host plan (YAML: hosts with name, address, node labels and services) into:
  DIR/${STACK_FILE}            the stack: Harrier roles, etcd, MinIO, NATS JetStream (or Kafka/Pulsar),
                                nginx, cAdvisor on every node, Prometheus, Grafana; placement on node
                                labels, endpoint_mode dnsrr, /healthz healthchecks
  DIR/labels.sh                 docker node update --label-add ... for every host
  DIR/host-dirs.sh              data directories to create on each host (with cluster.dataRoot)
  DIR/nginx/nginx.conf          gRPC + REST load balancing over every proxy replica
  DIR/prometheus/prometheus.yml scrape configuration
  DIR/grafana/...               provisioning and the Harrier dashboard
  DIR/README.md                 the steps, images per host, placement table

Options:
  --plan FILE     host plan (YAML); see docs/deploy.md for the format
  --out DIR       output directory (created; files in it are overwritten)
  --image IMAGE   Harrier image when the plan names none (default harrier:<version>)
  --help          this text
`

const COMPOSE_HELP = `Usage: harrier deploy compose --out DIR [--profile standalone|cluster|all] [--image IMAGE]

Writes docker-compose files (validated against the compose 3.8 schema):
  DIR/docker-compose.yml          standalone: one Harrier process, data in a named volume
  DIR/docker-compose.cluster.yml  a one-host cluster: etcd, MinIO, NATS and every Harrier role
  DIR/README.md

Options:
  --out DIR        output directory
  --profile P      standalone, cluster or all (default all)
  --image IMAGE    Harrier image (default harrier:<version>)
  --help           this text
`

const K8S_HELP = `Usage: harrier deploy k8s --out DIR [--plan FILE] [--namespace NS] [--image IMAGE]

Writes Kubernetes manifests in kustomize layout:
  DIR/base/               etcd, MinIO and NATS StatefulSets, Harrier Deployments, Services, ConfigMap
  DIR/overlays/small/     one replica of every Harrier role (a test cluster)
  DIR/overlays/<plan>/    with --plan: replicas and nodeSelectors from the plan, plus label-nodes.sh
Apply with: kubectl apply -k DIR/overlays/small

Options:
  --out DIR         output directory
  --plan FILE       host plan to derive an overlay from (optional)
  --namespace NS    namespace (default harrier)
  --image IMAGE     Harrier image (default harrier:<version>)
  --help            this text
`

class UsageError extends Error {}

/** Parses `--name value` / `--name=value` pairs against the known names; flags listed in `bools` take no value. */
export function parseFlags(argv: readonly string[], known: readonly string[], bools: readonly string[] = []): Map<string, string> {
  const out = new Map<string, string>()
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!
    if (!a.startsWith('--')) throw new UsageError(`unexpected argument ${JSON.stringify(a)}`)
    const eq = a.indexOf('=')
    const name = eq > 0 ? a.slice(2, eq) : a.slice(2)
    if (!known.includes(name) && !bools.includes(name)) throw new UsageError(`unknown option --${name}`)
    if (out.has(name)) throw new UsageError(`option --${name} given twice`)
    if (bools.includes(name)) {
      if (eq > 0) throw new UsageError(`option --${name} takes no value`)
      out.set(name, 'true')
      continue
    }
    const value = eq > 0 ? a.slice(eq + 1) : argv[++i]
    if (value === undefined || (eq < 0 && value.startsWith('--'))) throw new UsageError(`option --${name} needs a value`)
    out.set(name, value)
  }
  return out
}

function wantsHelp(argv: readonly string[]): boolean {
  return argv.includes('--help') || argv.includes('-h')
}

/** harrier:<version> from "v0.1.0-harrier" (what `harrier version` prints) or "0.1.0". */
export function defaultImage(version: string): string {
  return `harrier:${version.replace(/^v/, '').replace(/-harrier$/, '')}`
}

function readPlan(file: string, image: string | undefined, io: CliIo): HostPlan {
  const path = resolve(file)
  if (!existsSync(path)) throw new UsageError(`plan file ${file} does not exist`)
  return parsePlan(readFileSync(path, 'utf8'), file, { defaultImage: image ?? defaultImage(io.version) })
}

function report(io: CliIo, outDir: string, files: readonly GeneratedFile[], next: string): void {
  writeGenerated(outDir, files)
  io.out(`wrote ${files.length} files to ${outDir}:\n${files.map((f) => `  ${f.path}`).join('\n')}\n${next}\n`)
}

function runSwarm(argv: readonly string[], io: CliIo): number {
  const f = parseFlags(argv, ['plan', 'out', 'image'])
  if (!f.has('plan')) throw new UsageError('--plan FILE is required')
  if (!f.has('out')) throw new UsageError('--out DIR is required')
  const plan = readPlan(f.get('plan')!, f.get('image'), io)
  const out = generateSwarm(plan)
  checkStack(plan, out)
  report(io, resolve(f.get('out')!), out.files, `next: see ${f.get('out')}/README.md (labels.sh, then docker stack deploy -c ${STACK_FILE} ${plan.cluster.name})`)
  return 0
}

function runCompose(argv: readonly string[], io: CliIo): number {
  const f = parseFlags(argv, ['out', 'profile', 'image'])
  if (!f.has('out')) throw new UsageError('--out DIR is required')
  const profile = f.get('profile') ?? 'all'
  if (profile !== 'standalone' && profile !== 'cluster' && profile !== 'all') throw new UsageError(`--profile must be standalone, cluster or all, got ${profile}`)
  const files = generateCompose({ image: f.get('image') ?? defaultImage(io.version), profile })
  report(io, resolve(f.get('out')!), files, `next: docker compose -f ${f.get('out')}/docker-compose.yml up -d (see README.md)`)
  return 0
}

function runK8s(argv: readonly string[], io: CliIo): number {
  const f = parseFlags(argv, ['out', 'plan', 'namespace', 'image'])
  if (!f.has('out')) throw new UsageError('--out DIR is required')
  const ns = f.get('namespace') ?? 'harrier'
  if (!/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(ns)) throw new UsageError(`--namespace ${JSON.stringify(ns)} is not a valid namespace name`)
  const plan = f.has('plan') ? readPlan(f.get('plan')!, f.get('image'), io) : undefined
  const files = generateK8s({ image: f.get('image') ?? plan?.cluster.image ?? defaultImage(io.version), namespace: ns, plan })
  report(io, resolve(f.get('out')!), files, `next: kubectl apply -k ${f.get('out')}/overlays/${plan ? plan.cluster.name : 'small'}`)
  return 0
}

function failure(e: unknown, io: CliIo, help: string): number {
  if (e instanceof UsageError) {
    io.err(`harrier: ${e.message}\n\n${help}`)
    return 2
  }
  if (isDbError(e, 'ParameterInvalid')) {
    io.err(`harrier: ${e.message}\n`)
    return 2
  }
  throw e
}

/** `harrier deploy ...`; returns the exit code. */
export function deployMain(argv: readonly string[], io: CliIo): number {
  const [target, ...rest] = argv
  if (target === undefined || target === '--help' || target === '-h' || target === 'help') {
    ;(target === undefined ? io.err : io.out)(DEPLOY_HELP)
    return target === undefined ? 2 : 0
  }
  const targets: Record<string, [string, (a: readonly string[], io: CliIo) => number]> = {
    swarm: [SWARM_HELP, runSwarm],
    compose: [COMPOSE_HELP, runCompose],
    k8s: [K8S_HELP, runK8s],
  }
  const t = targets[target]
  if (!t) {
    io.err(`harrier: unknown deploy target ${JSON.stringify(target)}\n\n${DEPLOY_HELP}`)
    return 2
  }
  if (wantsHelp(rest)) {
    io.out(t[0])
    return 0
  }
  try {
    return t[1](rest, io)
  } catch (e) {
    return failure(e, io, t[0])
  }
}

/** `harrier sizing ...`; returns the exit code. */
export function sizingMain(argv: readonly string[], io: CliIo): number {
  if (wantsHelp(argv)) {
    io.out(SIZING_HELP)
    return 0
  }
  try {
    const { input, plan: planFile, outPlan, json } = parseSizingArgs((names, bools) => parseFlags(argv, names, bools), (m) => new UsageError(m))
    const plan = planFile === undefined ? undefined : readPlan(planFile, undefined, io)
    const result = computeSizing(input, plan)
    if (outPlan !== undefined) writeFileSync(resolve(outPlan), sizingPlanYaml(result))
    io.out(json ? `${JSON.stringify(result, null, 2)}\n` : formatSizing(result))
    if (outPlan !== undefined && !json) io.out(`wrote the suggested host plan to ${outPlan} (replace the addresses, then: harrier deploy swarm --plan ${outPlan} --out DIR)\n`)
    return 0
  } catch (e) {
    return failure(e, io, SIZING_HELP)
  }
}
