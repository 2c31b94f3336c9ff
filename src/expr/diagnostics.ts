/**
 * Filter errors: every rejection is a ParameterInvalid DbError whose message quotes the filter and
 * names the position and the problem, in the shape Milvus uses ("cannot parse expression: ...,
 * error: ...") so clients that grep for it keep working.
 */
import { DbError } from '../common/errors.js'

/** Long IN lists would otherwise make every error message as long as the filter. */
const MAX_QUOTED_CHARS = 160

/** Human position of a 0-based offset: "column 7", or "line 2, column 3" for multi-line filters. */
export function describePosition(text: string, offset: number): string {
  const at = Math.max(0, Math.min(offset, text.length))
  let line = 1
  let lineStart = 0
  for (let i = 0; i < at; i++) {
    if (text.charCodeAt(i) === 10) {
      line++
      lineStart = i + 1
    }
  }
  const column = at - lineStart + 1
  return line === 1 ? `column ${column}` : `line ${line}, column ${column}`
}

function quoteFilter(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim()
  return flat.length <= MAX_QUOTED_CHARS ? flat : `${flat.slice(0, MAX_QUOTED_CHARS)}...`
}

/** The one way this package reports a bad filter. `offset` is a 0-based index into `text`. */
export function filterError(text: string, offset: number, problem: string): DbError {
  return new DbError(
    'ParameterInvalid',
    `cannot parse expression: ${quoteFilter(text)}, error: ${problem} at ${describePosition(text, offset)}`,
    { input: true },
  )
}
