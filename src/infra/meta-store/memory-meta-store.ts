/** The in-memory MetaStore: the shared engine with nothing to persist. For unit tests. */
import { silentLogger, type Logger } from '../../common/log.js'
import { KvMetaStore } from './kv-meta-store.js'

export class MemoryMetaStore extends KvMetaStore {
  constructor(deps: { readonly log?: Logger; readonly watchHistory?: number } = {}) {
    super({ log: deps.log ?? silentLogger(), watchHistory: deps.watchHistory })
  }

  protected override persist(): undefined {
    return undefined
  }

  protected override async closeResources(): Promise<void> {}
}
