/**
 * Structured logging port. Library code receives a Logger through its deps; only roles/ decide the
 * sink (pino to stderr by default, silent in tests) so no module reaches for a global.
 */
import { pino } from 'pino'

export interface Logger {
  debug(obj: object, msg?: string): void
  info(obj: object, msg?: string): void
  warn(obj: object, msg?: string): void
  error(obj: object, msg?: string): void
  child(bindings: Record<string, unknown>): Logger
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent'

export function createLogger(level: LogLevel = 'info', dest: 'stdout' | 'stderr' = 'stdout'): Logger {
  return pino({ level, base: { service: 'harrier' } }, pino.destination(dest === 'stdout' ? 1 : 2))
}

/** A logger that drops everything; unit tests use it so output stays readable. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' })
}
