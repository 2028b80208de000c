/**
 * The real `sluice` binary (compiled by `npm test`'s pretest build) against a real broker process: topics,
 * groups, retention, console produce and consume, and the exit codes of failures.
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

// One broker for the file (its data dir outlives each test, so not useTempDirs); every test has its own topics.
beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'sluice-cli-'));
  broker = new BrokerProcess(dataDir, await freePort());
  await broker.start();
}, 30_000);

afterAll(async () => {
  await broker.stop('SIGTERM');
  rmSync(dataDir, { recursive: true, force: true });
});

function start(args: string[], env: Record<string, string> = {}): ChildProcess & { out: Run } {
  const child = spawn(process.execPath, [SLUICE_BIN, ...args], { env: { ...process.env, SLUICE_BROKER: broker.url, ...env } }) as ChildProcess & { out: Run };
  child.out = { code: null, stdout: '', stderr: '' };
  child.stdout!.on('data', (d: Buffer) => (child.out.stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (child.out.stderr += d.toString()));
  return child;
}

function sluice(args: string[], options: { input?: string | Buffer; env?: Record<string, string> } = {}): Promise<Run> {
  const child = start(args, options.env);
  child.stdin!.end(options.input ?? '');
  return new Promise((resolve) => child.on('close', (code) => resolve({ ...child.out, code })));
}

async function json<T = any>(args: string[]): Promise<T> {
  const run = await sluice([...args, '--json']);
  expect(run.stderr).toBe('');
  expect(run.code).toBe(0);
  return JSON.parse(run.stdout) as T;
}

/** The lines of a command's stdout (each ends with a newline; a line may be empty). */
function outLines(stdout: string): string[] {
  return stdout === '' ? [] : stdout.replace(/\n$/, '').split('\n');
}

async function totalLag(group: string): Promise<number> {
  const description = await json<{ offsets: { lag: number }[] }>(['groups', 'describe', group]);
  return description.offsets.reduce((sum, o) => sum + o.lag, 0);
}

/** 1,000 lines of text: unicode, spaces, an empty line, quotes and backslashes. */
const LINES = Array.from({ length: 1_000 }, (_, i) => (i === 500 ? '' : `line ${i} ünïcödé ✓ "quoted" \\ tab\there ${'x'.repeat(i % 37)}`));

describe('sluice topics', () => {
  it('creates, lists, describes, alters and deletes a topic', async () => {
    const created = await sluice(['topics', 'create', 'cli-orders', '--partitions', '3', '--config', 'retentionMs=86400000', '--config', 'retentionBytes=1048576']);
    expect(created).toMatchObject({ code: 0, stdout: 'created topic cli-orders with 3 partition(s)\n' });

    const table = await sluice(['topics', 'list']);
    expect(table.stdout).toMatch(/^NAME +PARTITIONS +REPLICATION-FACTOR$/m);
    expect(table.stdout).toMatch(/^cli-orders +3 +1$/m);
    expect(await json(['topics', 'list'])).toContainEqual({ name: 'cli-orders', partitions: 3, replicationFactor: 1 });

    const described = await json(['topics', 'describe', 'cli-orders']);
    expect(described.config).toMatchObject({ retentionMs: 86_400_000, retentionBytes: 1_048_576, segmentBytes: 134_217_728 });
    expect(described.partitions.map((p: { partition: number }) => p.partition)).toEqual([0, 1, 2]);
    const text = await sluice(['topics', 'describe', 'cli-orders']);
    expect(text.stdout).toMatch(/^Partitions: +3$/m);
    expect(text.stdout).toMatch(/^ +retentionMs +86400000 +topic$/m); // set on the topic
    expect(text.stdout).toMatch(/^ +segmentBytes +134217728 +default$/m);
    expect(text.stdout).toMatch(/^PARTITION +LEADER +REPLICAS +ISR +LOG-START +HIGH-WATERMARK +LOG-END +SIZE +SEGMENTS$/m);

    const altered = await sluice(['topics', 'alter-config', 'cli-orders', 'retentionMs=3600000', 'segmentBytes=1048576', '--reset', 'retentionBytes']);
    expect(altered.code).toBe(0);
    expect(altered.stdout).toMatch(/^updated retentionMs, segmentBytes, retentionBytes of topic cli-orders$/m);
    expect(altered.stdout).toMatch(/^retentionMs +3600000$/m);
    expect((await json(['topics', 'describe', 'cli-orders'])).config).toMatchObject({ retentionMs: 3_600_000, retentionBytes: null, segmentBytes: 1_048_576 });

    const again = await sluice(['topics', 'create', 'cli-orders']);
    expect(again).toMatchObject({ code: 1, stderr: expect.stringMatching(/^sluice: TOPIC_ALREADY_EXISTS: /) });
    expect((await sluice(['topics', 'create', 'cli-orders', '--if-not-exists'])).code).toBe(0);

    expect(await sluice(['topics', 'delete', 'cli-orders'])).toMatchObject({ code: 0, stdout: 'deleted topic cli-orders\n' });
    const gone = await sluice(['topics', 'describe', 'cli-orders']);
    expect(gone).toMatchObject({ code: 1, stdout: '', stderr: 'sluice: UNKNOWN_TOPIC: topic "cli-orders" does not exist\n' });
    expect((await sluice(['topics', 'delete', 'cli-orders'])).code).toBe(1);
    expect((await sluice(['topics', 'delete', 'cli-orders', '--if-exists'])).code).toBe(0);
  });

  it('alter-config key=null makes a retention key unlimited; --reset returns a key to the broker default', async () => {
    await sluice(['topics', 'create', 'cli-keep', '--config', 'retentionMs=3600000', '--config', 'segmentBytes=1048576']);
    const forever = await sluice(['topics', 'alter-config', 'cli-keep', 'retentionMs=null', 'retentionBytes=null']);
    expect(forever).toMatchObject({ code: 0, stderr: '' });
    expect(forever.stdout).toMatch(/^updated retentionMs, retentionBytes of topic cli-keep$/m);
    expect(forever.stdout).toMatch(/^retentionMs +unlimited$/m);
    expect((await json(['topics', 'describe', 'cli-keep'])).config).toMatchObject({ retentionMs: null, retentionBytes: null, segmentBytes: 1_048_576 });
    const described = await sluice(['topics', 'describe', 'cli-keep']);
    expect(described.stdout).toMatch(/^ +retentionMs +unlimited +topic$/m);
    expect(described.stdout).toMatch(/^ +retentionBytes +unlimited +topic$/m);

    const reset = await json(['topics', 'alter-config', 'cli-keep', '--reset', 'retentionMs', '--reset', 'segmentBytes']);
    expect(reset).toMatchObject({ retentionMs: 1_209_600_000, retentionBytes: null, segmentBytes: 134_217_728 });
    expect((await json(['topics', 'describe', 'cli-keep'])).config).toEqual(reset);

    const notNullable = await sluice(['topics', 'alter-config', 'cli-keep', 'segmentBytes=null']);
    expect(notNullable).toMatchObject({ code: 1, stdout: '', stderr: expect.stringMatching(/^sluice: INVALID_CONFIG: segmentBytes cannot be null/) });
    const unknown = await sluice(['topics', 'alter-config', 'cli-keep', '--reset', 'retentionMillis']);
    expect(unknown).toMatchObject({ code: 1, stderr: expect.stringMatching(/^sluice: INVALID_CONFIG: unknown topic config key "retentionMillis" \(keys: retentionMs, retentionBytes, /) });
    // The key=value changes go first; a reset refused after them says what had changed.
    const partly = await sluice(['topics', 'alter-config', 'cli-keep', 'retentionMs=7200000', '--reset', 'nope']);
    expect(partly.code).toBe(1);
    expect(partly.stderr).toMatch(/^sluice: retentionMs of topic cli-keep changed before this error:\nsluice: INVALID_CONFIG: unknown topic config key "nope" \(keys: /);
    expect((await json(['topics', 'describe', 'cli-keep'])).config.retentionMs).toBe(7_200_000);
    expect(await sluice(['topics', 'alter-config', 'cli-keep', 'retentionMs=1', '--reset', 'retentionMs'])).toMatchObject({ code: 2, stderr: expect.stringContaining('both set and reset') });
    expect(await sluice(['topics', 'alter-config', 'cli-nope', '--reset', 'retentionMs'])).toMatchObject({ code: 1, stderr: 'sluice: UNKNOWN_TOPIC: topic "cli-nope" does not exist\n' });
  });

  it('refuses bad config with the broker\'s code (exit 1) and malformed pairs as usage (exit 2)', async () => {
    const bad = await sluice(['topics', 'create', 'cli-bad', '--config', 'retentionMs=soon']);
    expect(bad).toMatchObject({ code: 1, stderr: expect.stringMatching(/^sluice: INVALID_CONFIG: retentionMs must be an integer/) });
    expect(await sluice(['topics', 'create', 'cli-bad', '--config', 'retentionMs'])).toMatchObject({ code: 2, stderr: expect.stringContaining('key=value') });
    expect((await sluice(['topics', 'alter-config', 'cli-bad'])).code).toBe(2);
    expect((await sluice(['topics', 'list', '--json'])).stdout).not.toContain('cli-bad');
  });
});

describe('sluice produce and consume', () => {
  it('produces 1,000 lines and consumes them back identical', async () => {
    await sluice(['topics', 'create', 'cli-lines', '--partitions', '1']);
    const produced = await sluice(['produce', 'cli-lines'], { input: LINES.join('\n') + '\n' });
    expect(produced).toMatchObject({ code: 0, stdout: '', stderr: 'produced 1000 record(s) to cli-lines\n' });
    const consumed = await sluice(['consume', 'cli-lines']);
    expect(consumed.code).toBe(0);
    expect(consumed.stdout).toBe(LINES.join('\n') + '\n');
    expect(consumed.stderr).toBe('consumed 1000 record(s)\n');

    const grouped = await sluice(['consume', 'cli-lines', '--group', 'cli-from', '--from', '995']); // no commit yet: --from applies
    expect(grouped.stdout).toBe(LINES.slice(995).join('\n') + '\n');
    expect((await sluice(['consume', 'cli-lines', '--group', 'cli-from', '--from', '0'])).stdout).toBe(''); // committed: --from does not

    const some = await sluice(['consume', 'cli-lines', '--from', '998', '--json', '--max', '5']);
    const records = some.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(records.map((r) => [r.offset, r.value, r.key, r.partition])).toEqual([
      [998, LINES[998], null, 0],
      [999, LINES[999], null, 0],
    ]);
  });

  it('splits keys, adds headers and timestamps, places keys by murmur2 and reads CRLF input', async () => {
    await sluice(['topics', 'create', 'cli-keys', '--partitions', '4']);
    const input = Array.from({ length: 200 }, (_, i) => `user-${i % 10}:event ${i}`).join('\r\n');
    const minuteAgo = new Date(Math.floor(Date.now() / 1000) * 1000 - 60_000).toISOString(); // ISO text, whole seconds
    const run = await sluice(['produce', 'cli-keys', '--key-separator', ':', '--header', 'source=cli', '--timestamp', minuteAgo, '--compression', 'lz4'], { input });
    expect(run.code).toBe(0);
    const records = (await sluice(['consume', 'cli-keys', '--json'])).stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(records).toHaveLength(200);
    expect(new Set(records.map((r) => r.value))).toEqual(new Set(Array.from({ length: 200 }, (_, i) => `event ${i}`)));
    const partitionOf = new Map<string, number>();
    for (const r of records) {
      expect(r).toMatchObject({ headers: { source: 'cli' }, timestamp: Date.parse(minuteAgo) });
      expect(r.value).toBe(`event ${r.value.slice(6)}`);
      expect(partitionOf.get(r.key) ?? r.partition).toBe(r.partition); // one key, one partition
      partitionOf.set(r.key, r.partition);
    }
    const withKeys = await sluice(['consume', 'cli-keys', '--partition', String(records[0].partition), '--print-key', '--max', '1']);
    expect(withKeys.stdout).toBe(`${records[0].key}\t${records[0].value}\n`);

    const missing = await sluice(['produce', 'cli-keys', '--key-separator', ':'], { input: 'a:1\nno separator\nb:2\n' });
    expect(missing).toMatchObject({ code: 1, stderr: expect.stringContaining('line 2 has no key separator') });
  });

  it('consumes in a group: lag drops to 0, nothing twice, reset-offsets replays', async () => {
    await sluice(['topics', 'create', 'cli-group', '--partitions', '3']);
    await sluice(['produce', 'cli-group', '--key-separator', '='], { input: LINES.map((l, i) => `k${i}=${l}`).join('\n') });

    const first = await sluice(['consume', 'cli-group', '--group', 'cli-g', '--max', '400']);
    expect(outLines(first.stdout)).toHaveLength(400);
    const described = await sluice(['groups', 'describe', 'cli-g']);
    expect(described.stdout).toMatch(/^State: +Empty$/m);
    expect(described.stdout).toMatch(/^Total lag: +600$/m);
    expect(await totalLag('cli-g')).toBe(600);

    const rest = await sluice(['consume', 'cli-group', '--group', 'cli-g']);
    expect(rest.code).toBe(0);
    expect([...outLines(first.stdout), ...outLines(rest.stdout)].sort()).toEqual([...LINES].sort()); // each line once
    expect(await totalLag('cli-g')).toBe(0);
    expect((await sluice(['groups', 'describe', 'cli-g'])).stdout).toMatch(/^Total lag: +0$/m);
    expect((await sluice(['consume', 'cli-group', '--group', 'cli-g'])).stdout).toBe(''); // everything committed

    expect((await sluice(['groups', 'reset-offsets', 'cli-g', '--topic', 'cli-group', '--to-earliest'])).code).toBe(0);
    expect(await totalLag('cli-g')).toBe(1_000);
    expect(outLines((await sluice(['consume', 'cli-group', '--group', 'cli-g'])).stdout)).toHaveLength(1_000);

    const toOffset = await json<{ partition: number; offset: number }[]>(['groups', 'reset-offsets', 'cli-g', '--topic', 'cli-group', '--to-offset', '5']);
    expect(toOffset.map((o) => o.offset)).toEqual([5, 5, 5]);
    expect(await totalLag('cli-g')).toBe(1_000 - 15);
    const future = await json<{ offset: number }[]>(['groups', 'reset-offsets', 'cli-g', '--topic', 'cli-group', '--to-datetime', '2999-01-01T00:00:00Z']);
    expect(await totalLag('cli-g')).toBe(0);
    expect(future).toHaveLength(3);

    expect((await json<{ group: string }[]>(['groups', 'list'])).map((g) => g.group)).toContain('cli-g');
    expect(await sluice(['groups', 'delete', 'cli-g'])).toMatchObject({ code: 0, stdout: 'deleted group cli-g\n' });
    expect(await sluice(['groups', 'describe', 'cli-g'])).toMatchObject({ code: 1, stderr: expect.stringMatching(/^sluice: UNKNOWN_GROUP: /) });
  });

  it('--follow long-polls new records, refuses a reset of its live group, commits and leaves on Ctrl-C', async () => {
    await sluice(['topics', 'create', 'cli-follow', '--partitions', '2']);
    const follower = start(['consume', 'cli-follow', '--group', 'cli-live', '--follow']);
    try {
      await waitFor(async () => {
        const run = await sluice(['groups', 'describe', 'cli-live', '--json']);
        return run.code === 0 && JSON.parse(run.stdout).members.length === 1;
      }, 15_000);
      // who owns what: member id, client id (host name and pid by default) and host, per member and per partition
      const members = JSON.parse((await sluice(['groups', 'describe', 'cli-live', '--json'])).stdout).members;
      expect(members[0]).toMatchObject({ clientId: expect.stringMatching(new RegExp(`-${follower.pid}$`)), host: '127.0.0.1' });
      const table = (await sluice(['groups', 'describe', 'cli-live'])).stdout;
      expect(table).toMatch(/^MEMBER-ID +CLIENT-ID +HOST +TOPICS +PARTITIONS +RELEASING +PENDING +LAST-HEARTBEAT$/m);
      expect(table).toMatch(/^TOPIC +PARTITION +COMMITTED +HIGH-WATERMARK +LAG +MEMBER-ID +HOST +CLIENT-ID$/m);
      expect(table).toContain(members[0].clientId);
      const reset = await sluice(['groups', 'reset-offsets', 'cli-live', '--topic', 'cli-follow', '--to-earliest']);
      expect(reset).toMatchObject({ code: 1, stderr: expect.stringMatching(/^sluice: GROUP_NOT_EMPTY: /) });

      await sluice(['produce', 'cli-follow', '--key', 'a'], { input: 'one\ntwo\nthree\n' });
      await waitFor(() => follower.out.stdout === 'one\ntwo\nthree\n', 15_000);
      const exited = new Promise<number | null>((resolve) => follower.on('close', resolve));
      follower.kill('SIGINT');
      expect(await exited).toBe(0);
    } finally {
      follower.kill('SIGKILL');
    }
    const after = await json<{ members: unknown[]; offsets: { offset: number; lag: number }[] }>(['groups', 'describe', 'cli-live']);
    expect(after.members).toEqual([]); // it left at once rather than timing out
    // Both partitions are committed: the one that got the records and the empty one at its start position.
    expect(after.offsets.map((o) => [o.offset, o.lag]).sort()).toEqual([[0, 0], [3, 0]]);
  });
});

describe('sluice retention run', () => {
  it('deletes the segments whose records are older than retentionMs', async () => {
    await sluice(['topics', 'create', 'cli-old', '--partitions', '1', '--config', 'segmentBytes=1024', '--config', 'retentionMs=3600000']);
    const twoHoursAgo = String(Date.now() - 2 * 3_600_000);
    // One record of more than segmentBytes per run: one batch, so each lands in a segment of its own.
    for (let round = 0; round < 3; round++) await sluice(['produce', 'cli-old', '--timestamp', twoHoursAgo], { input: `old ${round} ${'x'.repeat(1_200)}\n` });
    await sluice(['produce', 'cli-old'], { input: `fresh ${'y'.repeat(1_200)}\n` });
    expect((await json(['topics', 'describe', 'cli-old'])).partitions[0]).toMatchObject({ segments: 4, logStartOffset: 0, highWatermark: 4 });

    const run = await json<{ deletedSegments: number; freedBytes: number }>(['retention', 'run']);
    expect(run.deletedSegments).toBe(3); // the other tests' records are recent
    expect(run.freedBytes).toBeGreaterThan(3 * 1_200);
    expect((await json(['topics', 'describe', 'cli-old'])).partitions[0]).toMatchObject({ segments: 1, logStartOffset: 3, highWatermark: 4 });
    expect((await sluice(['consume', 'cli-old'])).stdout).toBe(`fresh ${'y'.repeat(1_200)}\n`);
    expect((await sluice(['retention', 'run'])).stdout).toBe('deleted 0 segment(s), freed 0 B\n');
  });
});

describe('sluice CLI failures', () => {
  it('names the URL of an unreachable broker (exit 1)', async () => {
    const port = await freePort();
    const run = await sluice(['topics', 'list', '--timeout', '300'], { env: { SLUICE_BROKER: `http://127.0.0.1:${port}` } });
    expect(run.code).toBe(1);
    // Said while retrying, then the final error.
    expect(run.stderr).toMatch(new RegExp(`^sluice: BROKER_NOT_AVAILABLE from http://127.0.0.1:${port}: .*; retrying \\(attempt 2, giving up in \\d+s, see --timeout\\)$`, 'm'));
    expect(run.stderr).toMatch(new RegExp(`^sluice: BROKER_NOT_AVAILABLE: cannot reach the broker at http://127.0.0.1:${port}/topics \\(ECONNREFUSED\\)`, 'm'));
    const produce = await sluice(['produce', 'x', '--broker', `http://127.0.0.1:${port}`, '--timeout', '300'], { input: 'a\n' });
    expect(produce).toMatchObject({ code: 1, stderr: expect.stringContaining(`http://127.0.0.1:${port}`) });
  });

  it('reports an unknown topic with its code (exit 1)', async () => {
    for (const args of [['consume', 'cli-nope'], ['produce', 'cli-nope'], ['topics', 'alter-config', 'cli-nope', 'retentionMs=1']]) {
      const run = await sluice(args, { input: 'a\n' });
      expect(run, args.join(' ')).toMatchObject({ code: 1, stdout: '', stderr: 'sluice: UNKNOWN_TOPIC: topic "cli-nope" does not exist\n' });
    }
    await sluice(['topics', 'create', 'cli-two', '--partitions', '2']);
    expect(await sluice(['consume', 'cli-two', '--partition', '2'])).toMatchObject({ code: 1, stderr: expect.stringContaining('no partition 2') });
    expect(await sluice(['consume', 'cli-two', '--partition', '0', '--from', '7'])).toMatchObject({ code: 1, stderr: expect.stringContaining('out of range') });
  });

  it('exits 2 on bad flags and arguments, with the reason', async () => {
    const cases: [string[], RegExp][] = [
      [['topics', 'create', 'x', '--partitions', '0'], /--partitions <n>' argument '0' is invalid/],
      [['topics', 'create'], /missing required argument 'name'/],
      [['topics', 'list', '--bogus'], /unknown option '--bogus'/],
      [['topics', 'lisst'], /unknown command 'lisst'/],
      [['topics'], /Usage: sluice topics/],
      [[], /Usage: sluice/],
      [['consume', 'x', '--group', 'g', '--partition', '1'], /--partition cannot be used with --group/],
      [['consume', 'x', '--from', 'yesterday'], /expected earliest, latest or an offset/],
      [['groups', 'reset-offsets', 'g', '--topic', 't'], /give exactly one of --to-earliest/],
      [['groups', 'reset-offsets', 'g', '--topic', 't', '--to-datetime', 'soon'], /ISO 8601/],
      [['produce', 'x', '--key', 'k', '--key-separator', ':'], /--key or --key-separator, not both/],
      [['topics', 'list', '--broker', 'not a url'], /--broker must be host:port \(127.0.0.1:8080, \[::1\]:8080\) or a URL/],
      [['topics', 'list', '--broker', 'ftp://x:1'], /--broker must be an http or https URL or host:port/],
      [['topics', 'list', '--broker', 'a:1,,b:2'], /must be one or more comma-separated brokers/],
      [['groups', 'reset-offsets', 'g', '--to-earliest'], /give --topic TOPIC\[:PARTITIONS\] \(repeatable\) or --all-topics/],
      [['groups', 'reset-offsets', 'g', '--topic', 't:x', '--to-earliest'], /expected partitions as numbers/],
      [['produce', 'x', '--key-separator', ':', '--on-missing-key', 'drop'], /Allowed choices are fail, skip, null/],
      [['topics', 'list', '--timeout', '-1'], /--timeout <ms>' argument '-1' is invalid/],
    ];
    for (const [args, message] of cases) {
      const run = await sluice(args);
      expect(run.code, args.join(' ')).toBe(2);
      expect(run.stderr, args.join(' ')).toMatch(message);
      expect(run.stdout).toBe('');
    }
  });
});
