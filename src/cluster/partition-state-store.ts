/**
 * The partition records of the cluster (`partitions/<topic>/<partition>`: PartitionState, see
 * partition-state.ts) as every broker sees them: a WatchedPrefix of `partitions/` gives reads from memory
 * and a 'change' event per record, which is how a broker learns that it leads or follows a partition.
 *
 * Writes are compare-and-swap only: every write names the mod revision of the record it was computed from
 * (`get().modRevision`; 0 to create), and etcd refuses it if the record moved on since, so a stale
 * controller or leader can never overwrite newer state. A refused write returns `{written: false}` with
 * the current record; the writer re-reads and decides again. The controller adds its fence
 * (ControllerElection.ownership.fence), so a deposed controller's writes are refused even when based on the
 * latest revision. Every record written is checked against the invariants first (a bug, not a conflict).
 *
 * Invariants: the cache holds only records that pass `partitionStateProblem` (others are reported and
 * skipped); `modRevision` of a record only grows; a successful write is in this store's cache when the
 * write resolves.
 */
import { EventEmitter } from 'node:events';
import { BrokerError } from '../common/errors.js';
import { etcdError, type EtcdConnection } from './etcd-client.js';
import { casPutAll, decodeValue, MAX_KEYS_PER_TXN, type Fence, type WriteResult } from './etcd-writes.js';
import { partitionKey, PARTITIONS_PREFIX, partitionsOfTopicPrefix, topicPartitionOf } from './keys.js';
import { partitionStateProblem, type PartitionState } from './partition-state.js';
import { WatchedPrefix } from './watched-prefix.js';

export interface VersionedPartitionState {
  state: PartitionState;
  /** what a write based on this record must name */
  modRevision: number;
}

export interface PartitionStateChange {
  topic: string;
  partition: number;
  /** undefined: the record was deleted */
  current: VersionedPartitionState | undefined;
  previous: VersionedPartitionState | undefined;
}

export interface PartitionStateStoreOptions {
  /** how long a write retries while etcd is unreachable before BROKER_NOT_AVAILABLE (default 10,000 ms) */
  writeTimeoutMs?: number;
  onProblem?: (message: string, err: unknown) => void;
}

export class PartitionStateStore extends EventEmitter<{ change: [PartitionStateChange] }> {
  private readonly writeTimeoutMs: number;
  private readonly onProblem: (message: string, err: unknown) => void;
  /** the cache's valid records, parsed once, by topic and partition */
  private readonly parsed = new Map<string, Map<number, VersionedPartitionState>>();

  private constructor(
    private readonly etcd: EtcdConnection,
    private readonly records: WatchedPrefix,
    options: PartitionStateStoreOptions,
  ) {
    super();
    this.writeTimeoutMs = options.writeTimeoutMs ?? 10_000;
    this.onProblem = options.onProblem ?? (() => undefined);
    for (const [key, entry] of records.all()) this.update(key, entry.value, entry.modRevision);
    records.on('change', ({ key, entry }) => {
      const tp = topicPartitionOf(key);
      if (!tp) return;
      const previous = this.get(tp.topic, tp.partition);
      const current = this.update(key, entry?.value, entry?.modRevision ?? 0);
      if (current !== previous) this.emit('change', { ...tp, current, previous });
    });
  }

  static async open(etcd: EtcdConnection, options: PartitionStateStoreOptions = {}): Promise<PartitionStateStore> {
    try {
      return new PartitionStateStore(etcd, await WatchedPrefix.open(etcd.cluster, PARTITIONS_PREFIX, options.onProblem), options);
    } catch (err) {
      throw etcdError('reading the partition states', err);
    }
  }

  get(topic: string, partition: number): VersionedPartitionState | undefined {
    return this.parsed.get(topic)?.get(partition);
  }

  /** Every record of a topic, by partition (a copy). */
  partitionsOf(topic: string): Map<number, VersionedPartitionState> {
    return new Map(this.parsed.get(topic));
  }

  /** The topics that have records. */
  topicNames(): string[] {
    return [...this.parsed.keys()];
  }

  /** false while the watch is cut off from etcd: the records may be stale */
  get connected(): boolean {
    return this.records.connected;
  }

  /**
   * Writes one record if it still has `basedOnModRevision` (0: creates it) and the fences hold. Resolves
   * `{written: false}` when refused (stale or fenced), BROKER_NOT_AVAILABLE when etcd stays unreachable.
   */
  write(topic: string, partition: number, state: PartitionState, basedOnModRevision: number, fences: Fence[] = []): Promise<WriteResult> {
    return this.writeAll([{ topic, partition, state, basedOnModRevision }], fences);
  }

  /**
   * Several records in one transaction, all or none (at most MAX_KEYS_PER_TXN): a topic's partitions are
   * created in chunks of this size.
   */
  async writeAll(records: { topic: string; partition: number; state: PartitionState; basedOnModRevision: number }[], fences: Fence[] = []): Promise<WriteResult> {
    for (const r of records) {
      const problem = partitionStateProblem(r.state);
      if (problem) throw new BrokerError('UNKNOWN_SERVER_ERROR', `refusing to write a broken record for ${r.topic}-${r.partition}: ${problem}`, { details: { state: r.state } });
    }
    const writes = records.map((r) => ({ key: partitionKey(r.topic, r.partition), expectedModRevision: r.basedOnModRevision, value: r.state }));
    const what = records.length === 1 ? `writing the state of partition ${records[0]!.topic}-${records[0]!.partition}` : `writing ${records.length} partition states`;
    const result = await casPutAll(this.etcd.cluster, writes, { what, timeoutMs: this.writeTimeoutMs, fences });
    await this.records.waitForRevision(result.written ? result.revision : (result.reason === 'stale' ? (result.current?.modRevision ?? 0) : 0), this.writeTimeoutMs).catch((err: unknown) => {
      this.onProblem('a partition state write is in etcd but not yet in the watched cache', err);
    });
    return result;
  }

  /** Deletes every record of a topic (after the topic itself is gone), fenced like a write. */
  async deleteTopic(topic: string, fences: Fence[] = []): Promise<void> {
    const prefix = partitionsOfTopicPrefix(topic);
    try {
      const [first, ...more] = fences;
      if (first === undefined) {
        await this.etcd.cluster.delete().prefix(prefix).exec();
        return;
      }
      let txn = this.etcd.cluster.if(first.key, 'Create', '==', first.createRevision);
      for (const fence of more) txn = txn.and(fence.key, 'Create', '==', fence.createRevision);
      const result = await txn.then(this.etcd.cluster.delete().prefix(prefix)).commit();
      if (!result.succeeded) throw new BrokerError('BROKER_NOT_AVAILABLE', `deleting the partition states of ${topic} failed: fenced off`);
    } catch (err) {
      throw etcdError(`deleting the partition states of ${topic}`, err);
    }
  }

  async close(): Promise<void> {
    await this.records.close();
  }

  /** Parses a record into the map (undefined value: deleted); returns what the map now holds. */
  private update(key: string, value: string | undefined, modRevision: number): VersionedPartitionState | undefined {
    const tp = topicPartitionOf(key);
    if (tp === null) return undefined;
    const ofTopic = this.parsed.get(tp.topic);
    ofTopic?.delete(tp.partition);
    if (ofTopic?.size === 0) this.parsed.delete(tp.topic);
    if (value === undefined) return undefined;
    try {
      const state = decodeValue<PartitionState>(value);
      const problem = partitionStateProblem(state);
      if (problem) throw new Error(problem);
      const record = { state, modRevision };
      if (!this.parsed.has(tp.topic)) this.parsed.set(tp.topic, new Map());
      this.parsed.get(tp.topic)!.set(tp.partition, record);
      return record;
    } catch (err) {
      this.onProblem(`unreadable partition state ${PARTITIONS_PREFIX}${key} skipped`, err);
      return undefined;
    }
  }
}

export { MAX_KEYS_PER_TXN };
