/**
 * Tables in docs/ that are generated from the code (the error map, the config tables), and the splice that
 * puts them between `<!-- generated:NAME -->` and `<!-- /generated:NAME -->` markers. `sluice generate-docs`
 * rewrites them; a test fails when a doc is out of date.
 */
import { markdownTable } from '../common/settings.js';
import { TOPIC_SETTINGS } from '../replication/topic-config.js';
import { BROKER_SETTINGS } from './broker-config.js';
import { ERROR_TABLE } from './errors.js';

export function errorTableMarkdown(): string {
  const rows = ERROR_TABLE.map(
    (e) => `| \`${e.code}\` | ${Array.isArray(e.status) ? e.status.join('/') : e.status} | ${e.retriable ? 'yes' : 'no'} | ${e.meaning} |`,
  );
  return ['| code | status | retriable | meaning |', '|---|---|---|---|', ...rows].join('\n');
}

export const GENERATED: Record<string, { file: string; render: () => string }> = {
  errors: { file: 'docs/http-api.md', render: errorTableMarkdown },
  'broker-config': { file: 'docs/operations.md', render: () => markdownTable(BROKER_SETTINGS, true) },
  'topic-config': { file: 'docs/http-api.md', render: () => markdownTable(TOPIC_SETTINGS, false) },
};

/** Replaces the generated block `name` in `text`; throws when the markers are missing. */
export function splice(text: string, name: string, content: string): string {
  const start = `<!-- generated:${name} -->`;
  const end = `<!-- /generated:${name} -->`;
  const from = text.indexOf(start);
  const to = text.indexOf(end);
  if (from < 0 || to < from) throw new Error(`markers for ${name} not found`);
  return `${text.slice(0, from + start.length)}\n${content}\n${text.slice(to)}`;
}
