/**
 * Turns the generated stack into the one the test deploys on a one-node Swarm. Every change is
 * listed with its reason; the rest of the file (images from the plan, dnsrr, placement labels,
 * healthchecks on /healthz, {{.Task.Name}} as advertise host, nginx config) is deployed as generated.
 */
import { parse as parseYaml, stringify } from 'yaml'

export interface Localized {
  readonly text: string
  readonly changes: readonly string[]
}

type Service = Record<string, unknown> & {
  deploy?: { placement?: { max_replicas_per_node?: number } }
  volumes?: string[]
  healthcheck?: Record<string, unknown>
}

export function localizeStack(generated: string): Localized {
  const stack = parseYaml(generated) as { services: Record<string, Service>; volumes?: Record<string, unknown> }
  const changes: string[] = []
  const s = stack.services
  if (s.cadvisor) {
    delete s.cadvisor
    changes.push('cadvisor removed: no cAdvisor binary or image on this machine, and it mounts /var/lib/docker, which this private dockerd does not use')
  }
  const qn = s.querynode
  if (qn?.deploy?.placement?.max_replicas_per_node !== undefined) {
    delete qn.deploy.placement.max_replicas_per_node
    changes.push('querynode: max_replicas_per_node dropped, because the plan\'s two query-node hosts are one Swarm node here')
  }
  if (qn?.volumes) {
    delete qn.volumes
    if (stack.volumes) delete stack.volumes['querynode-data']
    changes.push('querynode: no named volume, so the two replicas on one node do not share a data directory (each plan host has its own)')
  }
  const minio = s.minio1
  if (minio?.healthcheck) {
    minio.healthcheck = { ...minio.healthcheck, test: ['CMD', 'curl', '-fsS', '-o', '/dev/null', 'http://127.0.0.1:9000/'] }
    changes.push('minio1: runs Ceph RGW (no MinIO here), which has no /minio/health/live; the healthcheck asks for the anonymous bucket list instead')
  }
  return { text: stringify(stack, { lineWidth: 0 }), changes }
}
