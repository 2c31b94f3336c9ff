export type {
  Compare,
  KeyValue,
  Lease,
  MetaStore,
  TxnOp,
  TxnRequest,
  TxnResult,
  WatchEvent,
  Watcher,
} from './meta-store.js'
export { MemoryMetaStore } from './memory-meta-store.js'
export {
  FileMetaStore,
  type FileMetaStoreOptions,
  type FileMetaStoreStats,
} from './file-meta-store.js'
// Types only: the etcd adapter (and its SDK) loads on demand through openMetaStore('etcd://...').
export type { EtcdMetaStore, EtcdMetaStoreOptions } from './etcd-meta-store.js'
