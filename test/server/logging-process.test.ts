/**
 * Logging never stops the broker: a real `sluice serve` at --log-level debug (a line per request) whose stdout
 * cannot take its lines, either a pipe nobody reads (full after some 80 KB) or /dev/full (every write fails
 * ENOSPC, as on a full disk), keeps answering every request promptly, counts the lines it dropped in
 * sluice_log_lines_dropped_total (the buffer is cut to 64 KiB so that a few thousand lines overflow it), and
 * still shuts down cleanly on SIGTERM.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BrokerProcess, freePort, postJson } from '../helpers/broker-process.js';
import { useTempDirs } from '../helpers/temp-dir.js';

const tempDir = useTempDirs();
const running: BrokerProcess[] = [];
const fds: number[] = [];
afterEach(async () => {
  for (const b of running.splice(0)) await b.stop('SIGKILL');
  for (const fd of fds.splice(0)) closeSync(fd);
});

/** A FIFO opened for reading and writing (so opening does not wait for a reader) that nobody reads. */
function unreadPipe(): number {
  const path = join(tempDir(), 'stdout.fifo');
  execFileSync('mkfifo', [path]);
  return openSync(path, 'r+');
}

async function launch(stdout: number): Promise<BrokerProcess> {
  const broker = new BrokerProcess(tempDir(), await freePort(), ['--log-level', 'debug', '--log-buffer-bytes', '65536'], stdout);
  running.push(broker);
  await broker.start();
  return broker;
}

/** `count` GETs of `path`, `concurrency` at a time, each failing after 2 s; returns the slowest in ms. */
async function hammer(url: string, count: number, concurrency: number): Promise<number> {
  let next = 0;
  let slowest = 0;
  const worker = async () => {
    while (next++ < count) {
      const started = performance.now();
      const response = await fetch(url, { signal: AbortSignal.timeout(2_000) });
      expect(response.status).toBe(200);
      await response.arrayBuffer();
      slowest = Math.max(slowest, performance.now() - started);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return slowest;
}

async function droppedLines(broker: BrokerProcess): Promise<number> {
  const text = await (await fetch(`${broker.url}/metrics`, { signal: AbortSignal.timeout(2_000) })).text();
  const line = text.split('\n').find((l) => l.startsWith('sluice_log_lines_dropped_total '));
  expect(line, 'sluice_log_lines_dropped_total in /metrics').toBeDefined();
  return Number(line!.split(' ')[1]);
}

describe('a log destination that cannot take more', () => {
  for (const kind of ['a pipe nobody reads', '/dev/full (ENOSPC)'] as const) {
    it(`stdout on ${kind}: requests are served promptly, dropped lines are counted, SIGTERM stops cleanly`, async () => {
      const stdout = kind === 'a pipe nobody reads' ? unreadPipe() : openSync('/dev/full', 'w');
      fds.push(stdout);
      const broker = await launch(stdout);
      // ~3,000 request lines at debug level: far more than a pipe's buffer holds
      const slowest = await hammer(`${broker.url}/health`, 3_000, 16);
      expect(slowest).toBeLessThan(2_000);
      expect((await postJson(`${broker.url}/topics`, { name: 'still-works' })).status).toBe(201);
      expect((await postJson(`${broker.url}/topics/still-works/records`, { records: [{ value: 'x' }] })).status).toBe(200);
      expect(await droppedLines(broker)).toBeGreaterThan(0);
      const stopped = Date.now();
      expect(await broker.stop('SIGTERM')).toBe(0);
      expect(Date.now() - stopped).toBeLessThan(10_000);
    }, 60_000);
  }
});
