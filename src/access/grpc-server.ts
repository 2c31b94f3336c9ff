/** Serves MilvusService on a gRPC port, dispatching every RPC of the SDK's schema to MilvusService. */
import * as grpc from '@grpc/grpc-js'
import { DbError } from '../common/errors.js'
import type { MilvusService } from './milvus-service.js'
import { loadMilvusProto } from '../schema/milvus-proto.js'

export interface GrpcServerOptions {
  readonly host: string
  readonly port: number
  /** Milvus's proxy.grpc.serverMaxRecvSize default. */
  readonly maxReceiveBytes?: number
  /** Internal services served on the same port (query nodes: share reads between them). */
  readonly extraServices?: readonly { definition: grpc.ServiceDefinition; impl: grpc.UntypedServiceImplementation }[]
}

export class GrpcServer {
  private readonly server: grpc.Server
  private readonly service: MilvusService
  private readonly opts: GrpcServerOptions
  private boundPort = 0

  constructor(service: MilvusService, opts: GrpcServerOptions) {
    this.service = service
    this.opts = opts
    this.server = new grpc.Server({
      'grpc.max_receive_message_length': opts.maxReceiveBytes ?? 64 * 1024 * 1024,
      'grpc.max_send_message_length': 512 * 1024 * 1024,
    })
    const proto = loadMilvusProto()
    const impl: grpc.UntypedServiceImplementation = {}
    for (const [name, def] of Object.entries(proto.service)) {
      if (def.requestStream || def.responseStream) {
        // Streaming RPCs (replication, message dumps) are cluster features not offered yet.
        impl[name] = (call: grpc.ServerWritableStream<unknown, unknown> | grpc.ServerDuplexStream<unknown, unknown>) => {
          call.emit('error', { code: grpc.status.UNIMPLEMENTED, details: `RPC ${name} is not implemented by Harrier yet` })
        }
        continue
      }
      impl[name] = (call: grpc.ServerUnaryCall<unknown, unknown>, cb: grpc.sendUnaryData<unknown>) => {
        const db = call.metadata.get('dbname')[0]
        this.service.call(name, call.request, { dbName: typeof db === 'string' ? db : db ? db.toString() : '' }).then(
          (res) => cb(null, res),
          (e: unknown) => cb({ code: grpc.status.INTERNAL, details: e instanceof Error ? e.message : String(e) }),
        )
      }
    }
    this.server.addService(proto.service, impl)
    for (const x of opts.extraServices ?? []) this.server.addService(x.definition, x.impl)
  }

  async start(): Promise<number> {
    this.boundPort = await new Promise<number>((resolve, reject) => {
      this.server.bindAsync(`${this.opts.host}:${this.opts.port}`, grpc.ServerCredentials.createInsecure(), (err, port) => {
        if (err) reject(new DbError('ServiceUnavailable', `cannot listen on ${this.opts.host}:${this.opts.port}: ${err.message}`, { cause: err }))
        else resolve(port)
      })
    })
    return this.boundPort
  }

  get port(): number {
    return this.boundPort
  }

  /** Stops accepting calls and waits briefly for in-flight ones, then cuts the rest. */
  async stop(graceMs = 2000): Promise<void> {
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        this.server.forceShutdown()
        resolve()
      }, graceMs)
      this.server.tryShutdown(() => {
        clearTimeout(t)
        resolve()
      })
    })
  }
}
