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

// The table of APIs and versions in docs/kafka-protocol.md.
const { kafkaApiTableMarkdown } = await import('../src/kafka/docs-table.js');
const { splice } = await import('../src/server/docs-tables.js');
const { readFileSync } = await import('node:fs');
const doc = fileURLToPath(new URL('../docs/kafka-protocol.md', import.meta.url));
writeFileSync(doc, splice(readFileSync(doc, 'utf8'), 'kafka-apis', kafkaApiTableMarkdown()));
console.log('updated the API table in docs/kafka-protocol.md');
