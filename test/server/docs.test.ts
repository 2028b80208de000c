/** The generated tables in docs/ (error codes, config keys) must match the code. */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { GENERATED, splice } from '../../src/server/docs-tables.js';
import { ERROR_CODES } from '../../src/common/errors.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

describe('docs', () => {
  for (const [name, { file, render }] of Object.entries(GENERATED)) {
    it(`${file} has the current ${name} table (run \`sluice generate-docs\` after changing it)`, () => {
      const text = readFileSync(ROOT + file, 'utf8');
      expect(splice(text, name, render())).toBe(text);
    });
  }

  it('the error table in docs/http-api.md lists every code with its status', () => {
    const text = readFileSync(ROOT + 'docs/http-api.md', 'utf8');
    for (const code of Object.keys(ERROR_CODES)) expect(text).toMatch(new RegExp(`\\| \`${code}\` \\| \\d`));
  });
});
