/** Milvus's naming rules (proxy/validate_util.go): letters, digits and underscores, <= 255 chars. */
import { invalid } from '../common/errors.js'

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/

export function validateName(kind: 'collection' | 'partition' | 'alias' | 'database' | 'index', name: string): void {
  if (name.length === 0) throw invalid(`${kind} name should not be empty`)
  if (name.length > 255) throw invalid(`the length of a ${kind} name must be less than 255 characters: ${name}`)
  if (!/^[A-Za-z_]/.test(name)) throw invalid(`the first character of a ${kind} name must be an underscore or letter: ${name}`)
  if (!NAME.test(name)) throw invalid(`${kind} name can only contain numbers, letters and underscores: ${name}`)
}
