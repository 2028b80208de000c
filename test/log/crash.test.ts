/**
 * Crash test: a real writer process is SIGKILLed mid-append again and again; after each kill the log must
 * reopen with every acknowledged record in place and nothing torn visible.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { LogManager } from '../../src/log/log-manager.js';
import { batchSize, readBatchHeader } from '../../src/log/record-batch.js';
import { decodeBatch } from '../../src/log/batch-decoder.js';
import { useTempDirs } from '../helpers/temp-dir.js';

const tempDir = useTempDirs();
const WRITER = fileURLToPath(new URL('./fixtures/crash-writer.ts', import.meta.url));
const KILLS = 12;

/** Runs the writer until it has acknowledged something, then SIGKILLs it after a random delay. */
function runAndKill(dataDir: string, run: number, acked: Map<number, string>): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', WRITER, dataDir, String(run)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let buffered = '';
    let killTimer: NodeJS.Timeout | undefined;
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      buffered += chunk;
      const lines = buffered.split('\n');
      buffered = lines.pop()!;
      for (const line of lines) {
        const [kind, offset, value] = line.split(' ');
        if (kind === 'ack') acked.set(Number(offset), value!);
        if (kind === 'ready' && !killTimer) killTimer = setTimeout(() => child.kill('SIGKILL'), 100 + Math.random() * 400);
      }
    });
    child.on('exit', (code, signal) => (signal === 'SIGKILL' ? resolve() : reject(new Error(`writer exited ${code} ${signal}`))));
  });
}

describe('crash safety', () => {
  it(`keeps every acknowledged record across ${KILLS} SIGKILLs mid-append`, async () => {
    const dataDir = tempDir();
    const acked = new Map<number, string>();
    for (let run = 0; run < KILLS; run++) await runAndKill(dataDir, run, acked);
    expect(acked.size).toBeGreaterThan(100);

    const manager = await LogManager.open({ dataDir, logConfigFor: () => ({ segmentBytes: 64 * 1024, indexIntervalBytes: 512 }) });
    expect(manager.report.cleanShutdown).toBe(false);
    expect(manager.report.quarantinedBytes).toBe(0);
    const log = manager.get({ topic: 'crash', partition: 0 })!;
    expect(log.segments.length).toBeGreaterThan(1);
    const found = new Map<number, string>();
    let expectedOffset = 0;
    for (let offset = 0; offset < log.logEndOffset; ) {
      const { bytes, nextOffset } = await log.read(offset, { maxBytes: 256 * 1024, maxOffset: log.logEndOffset });
      for (let at = 0; at < bytes.length; at += batchSize(readBatchHeader(bytes, at))) {
        // decodeBatch checks the CRC: nothing torn or corrupt may be visible.
        for (const record of decodeBatch(bytes, at).records) {
          expect(record.offset).toBe(expectedOffset++);
          found.set(record.offset, record.value!.toString().replace(/#+$/, ''));
        }
      }
      offset = nextOffset;
    }
    for (const [offset, value] of acked) expect(found.get(offset), `acknowledged offset ${offset}`).toBe(value);
    await manager.close();
  }, 120_000);
});
