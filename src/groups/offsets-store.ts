/**
 * Durable consumer-group state in the broker's own log: the internal topic `__consumer_offsets`, whose
 * partition for a group is murmur2(group) mod its partition count, so the log's recovery (and, later,
 * replication) covers commits like any other data.
 *
 * Records (keys and values are JSON, UTF-8):
 *   key {"type":"offset","group":g,"topic":t,"partition":p}  value {"offset","metadata","commitTimestamp"} | null
 *   key {"type":"group","group":g}                            value {"generation","emptySince","members"} | null
 * A null value (tombstone) deletes the key. Replaying a partition from its start and keeping the last value
 * per key gives the current state.
 *
 * Compaction in effect: when a partition has more than `maxSegments` segments, the store rolls it, writes
 * every live key of the partition again at the end (a snapshot), and deletes the segments before the
 * snapshot. A crash part-way leaves older records that the snapshot's values supersede, so the state is the
 * same either way; the log holds at most about maxSegments segments plus one copy of the live state.
 *
 * Replication (cluster mode): a write is acknowledged once the partition's high watermark passed it (every
 * in-sync replica has it, Kafka's offsets.commit.required.acks=-1), so a commit survives the loss of its
 * coordinator. A broker that becomes leader of an offsets partition calls `loadAsLeader`: it waits until its
 * high watermark reached the log end it had when elected (all it holds is committed), then replays; one that
 * stops leading calls `unload`.
 */
import { batchesOf, decodeRecords } from '../log/batch-decoder.js';
import { BrokerError } from '../common/errors.js';
import type { LogEvents } from '../log/log-config.js';
import type { Partition } from '../replication/partition.js';
import { encodeBatch, type RecordInput } from '../log/record-batch.js';
import { Serial } from '../log/serial.js';
import { partitionKey } from '../common/topic-names.js';

export const OFFSETS_TOPIC = '__consumer_offsets';

export interface CommittedOffset {
  offset: number;
  metadata: string;
  commitTimestamp: number;
}

export interface GroupRecord {
  generation: number;
  /** when the group last became empty (null while it has members) */
  emptySince: number | null;
  /** members when this was written (absent in records of older versions): how many to expect after a restart */
  members?: number;
}

export type OffsetsKey = { type: 'offset'; group: string; topic: string; partition: number } | { type: 'group'; group: string };

export interface OffsetsEntry {
  key: OffsetsKey;
  value: CommittedOffset | GroupRecord | null;
}

/** Live state of the groups that map to one offsets partition. */
interface PartitionState {
  offsets: Map<string, Map<string, CommittedOffset>>;
  groups: Map<string, GroupRecord>;
  serial: Serial;
  /** set when the partition could not be read at start-up (it is offline): its groups cannot be served */
  unavailable: BrokerError | null;
}

/** Records are packed into batches of at most this many bytes (well under the topic's maxMessageBytes). */
const MAX_BATCH_BYTES = 256 * 1024;

export class OffsetsStore {
  private readonly partitions: PartitionState[];

  /**
   * `offsetsPartition(index)` looks the partition up at each use (it throws while the partition failed to load).
   */
  constructor(
    count: number,
    private readonly offsetsPartition: (index: number) => Partition,
    private readonly clock: { now(): number },
    private readonly events: LogEvents,
    private readonly maxSegments = 8,
    /** how long a write waits for the in-sync replicas (Kafka's offsets.commit.timeout.ms) */
    private readonly commitTimeoutMs = 5_000,
  ) {
    this.partitions = Array.from({ length: count }, () => ({ offsets: new Map(), groups: new Map(), serial: new Serial(), unavailable: null }));
  }

  /** Index of the offsets partition that holds `group`. */
  partitionOf(group: string, hash: (key: Uint8Array) => number): number {
    return (hash(Buffer.from(group, 'utf8')) & 0x7fffffff) % this.partitions.length;
  }

  /**
   * Replays every offsets partition (start-up). A partition that is offline leaves its groups unavailable
   * (their requests get its storage error) and the others are served.
   */
  async load(): Promise<void> {
    for (let i = 0; i < this.partitions.length; i++) {
      const state = this.partitions[i]!;
      try {
        await this.replay(this.offsetsPartition(i), state);
      } catch (err) {
        // Offline here, or (cluster mode) held by other brokers only: the groups are served elsewhere or not at all.
        if (!(err instanceof BrokerError) || (err.code !== 'KAFKA_STORAGE_ERROR' && err.code !== 'NOT_LEADER_OR_FOLLOWER')) throw err;
        state.unavailable = err;
        state.offsets.clear();
        state.groups.clear();
        if (err.code === 'KAFKA_STORAGE_ERROR') this.events.error({ partition: `${OFFSETS_TOPIC}-${i}`, err }, 'the groups of an offline offsets partition are unavailable');
      }
    }
  }

  /** The error to answer for the groups of partition `index`, or null when they can be served. */
  unavailable(index: number): BrokerError | null {
    return this.partitions[index]!.unavailable;
  }

  /**
   * This broker now leads offsets partition `index`: once its high watermark reached the log end it has now
   * (its followers fetched under the new epoch; REQUEST_TIMED_OUT after `timeoutMs`), the state is rebuilt
   * from the log. Writes to the partition queue behind it.
   */
  loadAsLeader(index: number, timeoutMs = this.commitTimeoutMs): Promise<void> {
    const state = this.partitions[index]!;
    return state.serial.run(async () => {
      const partition = this.offsetsPartition(index);
      await partition.awaitHighWatermark(partition.logEndOffset, timeoutMs);
      state.offsets.clear();
      state.groups.clear();
      state.unavailable = null;
      await this.replay(partition, state);
    });
  }

  /** This broker no longer leads offsets partition `index`: its groups' state is another broker's now. */
  unload(index: number): void {
    const state = this.partitions[index]!;
    state.offsets.clear();
    state.groups.clear();
  }

  /** Replays what is committed (below the high watermark; on a single node all of the log). */
  private async replay(partition: Partition, state: PartitionState): Promise<void> {
    for (let offset = partition.logStartOffset; offset < partition.highWatermark; ) {
      const { bytes, nextOffset } = await partition.read(offset, 1 << 20);
      if (nextOffset === offset) break;
      for (const batch of batchesOf(bytes)) {
        for (const r of decodeRecords(batch.bytes, batch.header)) {
          if (r.offset >= offset && r.key) apply(state, JSON.parse(r.key.toString('utf8')) as OffsetsKey, r.value === null ? null : JSON.parse(r.value.toString('utf8')));
        }
      }
      offset = nextOffset;
    }
  }

  groupsOf(): string[] {
    const all = new Set<string>();
    for (const p of this.partitions) {
      for (const g of p.offsets.keys()) all.add(g);
      for (const g of p.groups.keys()) all.add(g);
    }
    return [...all].sort();
  }

  /** Every (index, group, topic, partition) with a committed offset for `topic`. */
  offsetsOfTopic(topic: string): { index: number; group: string; partition: number }[] {
    const out: { index: number; group: string; partition: number }[] = [];
    this.partitions.forEach((state, index) => {
      for (const [group, offsets] of state.offsets) {
        for (const key of offsets.keys()) {
          const [t, partition] = splitKey(key);
          if (t === topic) out.push({ index, group, partition });
        }
      }
    });
    return out;
  }

  offsets(index: number, group: string): Map<string, CommittedOffset> {
    return this.partitions[index]!.offsets.get(group) ?? new Map();
  }

  groupRecord(index: number, group: string): GroupRecord | undefined {
    return this.partitions[index]!.groups.get(group);
  }

  /**
   * Appends the entries atomically (one append request, however many batches) durably under the broker's
   * fsync policy, then applies them. Compaction, when due, runs afterwards; its failure is logged and retried
   * at the next write, never reported as a failure of this write, which is stored already.
   */
  write(index: number, entries: OffsetsEntry[]): Promise<void> {
    const state = this.partitions[index]!;
    if (state.unavailable) return Promise.reject(state.unavailable);
    return state.serial.run(async () => {
      await this.append(index, entries);
      for (const { key, value } of entries) apply(state, key, value);
      if (this.offsetsPartition(index).segmentCount > this.maxSegments) {
        await this.compact(index).catch((err) => this.events.error({ partition: index, err }, `compacting ${OFFSETS_TOPIC} failed; will retry`));
      }
    });
  }

  private async append(index: number, entries: OffsetsEntry[]): Promise<void> {
    if (entries.length === 0) return;
    const partition = this.offsetsPartition(index);
    const now = this.clock.now();
    const batches: Buffer[] = [];
    let records: RecordInput[] = [];
    let bytes = 0;
    for (const { key, value } of entries) {
      const record = { key: Buffer.from(JSON.stringify(key)), value: value === null ? null : Buffer.from(JSON.stringify(value)), timestamp: now };
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
    const { batches: appended, leaderEpoch } = await partition.appendAsLeader(Buffer.concat(batches), { trusted: true });
    // Acknowledged by every in-sync replica (at once on a single node, where the ISR is this broker).
    await partition.awaitHighWatermark(Math.max(...appended.map((b) => b.lastOffset)) + 1, this.commitTimeoutMs, leaderEpoch);
  }

  /** Rewrites the live state at the log end and drops the segments before it. */
  private async compact(index: number): Promise<void> {
    const partition = this.offsetsPartition(index);
    const state = this.partitions[index]!;
    await partition.roll();
    const start = partition.logEndOffset;
    const live: OffsetsEntry[] = [];
    for (const [group, offsets] of state.offsets) {
      for (const [tp, value] of offsets) {
        const [topic, partition] = splitKey(tp);
        live.push({ key: { type: 'offset', group, topic, partition }, value });
      }
    }
    for (const [group, value] of state.groups) live.push({ key: { type: 'group', group }, value });
    await this.append(index, live);
    // The snapshot must be on disk before the records it replaces go, whatever the fsync policy.
    await partition.flush();
    await partition.deleteSegmentsBefore(start);
  }
}


/** The inverse of partitionKey. */
export function splitKey(key: string): [string, number] {
  const at = key.lastIndexOf('\u0000');
  return [key.slice(0, at), Number(key.slice(at + 1))];
}

function apply(state: PartitionState, key: OffsetsKey, value: unknown): void {
  if (key.type === 'group') {
    if (value === null) {
      state.groups.delete(key.group);
      state.offsets.delete(key.group);
    } else state.groups.set(key.group, value as GroupRecord);
    return;
  }
  if (key.type !== 'offset') throw new BrokerError('KAFKA_STORAGE_ERROR', `unknown record in ${OFFSETS_TOPIC}: ${JSON.stringify(key)}`);
  let offsets = state.offsets.get(key.group);
  if (value === null) {
    offsets?.delete(partitionKey(key.topic, key.partition));
    if (offsets?.size === 0) state.offsets.delete(key.group);
    return;
  }
  if (!offsets) state.offsets.set(key.group, (offsets = new Map()));
  offsets.set(partitionKey(key.topic, key.partition), value as CommittedOffset);
}
