export type { ByteRange, ObjectInfo, ObjectStore } from './object-store.js'
export { MemoryObjectStore } from './memory-object-store.js'
export { LocalObjectStore, type LocalObjectStoreOptions } from './local-object-store.js'
