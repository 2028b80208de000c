/**
 * The README runs as written (fastify-style docs test): its `sh` blocks, in order, in bash against a fresh
 * broker process, then its TypeScript example against the same broker. A block after a
 * `<!-- docs-test: skip ... -->` line is not run; the line `npm ci && npm start` is the broker this test starts
 * (on a free port: `8080` in the text becomes that port). curl fails on an HTTP error, every command must exit
 * 0, and the sample output lines the README prints are checked where they name a value.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BrokerProcess, freePort } from '../helpers/broker-process.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const README = readFileSync(join(ROOT, 'README.md'), 'utf8');

interface Block {
  lang: string;
  code: string;
  skipped: boolean;
}

function blocks(markdown: string): Block[] {
  const out: Block[] = [];
  for (const m of markdown.matchAll(/(<!-- docs-test: skip[^>]*-->\n)?```(\w+)\n([\s\S]*?)```/g)) out.push({ lang: m[2]!, code: m[3]!, skipped: m[1] !== undefined });
  return out;
}

let broker: BrokerProcess;
let work: string;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'sluice-readme-'));
  broker = new BrokerProcess(join(work, 'data'), await freePort());
  await broker.start();
}, 30_000);

afterAll(async () => {
  await broker.stop('SIGTERM');
  rmSync(work, { recursive: true, force: true });
});

const onPort = (code: string) => code.replaceAll(':8080', `:${broker.port}`);

describe('README', () => {
  it('has runnable blocks', () => {
    const run = blocks(README).filter((b) => !b.skipped);
    expect(run.filter((b) => b.lang === 'sh').length).toBeGreaterThanOrEqual(2);
    expect(run.filter((b) => b.lang === 'ts')).toHaveLength(1);
  });

  it('its shell blocks run in order against a fresh broker, with the output it shows', () => {
    const script = blocks(README)
      .filter((b) => b.lang === 'sh' && !b.skipped)
      .map((b) => b.code.replace(/^npm ci && npm start.*$/m, ': the broker started by the test'))
      .join('\n');
    // Each command on its own line (continuations joined), echoed before it runs, so a failure names it.
    const prelude = 'set -euo pipefail\ncurl() { command curl --fail-with-body "$@"; }\nset -x\n';
    writeFileSync(join(work, 'readme.sh'), prelude + onPort(script));
    const run = spawnSync('bash', [join(work, 'readme.sh')], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 60_000,
      env: { ...process.env, SLUICE_BROKER: `127.0.0.1:${broker.port}` },
    });
    expect(run.status, run.stderr).toBe(0);
    const out = run.stdout;
    // The samples: customer-7 on partition 1 (murmur2), its record read back, the CLI's output.
    expect(out).toMatch(/\{"offsets":\[\{"partition":1,"offset":0,"timestamp":\d+\},\{"partition":\d,"offset":[01],"timestamp":\d+\}\]\}/); // the keyless one: any partition (sticky)
    expect(out).toMatch(/\{"records":\[\{"offset":0,"timestamp":\d+,"key":"customer-7","value":"hello","headers":\{\}\}(,\{"offset":1,[^\]]*"value":"world"[^\]]*\})?\],"nextOffset":[12],/);
    expect(out).toContain('created topic payments with 3 partition(s)');
    expect(out).toMatch(/^Group: +billing$/m);
    expect(out).toMatch(/^plan for group billing \(dry run: nothing changed\)$/m);
  }, 90_000);

  it('its TypeScript example runs against the broker (as JavaScript: it has no type annotations)', () => {
    const [example] = blocks(README).filter((b) => b.lang === 'ts' && !b.skipped);
    const file = join(ROOT, 'node_modules', '.readme-example.mjs'); // inside the checkout, so 'sluice-client' resolves
    writeFileSync(file, onPort(example!.code));
    try {
      const run = spawnSync(process.execPath, [file], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
      expect(run.status, run.stderr).toBe(0);
      expect(run.stdout).toMatch(/^sent to partition \d+ at offset 0\n\d+ 0 hello\n$/);
    } finally {
      rmSync(file, { force: true });
    }
  }, 90_000);
});
