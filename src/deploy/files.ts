/** Generated files: a path relative to the output directory and its text. */
import { createHash } from 'node:crypto'
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { Document, isScalar, visit } from 'yaml'

export interface GeneratedFile {
  readonly path: string
  readonly content: string
  readonly executable?: boolean
}

/** Writes every file under `outDir`, creating folders; returns the absolute paths written. */
export function writeGenerated(outDir: string, files: readonly GeneratedFile[]): string[] {
  const written: string[] = []
  for (const f of files) {
    const p = join(outDir, f.path)
    mkdirSync(dirname(p), { recursive: true })
    writeFileSync(p, f.content)
    if (f.executable) chmodSync(p, 0o755)
    written.push(p)
  }
  return written
}

/** YAML with a "generated, do not edit" header; long lines are never folded (commands stay one line). */
export function yamlFile(header: string, doc: unknown): string {
  const comment = header
    .split('\n')
    .map((l) => (l === '' ? '#' : `# ${l}`))
    .join('\n')
  return `${comment}\n${toYaml(doc)}`
}

/** YAML text; short lists of scalars (commands, constraints) are written inline, as people write them. */
export function toYaml(value: unknown): string {
  const doc = new Document(value, { aliasDuplicateObjects: false })
  visit(doc, {
    Seq(_, node) {
      if (!node.items.every((it) => isScalar(it)) || node.items.reduce((n, it) => n + String(it.value).length + 2, 0) > 80) return
      node.flow = true
      // Other YAML parsers (go-yaml in docker, kubectl) read plain scalars in flow context more
      // strictly than YAML 1.2 does (":9001" fails there): quote anything but plain words.
      for (const it of node.items) if (isScalar(it) && typeof it.value === 'string' && !/^[A-Za-z0-9_][A-Za-z0-9_./]*$/.test(it.value)) it.type = 'QUOTE_DOUBLE'
    },
  })
  return doc.toString({ lineWidth: 0, minContentWidth: 0, flowCollectionPadding: false })
}

/** Short content hash: Swarm configs are immutable, so a changed file gets a new config name. */
export function contentHash(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 10)
}

/** Quotes a word for POSIX sh unless it is plainly safe. */
export function shQuote(s: string): string {
  return /^[A-Za-z0-9_./:=@%+,-]+$/.test(s) ? s : `'${s.replaceAll("'", `'"'"'`)}'`
}
