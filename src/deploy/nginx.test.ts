/**
 * Runs real nginx on the generated configuration: a tiny DNS server on 127.0.0.1 stands in for
 * Docker's (answering tasks.proxy), a grpc-js server and an HTTP server stand in for the proxies.
 */
import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import dgram from 'node:dgram'
import { writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import { createServer as createNetServer } from 'node:net'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import * as grpc from '@grpc/grpc-js'
import { requireTool, tempDir } from './deploy-test-kit.js'
import { nginxConf } from './nginx.js'

/** Answers A queries for the names given, NXDOMAIN otherwise; counts the queries. */
async function dnsServer(answers: Record<string, string[]>): Promise<{ port: number; queries: () => number; close: () => void }> {
  const sock = dgram.createSocket('udp4')
  let queries = 0
  sock.on('message', (msg, rinfo) => {
    queries++
    let off = 12
    const labels: string[] = []
    while (msg[off]! !== 0) {
      const len = msg[off]!
      labels.push(msg.subarray(off + 1, off + 1 + len).toString())
      off += len + 1
    }
    const qtype = msg.readUInt16BE(off + 1)
    const question = msg.subarray(12, off + 5)
    const name = labels.join('.').toLowerCase()
    const known = name in answers
    const ips = known && qtype === 1 ? answers[name]! : []
    const header = Buffer.alloc(12)
    header.writeUInt16BE(msg.readUInt16BE(0), 0)
    header.writeUInt16BE(0x8180 | (known ? 0 : 3), 2)
    header.writeUInt16BE(1, 4)
    header.writeUInt16BE(ips.length, 6)
    const records = ips.map((ip) => {
      const rr = Buffer.alloc(16)
      rr.writeUInt16BE(0xc00c, 0) // name: pointer to the question
      rr.writeUInt16BE(1, 2) // A
      rr.writeUInt16BE(1, 4) // IN
      rr.writeUInt32BE(5, 6) // TTL
      rr.writeUInt16BE(4, 10)
      ip.split('.').forEach((b, i) => {
        rr[12 + i] = Number(b)
      })
      return rr
    })
    sock.send(Buffer.concat([header, question, ...records]), rinfo.port, rinfo.address)
  })
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r))
  return { port: sock.address().port, queries: () => queries, close: () => sock.close() }
}

async function freePort(): Promise<number> {
  const s = createNetServer()
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r))
  const port = (s.address() as AddressInfo).port
  await new Promise((r) => s.close(r))
  return port
}

const identity = (b: Buffer) => b

function echoService(): grpc.ServiceDefinition {
  return {
    Say: { path: '/test.Echo/Say', requestStream: false, responseStream: false, requestSerialize: identity, requestDeserialize: identity, responseSerialize: identity, responseDeserialize: identity },
  }
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs
  for (;;) {
    if (await check().catch(() => false)) return
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

describe('nginx in front of the proxies (real nginx)', () => {
  it('balances gRPC and REST to whatever tasks.proxy resolves to, and starts before any proxy exists', async (t) => {
    if (!requireTool('nginx', t)) return
    if (process.getuid?.() !== 0) return t.skip('nginx uses its packaged temp directories, which need root')
    const tmp = tempDir('nginx-run')
    const dns = await dnsServer({ 'tasks.proxy': ['127.0.0.1'] })
    const [grpcListen, restListen, grpcBackend, restBackend] = await Promise.all([freePort(), freePort(), freePort(), freePort()])
    let nginx: ChildProcess | undefined
    let rest: Server | undefined
    const grpcServer = new grpc.Server()
    const client = new grpc.Client(`127.0.0.1:${grpcListen}`, grpc.credentials.createInsecure())
    try {
      const conf = join(tmp.dir, 'nginx.conf')
      writeFileSync(
        conf,
        nginxConf({
          grpcListen: `127.0.0.1:${grpcListen}`,
          restListen: `127.0.0.1:${restListen}`,
          resolver: `127.0.0.1:${dns.port}`,
          grpcBackend: `tasks.proxy:${grpcBackend}`,
          restBackend: `tasks.proxy:${restBackend}`,
        }),
      )
      nginx = spawn('nginx', ['-c', conf, '-p', tmp.dir, '-g', `daemon off; pid ${tmp.dir}/nginx.pid;`], { stdio: ['ignore', 'ignore', 'pipe'] })
      let nginxErr = ''
      nginx.stderr!.on('data', (d: Buffer) => {
        nginxErr += d.toString()
      })
      const get = (path: string) => fetch(`http://127.0.0.1:${restListen}${path}`, { signal: AbortSignal.timeout(5000) })
      await waitFor(`nginx to listen (${nginxErr})`, async () => (await get('/nginx-health')).status === 200)

      // No proxy yet: nginx is up anyway and answers 502 instead of refusing to start.
      assert.equal((await get('/v2/vectordb/collections/list')).status, 502)

      rest = createServer((req, res) => {
        res.setHeader('content-type', 'application/json')
        res.end(JSON.stringify({ path: req.url, forwardedFor: req.headers['x-forwarded-for'] ?? null }))
      })
      await new Promise<void>((r) => rest!.listen(restBackend, '127.0.0.1', r))
      const res = await get('/v2/vectordb/collections/list')
      assert.equal(res.status, 200)
      assert.deepEqual(await res.json(), { path: '/v2/vectordb/collections/list', forwardedFor: '127.0.0.1' })

      grpcServer.addService(echoService(), {
        Say: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => cb(null, Buffer.concat([Buffer.from('echo:'), call.request])),
      })
      await new Promise<void>((resolve, reject) => grpcServer.bindAsync(`127.0.0.1:${grpcBackend}`, grpc.ServerCredentials.createInsecure(), (e) => (e ? reject(e) : resolve())))
      const reply = await new Promise<Buffer>((resolve, reject) =>
        client.makeUnaryRequest('/test.Echo/Say', identity, identity, Buffer.from('hello'), new grpc.Metadata(), { deadline: Date.now() + 5000 }, (e, v) => (e ? reject(e) : resolve(v!))),
      )
      assert.equal(reply.toString(), 'echo:hello')
      // nginx looked the proxies up through the resolver at request time, not at start-up.
      assert.ok(dns.queries() > 0)
    } finally {
      client.close()
      grpcServer.forceShutdown()
      if (rest) await new Promise((r) => rest!.close(r))
      if (nginx?.pid !== undefined && nginx.exitCode === null) {
        const exited = new Promise((r) => nginx!.once('exit', r))
        nginx.kill('SIGTERM')
        await exited
      }
      dns.close()
      tmp.remove()
    }
  })
})
