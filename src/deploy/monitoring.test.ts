import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { Metrics } from '../access/metrics.js'
import { requireTool, run, tempDir } from './deploy-test-kit.js'
import { DASHBOARD_UID, grafanaDashboard, grafanaProvisioning, prometheusConfig } from './monitoring.js'

interface Target {
  refId: string
  expr: string
  datasource: { type: string; uid: string }
}
interface Panel {
  id: number
  type: string
  title: string
  gridPos: { h: number; w: number; x: number; y: number }
  targets?: Target[]
  datasource?: { type: string; uid: string }
}

const dashboard = grafanaDashboard() as { uid: string; schemaVersion: number; panels: Panel[]; templating: { list: { name: string; type: string }[] } }
const series = dashboard.panels.filter((p) => p.type !== 'row')
const exprs = series.flatMap((p) => p.targets!.map((t) => t.expr))

/** cAdvisor series the dashboard reads (cAdvisor's own names) and Prometheus's synthetic `up`. */
const FOREIGN = new Set(['up', 'container_memory_working_set_bytes', 'container_cpu_usage_seconds_total'])
const PROMQL_WORDS = new Set(['sum', 'max', 'min', 'avg', 'by', 'without', 'rate', 'irate', 'increase', 'histogram_quantile', 'le', 'on', 'ignoring'])

/** Metric names an expression reads: identifiers followed by `{`, `[` or `)` outside label matchers. */
function metricNames(expr: string): string[] {
  const noLabels = expr.replace(/\{[^}]*\}/g, '{}').replace(/by \([^)]*\)/g, '')
  return [...noLabels.matchAll(/\b([a-zA-Z_:][a-zA-Z0-9_:]*)\b/g)].map((m) => m[1]!).filter((w) => !PROMQL_WORDS.has(w) && !/^\d/.test(w) && !/^[0-9.]+[smhd]$/.test(w))
}

describe('Grafana dashboard', () => {
  it('is a Grafana dashboard with unique panel ids, a layout and a Prometheus data-source variable', () => {
    assert.equal(dashboard.uid, DASHBOARD_UID)
    assert.ok(dashboard.schemaVersion >= 36)
    assert.deepEqual(dashboard.templating.list.map((v) => [v.name, v.type]), [['datasource', 'datasource']])
    const ids = dashboard.panels.map((p) => p.id)
    assert.equal(new Set(ids).size, ids.length)
    assert.ok(series.length >= 12, `only ${series.length} panels`)
    for (const p of dashboard.panels) {
      assert.ok(p.gridPos.x + p.gridPos.w <= 24 && p.gridPos.h > 0, p.title)
      if (p.type === 'row') continue
      assert.equal(p.type, 'timeseries')
      assert.ok(p.targets!.length > 0, p.title)
      for (const t of p.targets!) assert.deepEqual(t.datasource, { type: 'prometheus', uid: '${datasource}' })
      assert.deepEqual(p.targets!.map((t) => t.refId), p.targets!.map((_, i) => String.fromCharCode(65 + i)))
    }
    // No two panels overlap.
    for (const a of series) {
      for (const b of series) {
        if (a === b) continue
        const overlap = a.gridPos.x < b.gridPos.x + b.gridPos.w && b.gridPos.x < a.gridPos.x + a.gridPos.w && a.gridPos.y < b.gridPos.y + b.gridPos.h && b.gridPos.y < a.gridPos.y + a.gridPos.h
        assert.ok(!overlap, `${a.title} overlaps ${b.title}`)
      }
    }
  })

  it('every query reads metrics Harrier really exports (src/access/metrics.ts) or cAdvisor\'s', async () => {
    const m = new Metrics('1')
    // Touch the labelled series so every metric family is in the exposition.
    m.observeRequest('Search', 'success', 0.01)
    m.searched(1, 0.01)
    m.mutations('insert', 1)
    const exported = new Map<string, string>()
    for (const metric of await m.registry.getMetricsAsJSON()) exported.set(metric.name, String(metric.type))
    const known = (name: string) => {
      if (exported.has(name) || FOREIGN.has(name)) return true
      const base = name.replace(/_(bucket|sum|count)$/, '')
      return base !== name && exported.get(base) === 'histogram'
    }
    const used = new Set(exprs.flatMap(metricNames))
    assert.ok(used.has('milvus_proxy_req_count') && used.has('milvus_proxy_req_latency_bucket'), [...used].join(' '))
    for (const name of used) assert.ok(known(name), `dashboard reads ${name}, which Harrier does not export`)
    // Label names the queries group by exist on those metrics.
    const text = await m.text()
    assert.match(text, /milvus_proxy_req_count\{node_id="1",function_name="Search",status="success"\} 1/)
    assert.ok(exprs.some((e) => e.includes('status!="success"')))
  })

  it('promtool parses every query (as recording rules) and the provisioning is well-formed', (t) => {
    const prov = grafanaProvisioning('http://prometheus:9090')
    assert.match(prov.datasources, /uid: prometheus\n/)
    assert.match(prov.dashboards, /path: \/var\/lib\/grafana\/dashboards/)
    if (!requireTool('promtool', t)) return
    const tmp = tempDir('rules')
    try {
      const rules = `groups:\n  - name: dashboard\n    rules:\n${exprs.map((e, i) => `      - record: harrier:panel_${i}\n        expr: '${e.replaceAll("'", "''")}'\n`).join('')}`
      writeFileSync(join(tmp.dir, 'rules.yml'), rules)
      const r = run('promtool', ['check', 'rules', join(tmp.dir, 'rules.yml')])
      assert.equal(r.status, 0, r.stdout + r.stderr)
      assert.match(r.stdout, new RegExp(`SUCCESS: ${exprs.length} rules found`))
      // And a broken expression is refused, so the check above means something.
      writeFileSync(join(tmp.dir, 'bad.yml'), "groups:\n  - name: x\n    rules:\n      - record: harrier:bad\n        expr: 'sum by (le (rate(x[1m]))'\n")
      assert.notEqual(run('promtool', ['check', 'rules', join(tmp.dir, 'bad.yml')]).status, 0)
    } finally {
      tmp.remove()
    }
  })
})

describe('Prometheus configuration', () => {
  it('writes dns_sd jobs with a role label and static jobs, which promtool accepts', (t) => {
    const text = prometheusConfig({
      targets: [
        { job: 'harrier-querynode', dns: { name: 'tasks.querynode', port: 9091 }, labels: { role: 'querynode' } },
        { job: 'minio', metricsPath: '/minio/v2/metrics/cluster', static: ['minio:9000'], labels: { tier: 'storage' } },
      ],
    })
    assert.match(text, /- job_name: harrier-querynode\n {4}dns_sd_configs:\n {6}- names: \[tasks\.querynode\]/)
    assert.match(text, /relabel_configs:\n {6}- target_label: role\n {8}replacement: 'querynode'/)
    assert.match(text, /static_configs:\n {6}- targets: \['minio:9000'\]\n {8}labels:\n {10}tier: 'storage'/)
    if (!requireTool('promtool', t)) return
    const tmp = tempDir('promcfg')
    try {
      writeFileSync(join(tmp.dir, 'p.yml'), text)
      const r = run('promtool', ['check', 'config', join(tmp.dir, 'p.yml')])
      assert.equal(r.status, 0, r.stdout + r.stderr)
    } finally {
      tmp.remove()
    }
  })
})
