export type { ByteRange, ObjectInfo, ObjectStore } from './object-store.js'
export { MemoryObjectStore } from './memory-object-store.js'
export { LocalObjectStore, type LocalObjectStoreOptions } from './local-object-store.js'
// Type only: the S3 adapter (and the AWS SDK) load through `await import()` in ../index.ts.
export type { S3ObjectStoreOptions } from './s3-object-store.js'
