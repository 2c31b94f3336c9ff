#!/usr/bin/env node
/**
 * The `harrier` command. Roles are composition roots; this file only parses arguments, sets up
 * logging and signal handling, and starts one of them.
 */
import { isDbError } from '../common/errors.js'
import { createLogger } from '../common/log.js'
import { loadConfig, optionsHelp } from './config.js'
import { harrierVersion, startStandalone } from './standalone.js'

const USAGE = `harrier ${harrierVersion()} — a Milvus-compatible vector database

Usage:
  harrier run standalone [options]   serve every role in one process (the default of "npm start")
  harrier version                    print the version
  harrier --help                     this text ("harrier run --help" for the options)
`

const RUN_USAGE = `Usage: harrier run standalone [options]

Serves the Milvus gRPC API (MilvusService) and /healthz + /metrics, with all data under --data-dir.
Acknowledged writes are fsync'd to the write-ahead log before the reply, so they survive kill -9.

Options (flags override env vars, which override the config file):
${optionsHelp()}
  --help                  this text

Example:
  npm start -- --data-dir /tmp/x --port 29530 --metrics-port 29091
`

async function main(argv: string[]): Promise<number> {
  const out = (s: string) => process.stdout.write(s.endsWith('\n') ? s : `${s}\n`)
  const [cmd, ...rest] = argv
  if (cmd === undefined || cmd === '--help' || cmd === '-h' || cmd === 'help') {
    out(USAGE)
    return cmd === undefined ? 2 : 0
  }
  if (cmd === 'version' || cmd === '--version') {
    out(harrierVersion())
    return 0
  }
  if (cmd !== 'run') {
    process.stderr.write(`unknown command ${cmd}\n\n${USAGE}`)
    return 2
  }
  const [role, ...opts] = rest
  if (role === undefined || role === '--help' || role === '-h' || opts.includes('--help') || opts.includes('-h')) {
    out(RUN_USAGE)
    return role === undefined ? 2 : 0
  }
  if (role !== 'standalone') {
    process.stderr.write(`role ${role} is not available yet; cluster roles arrive with cluster mode. Try: harrier run standalone\n`)
    return 2
  }
  const cfg = loadConfig(opts, process.env)
  const log = createLogger(cfg.logLevel)
  const server = await startStandalone(cfg, log)
  await new Promise<void>((resolve) => {
    const onSignal = (sig: NodeJS.Signals) => {
      log.info({ signal: sig }, 'stopping')
      server.stop().then(resolve, resolve)
    }
    process.once('SIGINT', onSignal)
    process.once('SIGTERM', onSignal)
  })
  return 0
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code
  },
  (e: unknown) => {
    process.stderr.write(`harrier: ${isDbError(e) ? e.message : e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`)
    process.exitCode = 1
  },
)
