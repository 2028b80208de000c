/**
 * A small history check (in the spirit of Jepsen) over leader changes: producers write with acks=all to
 * whichever broker the record names as leader while the test moves leadership around (clean elections, a
 * stopped leader, a leader cut off from the news); afterwards every acknowledged record is in the final log
 * at the offset it was acknowledged with, nothing above the high watermark was ever read, and all replicas
 * hold the same bytes.
 */
import { afterEach, expect, it } from 'vitest';
import { batchesOf, decodeRecords } from '../../src/log/batch-decoder.js';
import type { Partition } from '../../src/replication/partition.js';
import { logBytes, ReplicaSet } from '../helpers/replica-set.js';
import { useTempDirs } from '../helpers/temp-dir.js';
import { waitFor } from '../helpers/wait-for.js';

const tempDir = useTempDirs();
let set: ReplicaSet | null = null;
afterEach(async () => {
  await set?.close();
  set = null;
});

async function committedRecords(p: Partition): Promise<Map<number, string>> {
  const out = new Map<number, string>();
  for (let offset = p.logStartOffset; offset < p.highWatermark; ) {
    const { bytes, nextOffset } = await p.read(offset, 1 << 20);
    if (nextOffset === offset) break;
    for (const b of batchesOf(bytes)) for (const r of decodeRecords(b.bytes, b.header)) if (r.offset >= offset) out.set(r.offset, r.value!.toString());
    offset = nextOffset;
  }
  return out;
}

it('no acknowledged record is lost or moved across leader changes, and the replicas converge', async () => {
  const s = (set = await ReplicaSet.start([tempDir(), tempDir(), tempDir()], { replicaLagTimeMaxMs: 500 }));
  await s.createTopic('history', { config: { minInsyncReplicas: 2, segmentBytes: 4_096 } });
  const acknowledged = new Map<string, number>();
  let stop = false;
  // Each producer keeps sending to the leader it knows and looks the record up again only after a failure, as a
  // client with cached metadata does, so a deposed leader that did not hear of it still gets writes.
  const producer = async (name: string) => {
    let leader = s.records.get('history-0')!.leader!;
    for (let i = 0; !stop; i++) {
      const value = `${name}-${i}`;
      const broker = s.members[leader]!.broker;
      let ok = false;
      if (broker) {
        try {
          const response = await fetch(`${broker.url}/topics/history/records`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ records: [{ value, partition: 0 }], acks: 'all', timeoutMs: 300 }),
          });
          const body = (await response.json()) as any;
          if (response.status === 200) {
            acknowledged.set(value, body.offsets[0].offset);
            ok = true;
          }
        } catch {
          // the broker went away mid-request: not acknowledged
        }
      }
      if (!ok) {
        leader = s.records.get('history-0')!.leader!;
        await new Promise((r) => setTimeout(r, 10));
      }
    }
  };
  const producers = ['p0', 'p1', 'p2', 'p3'].map(producer);
  const progress = async (n: number) => {
    const target = acknowledged.size + n;
    await waitFor(() => acknowledged.size >= target, 10_000, `${n} more acknowledgements`);
  };
  /** A controller elects only from the ISR (no unclean election); `tell`: who hears of it. */
  const elect = (leader: number, tell?: number[]) => {
    const record = s.records.get('history-0')!;
    expect(record.isr).toContain(leader);
    s.elect('history', 0, leader, record.isr.filter((id) => s.members[id]!.broker !== null), tell);
  };
  await progress(50);
  elect(1); // a clean election: everyone hears of it
  await progress(50);
  elect(2, [0, 2]); // broker 1 is deposed without hearing of it: a zombie leader that still gets writes
  await progress(50);
  s.applyRoles('history', 0, 1); // it hears at last: follows broker 2, truncating what it had alone
  await waitFor(() => s.records.get('history-0')!.isr.length === 3, 10_000, 'broker 1 back in the ISR');
  await progress(50);
  await s.stopMember(2); // the leader dies; another ISR member is elected
  elect(s.records.get('history-0')!.isr.find((id) => id !== 2)!);
  await progress(50);
  await s.startMember(2);
  s.applyRoles('history', 0, 2);
  await progress(50);
  stop = true;
  await Promise.all(producers);

  const leader = s.partition(s.records.get('history-0')!.leader!, 'history');
  const others = [0, 1, 2].filter((id) => s.partition(id, 'history') !== leader);
  await waitFor(() => others.every((id) => s.partition(id, 'history').logEndOffset === leader.logEndOffset && s.partition(id, 'history').highWatermark === leader.highWatermark), 10_000, 'replicas converged');
  const committed = await committedRecords(leader);
  const missing = [...acknowledged].filter(([value, offset]) => committed.get(offset) !== value);
  expect(missing).toEqual([]);
  expect(acknowledged.size).toBeGreaterThanOrEqual(300);
  for (const id of others) expect((await logBytes(s.partition(id, 'history'))).equals(await logBytes(leader))).toBe(true);
}, 60_000);
