/** The checked-in codecs of src/kafka/generated/ are what the generator makes of the schemas today. */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { generateAll } from '../../src/kafka/generator/codegen.js';
import { loadSchemas } from '../../src/kafka/generator/load-schemas.js';
import { apiRange, parseRange } from '../../src/kafka/generator/schema.js';

const ROOT = fileURLToPath(new URL('../../src/kafka/', import.meta.url));

describe('generated Kafka codecs', () => {
  const schemas = loadSchemas(join(ROOT, 'schemas'));

  it('are up to date with the schemas (run `npm run generate:kafka` after editing src/kafka/schemas)', () => {
    const expected = generateAll(schemas);
    const onDisk = readdirSync(join(ROOT, 'generated')).sort();
    expect(onDisk).toEqual([...expected.keys()].sort());
    for (const [name, text] of expected) expect(readFileSync(join(ROOT, 'generated', name), 'utf8'), name).toBe(text);
  });

  it('every schema names 18 distinct APIs with ranges inside their versions', () => {
    expect(new Set(schemas.map((s) => s.apiKey)).size).toBe(18);
    for (const s of schemas) {
      const [min, max] = apiRange(s);
      const check = (fields: typeof s.request) => {
        for (const f of fields) {
          const [from, to] = parseRange(f.versions, max);
          expect(from >= min && to <= max && from <= to, `${s.name}.${f.name} ${f.versions}`).toBe(true);
          if (f.tag !== undefined) expect(s.flexibleFrom !== null && from >= s.flexibleFrom, `${s.name}.${f.name} tagged outside flexible versions`).toBe(true);
          if (f.fields) check(f.fields);
        }
      };
      check(s.request);
      check(s.response);
    }
  });

  it('a stale file is noticed (the comparison can fail)', () => {
    const files = generateAll(schemas.map((s) => (s.name === 'Heartbeat' ? { ...s, versions: '0-3' } : s)));
    expect(files.get('heartbeat.ts')).not.toBe(readFileSync(join(ROOT, 'generated', 'heartbeat.ts'), 'utf8'));
  });
});
