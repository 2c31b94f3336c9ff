import { describeMetaStore } from '../../../tests/conformance/meta-store.suite.js'
import { MemoryMetaStore } from './memory-meta-store.js'

describeMetaStore('MemoryMetaStore', { open: async () => new MemoryMetaStore() })
