/**
 * Durable share-group state in the broker's own log: the internal topic `__share_group_state` (Kafka has
 * one of the same name). A share-partition's records live in the state partition murmur2(topic \0 partition)
 * mod the partition count, so all the share groups of one data partition sit together and can be loaded and
 * unloaded with it when its leadership moves; a group's config lives in murmur2(group) mod the count.
 *
 * Records (keys and values are JSON, UTF-8), an event log replayed in order:
 *   {"t":"secret"}                          {"key": hex}                     the HMAC key of receipts (one per state partition)
 *   {"t":"group","g"}                       config | null                    null: the group is deleted (its share-partitions too)
 *   {"t":"sp","g","topic","p"}              {"start", "done": [[offset, "a"|"x", deliveryCount]], "snapshot"?} | null
 * An "sp" record moves the start to at least `start` and marks the listed offsets accepted ("a") or archived
 * ("x"); with `snapshot` it replaces what was known; null forgets the share-partition.
 *
 * Compaction: when a state partition has more than `maxSegments` segments, the store rolls it, writes the
 * secret, the configs and one snapshot per share-partition at the end, flushes, and deletes the segments
 * before. A crash part-way leaves older records that the snapshots supersede (a start never moves back,
 * done never becomes undone), so the state is the same either way.
 */
import { randomBytes } from 'node:crypto';
import { batchesOf, decodeRecords } from '../log/batch-decoder.js';
import { BrokerError } from '../common/errors.js';
import type { LogEvents } from '../log/log-config.js';
import type { Partition } from '../replication/partition.js';
import { encodeBatch, isControlBatch, type RecordInput } from '../log/record-batch.js';
import { Serial } from '../log/serial.js';
import { partitionKey } from '../common/topic-names.js';
import type { ShareGroupConfig } from './share-group-config.js';

export const SHARE_STATE_TOPIC = '__share_group_state';

export type DoneState = { state: 'accepted' | 'archived'; deliveryCount: number };

/** What is durable of one share-partition. */
export interface DurableSharePartition {
  start: number;
  done: Map<number, DoneState>;
}

export type StateEntry =
  | { key: { t: 'secret' }; value: { key: string } }
  | { key: { t: 'group'; g: string }; value: ShareGroupConfig | null }
  | { key: { t: 'sp'; g: string; topic: string; p: number }; value: { start: number; done: [number, 'a' | 'x', number][]; snapshot?: true } | null };

interface StatePartition {
  secret: string | null;
  configs: Map<string, ShareGroupConfig>;
  /** group -> partitionKey(topic, p) -> state */
  states: Map<string, Map<string, DurableSharePartition>>;
  serial: Serial;
}

const MAX_BATCH_BYTES = 256 * 1024;

export class ShareStateStore {
  private readonly partitions: StatePartition[];
  /** indexOfPartition, remembered (it runs for every receipt) */
  private readonly indexes = new Map<string, number>();

  constructor(
    count: number,
    private readonly statePartition: (index: number) => Partition,
    private readonly hash: (key: Uint8Array) => number,
    private readonly clock: { now(): number },
    private readonly events: LogEvents,
    private readonly maxSegments = 8,
  ) {
    this.partitions = Array.from({ length: count }, () => ({ secret: null, configs: new Map(), states: new Map(), serial: new Serial() }));
  }

  indexOfPartition(topic: string, partition: number): number {
    const key = partitionKey(topic, partition);
    let index = this.indexes.get(key);
    if (index === undefined) {
      index = (this.hash(Buffer.from(key, 'utf8')) & 0x7fffffff) % this.partitions.length;
      if (this.indexes.size > 100_000) this.indexes.clear();
      this.indexes.set(key, index);
    }
    return index;
  }

  indexOfGroup(group: string): number {
    return (this.hash(Buffer.from(group, 'utf8')) & 0x7fffffff) % this.partitions.length;
  }

  /** Replays every state partition and makes sure each has a receipt secret (start-up). */
  /**
   * Replays every state partition this broker holds. In cluster mode a broker holds only some of them
   * (NOT_LEADER_OR_FOLLOWER for the rest): those are skipped, and their share groups are served by the brokers
   * that hold them (share groups follow their state partition's placement; moving with leadership is not built).
   */
  async load(): Promise<void> {
    for (let i = 0; i < this.partitions.length; i++) {
      try {
        await this.loadPartition(i);
      } catch (err) {
        if ((err as { code?: unknown }).code !== 'NOT_LEADER_OR_FOLLOWER') throw err;
        this.events.info({ statePartition: i }, 'share-group state partition held by other brokers: not loaded here');
      }
    }
  }

  /** Replays one state partition from its log (what a new leader of it does). */
  async loadPartition(index: number): Promise<void> {
    const state = this.partitions[index]!;
    state.secret = null;
    state.configs.clear();
    state.states.clear();
    const partition = this.statePartition(index);
    for (let offset = partition.logStartOffset; offset < partition.highWatermark; ) {
      const { bytes, nextOffset } = await partition.read(offset, 1 << 20);
      if (nextOffset === offset) break;
      for (const batch of batchesOf(bytes)) {
        if (isControlBatch(batch.header)) continue;
        for (const r of decodeRecords(batch.bytes, batch.header)) {
          if (r.offset >= offset && r.key) apply(state, JSON.parse(r.key.toString('utf8')), r.value === null ? null : JSON.parse(r.value.toString('utf8')));
        }
      }
      offset = nextOffset;
    }
    if (!state.secret) await this.write(index, [{ key: { t: 'secret' }, value: { key: randomBytes(32).toString('hex') } }]);
  }

  /** The receipt secret of a state partition, as hex text. */
  secretOf(index: number): string {
    const secret = this.partitions[index]!.secret;
    if (!secret) throw new BrokerError('KAFKA_STORAGE_ERROR', `share-group state partition ${index} is not loaded`);
    return secret;
  }

  configs(): Map<string, ShareGroupConfig> {
    const all = new Map<string, ShareGroupConfig>();
    for (const p of this.partitions) for (const [g, c] of p.configs) all.set(g, c);
    return all;
  }

  /** Every stored share-partition as [group, topic, partition]. */
  sharePartitions(): [string, string, number][] {
    const out: [string, string, number][] = [];
    for (const p of this.partitions) {
      for (const [g, byPartition] of p.states) {
        for (const key of byPartition.keys()) {
          const at = key.lastIndexOf('\u0000');
          out.push([g, key.slice(0, at), Number(key.slice(at + 1))]);
        }
      }
    }
    return out;
  }

  durableState(group: string, topic: string, partition: number): DurableSharePartition | undefined {
    return this.partitions[this.indexOfPartition(topic, partition)]!.states.get(group)?.get(partitionKey(topic, partition));
  }

  /**
   * Appends the entries (one append, however many batches) durably under the broker's fsync policy, then
   * applies them. Compaction, when due, runs afterwards; its failure is logged and retried at the next write.
   */
  write(index: number, entries: StateEntry[]): Promise<void> {
    const state = this.partitions[index]!;
    return state.serial.run(async () => {
      await this.append(index, entries);
      for (const { key, value } of entries) apply(state, key, value);
      if (this.statePartition(index).segmentCount > this.maxSegments) {
        await this.compact(index).catch((err) => this.events.error({ partition: index, err }, `compacting ${SHARE_STATE_TOPIC} failed; will retry`));
      }
    });
  }

  private async append(index: number, entries: StateEntry[]): Promise<void> {
    if (entries.length === 0) return;
    const now = this.clock.now();
    const batches: Buffer[] = [];
    let records: RecordInput[] = [];
    let bytes = 0;
    for (const { key, value } of entries) {
      const record = { key: JSON.stringify(key), value: value === null ? null : JSON.stringify(value), timestamp: now };
      const size = record.key.length + (record.value?.length ?? 0) + 32;
      if (records.length > 0 && bytes + size > MAX_BATCH_BYTES) {
        batches.push(encodeBatch({ records }));
        records = [];
        bytes = 0;
      }
      records.push(record);
      bytes += size;
    }
    batches.push(encodeBatch({ records }));
    await this.statePartition(index).appendAsLeader(batches.length === 1 ? batches[0]! : Buffer.concat(batches), { trusted: true });
  }

  /** Rewrites the live state at the log end and drops the segments before it. */
  private async compact(index: number): Promise<void> {
    const partition = this.statePartition(index);
    const state = this.partitions[index]!;
    await partition.roll();
    const start = partition.logEndOffset;
    const live: StateEntry[] = [];
    if (state.secret) live.push({ key: { t: 'secret' }, value: { key: state.secret } });
    for (const [g, config] of state.configs) live.push({ key: { t: 'group', g }, value: config });
    for (const [g, byPartition] of state.states) {
      for (const [key, sp] of byPartition) {
        const at = key.lastIndexOf('\u0000');
        live.push({ key: { t: 'sp', g, topic: key.slice(0, at), p: Number(key.slice(at + 1)) }, value: { start: sp.start, done: doneList(sp.done), snapshot: true } });
      }
    }
    await this.append(index, live);
    // The snapshot must be on disk before the records it replaces go, whatever the fsync policy.
    await partition.flush();
    await partition.deleteSegmentsBefore(start);
  }
}

export function doneList(done: Iterable<[number, DoneState]>): [number, 'a' | 'x', number][] {
  const out: [number, 'a' | 'x', number][] = [];
  for (const [offset, d] of done) out.push([offset, d.state === 'accepted' ? 'a' : 'x', d.deliveryCount]);
  return out;
}

function apply(state: StatePartition, key: StateEntry['key'], value: unknown): void {
  switch (key.t) {
    case 'secret':
      state.secret = (value as { key: string }).key;
      return;
    case 'group':
      if (value === null) {
        state.configs.delete(key.g);
        state.states.delete(key.g);
      } else state.configs.set(key.g, value as ShareGroupConfig);
      return;
    case 'sp': {
      const tp = partitionKey(key.topic, key.p);
      let byPartition = state.states.get(key.g);
      if (value === null) {
        byPartition?.delete(tp);
        return;
      }
      if (!byPartition) state.states.set(key.g, (byPartition = new Map()));
      const v = value as { start: number; done: [number, 'a' | 'x', number][]; snapshot?: true };
      let sp = byPartition.get(tp);
      if (!sp || v.snapshot) byPartition.set(tp, (sp = { start: v.start, done: new Map() }));
      if (v.start > sp.start) {
        sp.start = v.start;
        for (const offset of sp.done.keys()) if (offset < sp.start) sp.done.delete(offset);
      }
      for (const [offset, code, deliveryCount] of v.done) {
        if (offset >= sp.start) sp.done.set(offset, { state: code === 'a' ? 'accepted' : 'archived', deliveryCount });
      }
      return;
    }
    default:
      throw new BrokerError('KAFKA_STORAGE_ERROR', `unknown record in ${SHARE_STATE_TOPIC}: ${JSON.stringify(key)}`);
  }
}
