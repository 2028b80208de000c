/**
 * 10,000 partitions under the default limit of 1,024 open files: the descriptor LRU must keep the engine
 * below it through create, append, clean reopen, read and unclean recovery.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { useTempDirs } from '../helpers/temp-dir.js';

const tempDir = useTempDirs();
const SCRIPT = fileURLToPath(new URL('./fixtures/many-partitions.ts', import.meta.url));
const PARTITIONS = 10_000;

describe('many partitions', () => {
  it(`opens ${PARTITIONS} partitions with ulimit -n 1024`, () => {
    const dataDir = tempDir();
    const out = execFileSync(
      'bash',
      ['-c', 'ulimit -n 1024 && exec "$0" --import tsx "$1" "$2" "$3"', process.execPath, SCRIPT, dataDir, String(PARTITIONS)],
      { encoding: 'utf8', maxBuffer: 1 << 20, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const report = JSON.parse(out.trim().split('\n').at(-1)!);
    expect(report).toMatchObject({ reopenedClean: true, readBack: PARTITIONS, recovered: PARTITIONS, partitions: PARTITIONS });
    expect(report.maxOpenFds).toBeLessThan(1024);
  }, 300_000);
});
