/** The table of implemented APIs and versions in docs/kafka-protocol.md (generated; a test checks it). */
import { IMPLEMENTED_APIS } from './generated/index.js';

export function kafkaApiTableMarkdown(): string {
  const rows = IMPLEMENTED_APIS.map(
    (a) => `| ${a.name} | ${a.apiKey} | ${a.minVersion}–${a.maxVersion} | ${a.flexibleFrom === null ? '–' : a.flexibleFrom === a.minVersion ? 'all' : `${a.flexibleFrom}+`} |`,
  );
  return ['| API | key | versions | flexible |', '|---|---|---|---|', ...rows].join('\n');
}
