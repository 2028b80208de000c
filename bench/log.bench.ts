/**
 * The storage-engine suite (src/log): codec, CRC-32C and index micro-benchmarks (tinybench), then append,
 * fetch, sequential read and open measured end to end on real files, each next to a raw node:fs baseline
 * measured in the same run. The cases live in bench/log/; this file orders them and states the method.
 *
 * Run it through bench/run.ts (`npm run bench`), never on import: this module only exports the suite.
 */
import { DEFAULT_LOG_CONFIG } from '../src/log/log-config.js';
import type { BenchResult } from './lib/results.js';
import type { Suite, SuiteContext, SuiteOutput } from './lib/suite.js';
import { appendCaseCount, appendCases } from './log/append-cases.js';
import { codecCases, indexCases } from './log/cpu-cases.js';
import { OPEN_CASES, openCases } from './log/open-cases.js';
import { fetchCases, sequentialReadCase } from './log/read-cases.js';
import { logSuiteSettings, type LogSuiteSettings } from './log/settings.js';

function notesFor(s: LogSuiteSettings): string[] {
  const MiB = 1024 * 1024;
  return [
    'Ratio is value ÷ baseline in the unit shown: for MB/s higher is better, for µs, ns and ms lower is better.',
    'Raw baselines use node:fs on a raw file descriptor with the callback API (the same libuv thread-pool path as the engine), writing or reading the same bytes in the same directory.',
    `Append: each round starts from an empty partition (segmentBytes ${s.appendSegmentBytes / MiB} MiB, so no roll) or an empty file, runs for ${s.appendBudget.durationMs} ms or ${s.appendBudget.maxBytes / MiB} MiB, whichever comes first, and is removed afterwards; ${s.appendRounds} round(s), subject and baseline alternating, median reported (page-cache writes and fdatasync on a shared VM vary by 2–5× from round to round; the per-round numbers are in the JSON). Batches are validated as untrusted produce requests are.`,
    `fsync interval flushes every ${s.flushIntervalMs} ms (LogManager flushIntervalMs); its baseline starts a background fdatasync on the same schedule.`,
    `Fetch, read and open use logs of 1 KiB records in batches of ${s.logBatchRecords}, written with fsync never, segmentBytes ${s.logSegmentBytes / MiB} MiB, default ${DEFAULT_LOG_CONFIG.indexIntervalBytes}-byte index interval; all reads hit the page cache.`,
    'Open after an unclean stop uses LogManager.abandon() instead of close(); every open checks report.cleanShutdown.',
  ];
}

export const logSuite: Suite = {
  name: 'log',
  title: 'Storage engine (src/log)',
  fsyncPolicy: 'append cases: always, interval, never (per row); fetch, read and open logs written with never',
  plannedCases(quick) {
    const s = logSuiteSettings(quick);
    return 2 + appendCaseCount(s) + s.fetchLogBytes.length + 1 + OPEN_CASES;
  },
  diskBytes(quick) {
    const s = logSuiteSettings(quick);
    // the largest log, plus slack for indexes and one append round in flight elsewhere
    return s.fetchLogBytes.at(-1)! * 1.1 + s.appendBudget.maxBytes * 2;
  },
  async run(ctx: SuiteContext): Promise<SuiteOutput> {
    const settings = logSuiteSettings(ctx.quick);
    const results: BenchResult[] = [];
    results.push(...(await codecCases(ctx, settings)));
    results.push(...(await indexCases(ctx, settings)));
    results.push(...(await appendCases(ctx, settings)));
    const largest = await fetchCases(ctx, settings, results);
    results.push(await sequentialReadCase(ctx, settings, largest));
    results.push(...(await openCases(ctx, settings, largest)));
    return {
      settings: {
        recordBytes: 1024,
        batchSizes: settings.batchSizes.join(', '),
        appendBudgetMs: settings.appendBudget.durationMs,
        appendBudgetBytes: settings.appendBudget.maxBytes,
        appendRounds: settings.appendRounds,
        concurrentAppenders: settings.concurrentAppenders,
        fetchLogBytes: settings.fetchLogBytes.join(', '),
        fetchMaxBytes: settings.fetchMaxBytes,
        logBatchRecords: settings.logBatchRecords,
        logSegmentBytes: settings.logSegmentBytes,
        readMaxBytes: settings.readMaxBytes,
        microTimeMs: settings.microTimeMs,
      },
      notes: notesFor(settings),
      results,
    };
  },
};
