import { describeObjectStore } from '../../../tests/conformance/object-store.suite.js'
import { MemoryObjectStore } from './memory-object-store.js'

describeObjectStore('MemoryObjectStore', { open: async () => new MemoryObjectStore() })
