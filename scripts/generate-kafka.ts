/**
 * Regenerates src/kafka/generated/ from the message schemas in src/kafka/schemas/ (npm run generate:kafka).
 * test/kafka/generated.test.ts fails when the checked-in output is stale.
 */
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { generateAll } from '../src/kafka/generator/codegen.js';
import { loadSchemas } from '../src/kafka/generator/load-schemas.js';

const root = fileURLToPath(new URL('../src/kafka/', import.meta.url));
const out = join(root, 'generated');
mkdirSync(out, { recursive: true });
for (const f of readdirSync(out)) rmSync(join(out, f));
const files = generateAll(loadSchemas(join(root, 'schemas')));
for (const [name, text] of files) writeFileSync(join(out, name), text);
console.log(`wrote ${files.size} files to src/kafka/generated/`);
