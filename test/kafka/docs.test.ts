/** docs/kafka-protocol.md lists the implemented APIs and versions as the code has them. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { kafkaApiTableMarkdown } from '../../src/kafka/docs-table.js';
import { splice } from '../../src/server/docs-tables.js';

describe('docs/kafka-protocol.md', () => {
  it('has the current API table (run `npm run generate:kafka`)', () => {
    const text = readFileSync(new URL('../../docs/kafka-protocol.md', import.meta.url), 'utf8');
    expect(splice(text, 'kafka-apis', kafkaApiTableMarkdown())).toBe(text);
    expect(text).toContain('| Fetch | 1 | 4–12 | 12+ |');
  });
});
