/**
 * The CLI as operators use kafka-consumer-groups.sh, kafka-configs.sh, kcat and rpk, on the real binary
 * against a real broker: reset-offsets plans (--dry-run, --shift-by, TOPIC:P,P, --all-topics), Kafka's dotted
 * config names, config sources in describe, host:port brokers, unknown lag, --on-missing-key.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BrokerProcess, SLUICE_BIN, freePort } from '../helpers/broker-process.js';
import { waitFor } from '../helpers/wait-for.js';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

let broker: BrokerProcess;
let dataDir: string;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'sluice-cli-ops-'));
  broker = new BrokerProcess(dataDir, await freePort());
  await broker.start();
}, 30_000);

afterAll(async () => {
  await broker.stop('SIGTERM');
  rmSync(dataDir, { recursive: true, force: true });
});

function start(args: string[]): ChildProcess & { out: Run } {
  // host:port, as kcat and rpk take it
  const child = spawn(process.execPath, [SLUICE_BIN, ...args], { env: { ...process.env, SLUICE_BROKER: `127.0.0.1:${broker.port}` } }) as ChildProcess & { out: Run };
  child.out = { code: null, stdout: '', stderr: '' };
  child.stdout!.on('data', (d: Buffer) => (child.out.stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (child.out.stderr += d.toString()));
  return child;
}

function sluice(args: string[], input = ''): Promise<Run> {
  const child = start(args);
  child.stdin!.end(input);
  return new Promise((resolve) => child.on('close', (code) => resolve({ ...child.out, code })));
}

async function json<T = any>(args: string[]): Promise<T> {
  const run = await sluice([...args, '--json']);
  expect(run.stderr).toBe('');
  expect(run.code).toBe(0);
  return JSON.parse(run.stdout) as T;
}

const committed = async (group: string) =>
  Object.fromEntries((await json<{ offsets: { topic: string; partition: number; offset: number }[] }>(['groups', 'describe', group])).offsets.map((o) => [`${o.topic}/${o.partition}`, o.offset]));

describe('groups reset-offsets', () => {
  it('--dry-run prints the plan and changes nothing; --shift-by, TOPIC:P,P and --all-topics move what they say', async () => {
    await sluice(['topics', 'create', 'ops-a', '--partitions', '3']);
    await sluice(['topics', 'create', 'ops-b', '--partitions', '1']);
    for (const [topic, partitions] of [['ops-a', 3], ['ops-b', 1]] as const) {
      for (let p = 0; p < partitions; p++) await sluice(['produce', topic, '--partition', String(p)], Array.from({ length: 10 }, (_, i) => `r${i}`).join('\n'));
    }
    await sluice(['groups', 'reset-offsets', 'ops-g', '--topic', 'ops-a', '--topic', 'ops-b', '--to-offset', '6']);
    expect(await committed('ops-g')).toEqual({ 'ops-a/0': 6, 'ops-a/1': 6, 'ops-a/2': 6, 'ops-b/0': 6 });

    const dry = await sluice(['groups', 'reset-offsets', 'ops-g', '--topic', 'ops-a:0,2', '--shift-by', '-4', '--dry-run']);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toMatch(/^plan for group ops-g \(dry run: nothing changed\)$/m);
    expect(dry.stdout).toMatch(/^TOPIC +PARTITION +CURRENT +NEW-OFFSET +LAG-AFTER$/m);
    expect(dry.stdout).toMatch(/^ops-a +0 +6 +2 +8$/m);
    expect(dry.stdout).toMatch(/^ops-a +2 +6 +2 +8$/m);
    expect(dry.stdout).not.toMatch(/^ops-a +1 /m);
    expect(await committed('ops-g')).toEqual({ 'ops-a/0': 6, 'ops-a/1': 6, 'ops-a/2': 6, 'ops-b/0': 6 }); // unchanged

    const shifted = await json<{ partition: number; current: number; offset: number; lagAfter: number }[]>(['groups', 'reset-offsets', 'ops-g', '--topic', 'ops-a:0,2', '--shift-by', '-4']);
    expect(shifted).toEqual([
      { topic: 'ops-a', partition: 0, current: 6, offset: 2, lagAfter: 8 },
      { topic: 'ops-a', partition: 2, current: 6, offset: 2, lagAfter: 8 },
    ]);
    // Clamped to the high watermark, as Kafka does.
    await sluice(['groups', 'reset-offsets', 'ops-g', '--topic', 'ops-b', '--shift-by', '100']);
    expect(await committed('ops-g')).toEqual({ 'ops-a/0': 2, 'ops-a/1': 6, 'ops-a/2': 2, 'ops-b/0': 10 });

    const all = await sluice(['groups', 'reset-offsets', 'ops-g', '--all-topics', '--to-earliest']);
    expect(all.code).toBe(0);
    expect(await committed('ops-g')).toEqual({ 'ops-a/0': 0, 'ops-a/1': 0, 'ops-a/2': 0, 'ops-b/0': 0 });

    const noCommit = await sluice(['groups', 'reset-offsets', 'ops-new', '--topic', 'ops-b', '--shift-by', '1']);
    expect(noCommit).toMatchObject({ code: 1, stderr: expect.stringMatching(/--shift-by needs a committed offset, and group ops-new has none for ops-b partition 0/) });
    expect(await sluice(['groups', 'reset-offsets', 'ops-g', '--topic', 'ops-b:5', '--to-earliest'])).toMatchObject({ code: 2, stderr: expect.stringContaining('there is no partition 5') });
  }, 60_000);

  it('a live group: lag is unknown before the first commit, and resets are refused naming "1 live member"', async () => {
    await sluice(['topics', 'create', 'ops-live', '--partitions', '2']);
    await sluice(['produce', 'ops-live'], 'a\nb\nc\n');
    const follower = start(['consume', 'ops-live', '--group', 'ops-live-g', '--from', 'latest', '--follow']);
    try {
      await waitFor(async () => (await json<{ members: unknown[] }>(['groups', 'describe', 'ops-live-g']).catch(() => ({ members: [] }))).members.length === 1, 15_000);
      await waitFor(async () => (await json<{ members: { assignments: unknown[] }[] }>(['groups', 'describe', 'ops-live-g'])).members[0]!.assignments.length === 2, 15_000);
      const described = await sluice(['groups', 'describe', 'ops-live-g']);
      expect(described.stdout).toMatch(/^Total lag: +unknown \(2 partitions without a committed offset\)$/m);
      const reset = await sluice(['groups', 'reset-offsets', 'ops-live-g', '--topic', 'ops-live', '--to-earliest']);
      expect(reset).toMatchObject({ code: 1, stderr: expect.stringContaining('group ops-live-g has 1 live member;') });
      const dry = await sluice(['groups', 'reset-offsets', 'ops-live-g', '--topic', 'ops-live', '--to-earliest', '--dry-run']);
      expect(dry.code).toBe(0);
      expect(dry.stderr).toContain('has 1 live member;');
    } finally {
      const exited = new Promise((resolve) => follower.on('close', resolve));
      follower.kill('SIGINT');
      await exited;
    }
  }, 60_000);
});

describe('topic config', () => {
  it('takes Kafka\'s dotted names, and describe marks overrides and defaults', async () => {
    await sluice(['topics', 'create', 'ops-cfg', '--config', 'segment.bytes=1048576']);
    const altered = await sluice(['topics', 'alter-config', 'ops-cfg', 'retention.ms=3600000', 'compression.type=lz4']);
    expect(altered).toMatchObject({ code: 0, stdout: expect.stringMatching(/^updated retentionMs, compression of topic ops-cfg$/m) });
    const described = await json<{ config: Record<string, unknown>; overrides: string[] }>(['topics', 'describe', 'ops-cfg']);
    expect(described.config).toMatchObject({ retentionMs: 3_600_000, compression: 'lz4', segmentBytes: 1_048_576 });
    expect(described.overrides).toEqual(['compression', 'retentionMs', 'segmentBytes']);
    const text = await sluice(['topics', 'describe', 'ops-cfg']);
    expect(text.stdout).toMatch(/^ +KEY +VALUE +SOURCE$/m);
    expect(text.stdout).toMatch(/^ +retentionMs +3600000 +topic$/m);
    expect(text.stdout).toMatch(/^ +maxMessageBytes +\d+ +default$/m);
    expect(await sluice(['topics', 'alter-config', 'ops-cfg', '--reset', 'retention.ms'])).toMatchObject({ code: 0 });
    expect((await json<{ overrides: string[] }>(['topics', 'describe', 'ops-cfg'])).overrides).toEqual(['compression', 'segmentBytes']);
    // A key the broker does not know, with the one it probably meant.
    const wrong = await sluice(['topics', 'alter-config', 'ops-cfg', 'retentionMS=1']);
    expect(wrong).toMatchObject({ code: 1, stderr: 'sluice: INVALID_CONFIG: unknown topic config key "retentionMS" (did you mean retentionMs?)\n' });
  }, 30_000);
});

describe('produce --key-separator', () => {
  it('--on-missing-key: fail before anything of the input is sent, skip, or null', async () => {
    await sluice(['topics', 'create', 'ops-keys', '--partitions', '1']);
    const input = 'k1:a\nno separator\nk2:b\n';
    const failed = await sluice(['produce', 'ops-keys', '--key-separator', ':'], input);
    expect(failed).toMatchObject({ code: 1, stderr: expect.stringContaining('line 2 has no key separator ":": nothing from line 1 on was sent') });
    expect((await json<{ partitions: { highWatermark: number }[] }>(['topics', 'describe', 'ops-keys'])).partitions[0]!.highWatermark).toBe(0);

    const skipped = await sluice(['produce', 'ops-keys', '--key-separator', ':', '--on-missing-key', 'skip'], input);
    expect(skipped).toMatchObject({ code: 0, stderr: expect.stringContaining('produced 2 record(s) to ops-keys, skipped 1 line(s) without the key separator') });
    await sluice(['produce', 'ops-keys', '--key-separator', ':', '--on-missing-key', 'null'], input);
    const records = (await sluice(['consume', 'ops-keys', '--json'])).stdout.trim().split('\n').map((l) => JSON.parse(l) as { key: string | null; value: string });
    expect(records.map((r) => [r.key, r.value])).toEqual([
      ['k1', 'a'],
      ['k2', 'b'],
      ['k1', 'a'],
      [null, 'no separator'],
      ['k2', 'b'],
    ]);
  }, 30_000);
});
