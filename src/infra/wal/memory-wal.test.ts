import { describeWal } from '../../../tests/conformance/wal.suite.js'
import { MemoryWalProvider } from './memory-wal.js'

describeWal('MemoryWalProvider', { open: async () => new MemoryWalProvider() })
