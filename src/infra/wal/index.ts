export type { Wal, WalEntry, WalOpenOptions, WalProvider, WalReader } from './wal.js'
export type { ChannelWal, WalStats } from './channel-wal.js'
export { MemoryWalProvider } from './memory-wal.js'
export { FileWalProvider, type FileWalOptions } from './file-wal.js'
// Types only: the NATS adapter (and its SDK) loads on demand through openWalProvider('nats://...').
export type { NatsWal, NatsWalOptions, NatsWalProvider } from './nats-wal.js'
