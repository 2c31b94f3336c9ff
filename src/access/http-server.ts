/** The management port (:9091): /healthz as Milvus answers it, and /metrics in Prometheus text. */
import http from 'node:http'
import { DbError } from '../common/errors.js'
import type { Metrics } from './metrics.js'

export interface HealthReport {
  readonly healthy: boolean
  /** Role-level states, e.g. [{ name: 'proxy', code: 'Healthy' }]. */
  readonly detail: readonly { name: string; code: string }[]
  readonly message?: string
}

export class ManagementServer {
  private readonly server: http.Server
  private readonly host: string
  private readonly port: number

  constructor(opts: { host: string; port: number; metrics: Metrics; health: () => HealthReport }) {
    this.host = opts.host
    this.port = opts.port
    this.server = http.createServer((req, res) => {
      const url = (req.url ?? '/').split('?')[0]
      if (url === '/healthz' || url === '/api/v1/health') {
        const h = opts.health()
        const wantsJson = (req.headers['content-type'] ?? '').includes('application/json')
        const healthyCount = h.detail.filter((d) => d.code === 'Healthy').length
        res.statusCode = h.healthy ? 200 : 500
        if (wantsJson) {
          res.setHeader('Content-Type', 'application/json')
          res.end(JSON.stringify({ state: h.healthy ? 'OK' : h.message ?? 'Not all components are healthy', detail: h.detail }))
        } else {
          res.setHeader('Content-Type', 'text/plain')
          res.end(h.healthy ? 'OK' : `Not all components are healthy, ${healthyCount}/${h.detail.length}${h.message ? `: ${h.message}` : ''}`)
        }
        return
      }
      if (url === '/metrics') {
        opts.metrics.text().then(
          (text) => {
            res.setHeader('Content-Type', opts.metrics.contentType)
            res.end(text)
          },
          (e: unknown) => {
            res.statusCode = 500
            res.end(String(e))
          },
        )
        return
      }
      res.statusCode = 404
      res.end('not found\n')
    })
  }

  async start(): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', (e) => reject(new DbError('ServiceUnavailable', `cannot listen on ${this.host}:${this.port}: ${e.message}`, { cause: e })))
      this.server.listen(this.port, this.host, () => resolve())
    })
    const addr = this.server.address()
    return typeof addr === 'object' && addr ? addr.port : this.port
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve())
      this.server.closeAllConnections()
    })
  }
}
