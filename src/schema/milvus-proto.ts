/**
 * The Milvus wire schema, loaded from the protobufjs JSON that the official Node SDK ships, so the
 * server speaks exactly the client's protocol version. Messages cross this boundary as plain objects
 * in the SDK's own conventions (keepCase, int64 as strings, enums as names, oneof discriminators).
 */
import { createRequire } from 'node:module'
import protobuf from 'protobufjs'
import type { ServiceDefinition, MethodDefinition } from '@grpc/grpc-js'

const require = createRequire(import.meta.url)

// Conversion options identical to the SDK's proto-loader options.
export const CONVERSION: protobuf.IConversionOptions = {
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
  bytes: Buffer as unknown as typeof String,
}

export interface MilvusProto {
  readonly root: protobuf.Root
  type(name: string): protobuf.Type
  /** grpc-js service definition whose deserializers never throw: a bad payload becomes a DecodeFailure. */
  readonly service: ServiceDefinition
  readonly methods: readonly string[]
  encode(typeName: string, obj: object): Uint8Array
  decode(typeName: string, bytes: Uint8Array): Record<string, unknown>
}

/** Marks a request whose bytes did not decode; handlers answer it with a Milvus-coded Status. */
export interface DecodeFailure {
  readonly __decodeError: string
}

export function isDecodeFailure(x: unknown): x is DecodeFailure {
  return typeof x === 'object' && x !== null && '__decodeError' in x
}

let cached: MilvusProto | undefined

export function loadMilvusProto(): MilvusProto {
  // Parsing the 500 KB schema is costly and the result is immutable, so it is shared per process.
  if (cached) return cached
  const json = (require('@zilliz/milvus2-sdk-node/dist/milvus/proto-json/milvus.js') as { default: protobuf.INamespace }).default
  const root = protobuf.Root.fromJSON(json)
  const svc = root.lookupService('milvus.proto.milvus.MilvusService')
  const types = new Map<string, protobuf.Type>()
  const type = (name: string): protobuf.Type => {
    let t = types.get(name)
    if (!t) {
      t = root.lookupType(name)
      types.set(name, t)
    }
    return t
  }
  const service: Record<string, MethodDefinition<unknown, unknown>> = {}
  for (const m of svc.methodsArray) {
    m.resolve()
    const req = m.resolvedRequestType!
    const res = m.resolvedResponseType!
    const def: MethodDefinition<unknown, unknown> = {
      path: `/milvus.proto.milvus.MilvusService/${m.name}`,
      requestStream: !!m.requestStream,
      responseStream: !!m.responseStream,
      requestSerialize: (v) => Buffer.from(req.encode(req.fromObject(v as object)).finish()),
      requestDeserialize: (buf: Buffer) => {
        try {
          // A plain Uint8Array selects protobufjs's bounds-checked reader; its Buffer reader clamps
          // truncated strings silently, which would turn a cut-off request into a wrong one.
          return req.toObject(req.decode(new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength)), CONVERSION)
        } catch (e) {
          return { __decodeError: e instanceof Error ? e.message : String(e) } satisfies DecodeFailure
        }
      },
      responseSerialize: (v) => Buffer.from(res.encode(res.fromObject(v as object)).finish()),
      responseDeserialize: (buf: Buffer) => res.toObject(res.decode(buf), CONVERSION),
      originalName: m.name,
    }
    service[m.name] = def
  }
  cached = {
    root,
    type,
    service,
    methods: svc.methodsArray.map((m) => m.name),
    encode: (typeName, obj) => {
      const t = type(typeName)
      return t.encode(t.fromObject(obj)).finish()
    },
    decode: (typeName, bytes) => {
      const t = type(typeName)
      return t.toObject(t.decode(bytes), CONVERSION) as Record<string, unknown>
    },
  }
  return cached
}
