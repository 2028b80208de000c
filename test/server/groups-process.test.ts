/**
 * End to end with the real broker process: a group of consumers processes 100,000 records while members
 * come and go and the broker is SIGKILLed and restarted. Afterwards every record was processed at least once
 * and the committed offsets, watched all along, never went backwards.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { BrokerProcess, freePort, postJson } from '../helpers/broker-process.js';
import { useTempDirs } from '../helpers/temp-dir.js';

const tempDir = useTempDirs();
const running: BrokerProcess[] = [];
afterEach(async () => {
  for (const b of running.splice(0)) await b.stop('SIGKILL');
});

const PARTITIONS = 8;
const TOTAL = 100_000;

describe('consumer group against the broker process', () => {
  it(`processes ${TOTAL} records at least once through membership changes and a SIGKILL`, async () => {
    const dataDir = tempDir();
    const port = await freePort();
    let broker = new BrokerProcess(dataDir, port);
    running.push(broker);
    await broker.start();
    await postJson(`${broker.url}/topics`, { name: 'jobs', partitions: PARTITIONS });
    for (let sent = 0; sent < TOTAL; sent += 1000) {
      const r = await postJson(`${broker.url}/topics/jobs/records`, { records: Array.from({ length: 1000 }, (_, i) => ({ value: `v${sent + i}`, partition: (sent + i) % PARTITIONS })) });
      expect(r.status).toBe(200);
    }
    const perPartition = TOTAL / PARTITIONS;
    const processed = Array.from({ length: PARTITIONS }, () => new Uint8Array(perPartition));
    let stop = false;
    let restarting: Promise<void> | null = null;

    const request = async (method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> => {
      for (;;) {
        if (restarting) await restarting;
        try {
          const response = await fetch(`${broker.url}${path}`, {
            method,
            ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
          });
          return { status: response.status, json: response.status === 204 ? null : await response.json() };
        } catch {
          await new Promise((r) => setTimeout(r, 50));
        }
      }
    };

    const consumer = async (lifetimeMs: number) => {
      const until = Date.now() + lifetimeMs;
      let member: { memberId: string; generation: number; revoke?: unknown[] } | null = null;
      while (!stop && Date.now() < until) {
        if (!member) {
          const joined = await request('POST', '/groups/workers/members', { topics: ['jobs'], sessionTimeoutMs: 3000 });
          if (joined.status !== 201) continue;
          member = joined.json;
        }
        // Revoke before assign: what the last heartbeat asked to give up was finished and committed below
        // (or not started), so it is released now; the broker then gives it to its new owner.
        const beat = await request('POST', `/groups/workers/members/${member!.memberId}/heartbeat`, { released: member!.revoke ?? [] });
        if (beat.status !== 200) {
          member = null;
          continue;
        }
        member!.generation = beat.json.generation;
        member!.revoke = beat.json.revoke;
        const committed = await request('GET', '/groups/workers/offsets');
        const from = new Map<number, number>((committed.json.offsets ?? []).map((o: { partition: number; offset: number }) => [o.partition, o.offset]));
        for (const { partition } of beat.json.assignments as { partition: number }[]) {
          const offset = from.get(partition) ?? 0;
          if (offset >= perPartition) continue;
          const fetched = await request('GET', `/topics/jobs/partitions/${partition}/records?offset=${offset}&maxRecords=250`);
          if (fetched.status !== 200) continue;
          for (const r of fetched.json.records as { offset: number }[]) processed[partition]![r.offset] = 1;
          await new Promise((r) => setTimeout(r, 5)); // processing takes a while: the kill lands mid-way
          const commit = await request('POST', '/groups/workers/offsets', {
            memberId: member!.memberId,
            generation: member!.generation,
            offsets: [{ topic: 'jobs', partition, offset: fetched.json.nextOffset }],
          });
          if (commit.status === 404) member = null;
          if (commit.status !== 200) break;
        }
      }
      if (member) await request('DELETE', `/groups/workers/members/${member.memberId}`);
    };

    // Watch the committed offsets: they must never go backwards.
    const seen = new Map<number, number>();
    let backwards = 0;
    const watcher = (async () => {
      while (!stop) {
        const r = await request('GET', '/groups/workers/offsets');
        for (const o of (r.json?.offsets ?? []) as { partition: number; offset: number }[]) {
          if (o.offset < (seen.get(o.partition) ?? 0)) backwards++;
          seen.set(o.partition, Math.max(o.offset, seen.get(o.partition) ?? 0));
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    })();

    // Done when every record was processed and every partition's commit reached the end: a commit refused at
    // the last moment (a rebalance) is made again by whoever owns the partition next.
    const done = () => processed.every((p) => p.every((x) => x === 1)) && processed.every((_, partition) => seen.get(partition) === perPartition);
    const members = [consumer(60_000), consumer(60_000), consumer(800)];
    await new Promise((r) => setTimeout(r, 400));
    members.push(consumer(60_000));
    const count = () => processed.reduce((n, p) => n + p.reduce((a, b) => a + b, 0), 0);
    // Kill the broker once a fifth of the records are processed: in the middle of the work.
    while (count() < TOTAL / 5) await new Promise((r) => setTimeout(r, 5));
    const processedAtKill = count();
    restarting = (async () => {
      await broker.stop('SIGKILL');
      broker = new BrokerProcess(dataDir, port);
      running.push(broker);
      await broker.start();
    })();
    await restarting;
    restarting = null;
    const deadline = Date.now() + 60_000;
    while (!done() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    stop = true;
    await Promise.all([...members, watcher]);

    expect(processedAtKill, 'records processed when the broker was killed').toBeLessThan(TOTAL);
    expect(count(), 'records processed in the end').toBe(TOTAL);
    expect(backwards, 'observed commits that went backwards').toBe(0);
    const final = await request('GET', '/groups/workers/offsets');
    expect(final.json.offsets.map((o: { offset: number }) => o.offset)).toEqual(Array(PARTITIONS).fill(perPartition));
  }, 150_000);
});
