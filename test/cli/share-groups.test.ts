/**
 * The real `sluice` binary against a real broker process: share-group workers from the console
 * (`consume --share-group`) splitting a topic between them, and `share-groups configure|list|describe|delete`.
 */
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BrokerProcess, SLUICE_BIN, freePort } from '../helpers/broker-process.js';
import { useTempDirs } from '../helpers/temp-dir.js';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

const tempDir = useTempDirs();
let broker: BrokerProcess;

beforeAll(async () => {
  broker = new BrokerProcess(tempDir(), await freePort());
  await broker.start();
}, 30_000);

afterAll(async () => {
  await broker.stop('SIGTERM');
});

function sluice(args: string[], input = ''): Promise<Run> {
  const child = spawn(process.execPath, [SLUICE_BIN, ...args], { env: { ...process.env, SLUICE_BROKER: broker.url } });
  const out: Run = { code: null, stdout: '', stderr: '' };
  child.stdout.on('data', (d: Buffer) => (out.stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out.stderr += d.toString()));
  child.stdin.end(input);
  return new Promise((resolve) => child.on('close', (code) => resolve({ ...out, code })));
}

describe('sluice share-groups and consume --share-group', () => {
  it('two console workers split a topic: every record printed once; describe, list and delete', async () => {
    expect((await sluice(['topics', 'create', 'jobs', '--partitions', '3'])).code).toBe(0);
    const values = Array.from({ length: 300 }, (_, i) => `job-${i}`);
    expect((await sluice(['produce', 'jobs'], values.join('\n') + '\n')).code).toBe(0);
    const configured = await sluice(['share-groups', 'configure', 'workers', '--start-from', 'earliest', '--visibility-timeout', '60000', '--json']);
    expect(configured.code, configured.stderr).toBe(0);
    expect(JSON.parse(configured.stdout)).toMatchObject({ startFrom: 'earliest', visibilityTimeoutMs: 60_000 });

    const [a, b] = await Promise.all([sluice(['consume', 'jobs', '--share-group', 'workers', '--max', '120']), sluice(['consume', 'jobs', '--share-group', 'workers'])]);
    expect(a.code, a.stderr).toBe(0);
    expect(b.code, b.stderr).toBe(0);
    const printed = [...a.stdout.split('\n'), ...b.stdout.split('\n')].filter((l) => l !== '');
    expect(a.stdout.split('\n').filter((l) => l !== '').length).toBeLessThanOrEqual(120);
    expect(printed.sort()).toEqual([...values].sort());

    const described = await sluice(['share-groups', 'describe', 'workers', '--json']);
    expect(described.code).toBe(0);
    expect(JSON.parse(described.stdout).partitions.map((p: { lag: number }) => p.lag)).toEqual([0, 0, 0]);
    const table = await sluice(['share-groups', 'describe', 'workers']);
    expect(table.stdout).toMatch(/Total lag:\s+0/);
    expect(table.stdout).toMatch(/START-OFFSET/);
    const listed = await sluice(['share-groups', 'list']);
    expect(listed.stdout).toMatch(/workers\s+jobs/);

    // Nothing left: a third worker prints nothing and ends.
    const idle = await sluice(['consume', 'jobs', '--share-group', 'workers']);
    expect([idle.code, idle.stdout]).toEqual([0, '']);

    expect((await sluice(['share-groups', 'delete', 'workers'])).code).toBe(0);
    const again = await sluice(['share-groups', 'delete', 'workers']);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/UNKNOWN_GROUP/);
  });

  it('usage errors exit 2; a bad setting is the broker\'s 400', async () => {
    expect((await sluice(['consume', 'jobs', '--share-group', 'w', '--group', 'g'])).code).toBe(2);
    expect((await sluice(['share-groups', 'configure', 'w', '--visibility-timeout', '5'])).code).toBe(2);
    const unknownTopic = await sluice(['share-groups', 'configure', 'w', '--dead-letter-topic', 'missing']);
    expect(unknownTopic.code).toBe(1);
    expect(unknownTopic.stderr).toMatch(/UNKNOWN_TOPIC/);
  });
});
