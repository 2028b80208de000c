/** Reads every schema file of src/kafka/schemas (used by the generator script and the staleness test). */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ApiSchema } from './schema.js';

export function loadSchemas(dir: string): ApiSchema[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as ApiSchema);
}
