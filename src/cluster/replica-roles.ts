/**
 * Every broker acts on the controller's partition records by itself (Kafka's LeaderAndIsr handling, driven
 * by the etcd watch instead of a request): for each record that names this broker as a replica it creates
 * the local log if missing and applies the record with `Partition.makeLeader` / `makeFollower` (stale
 * epochs are ignored by the partition); when a topic is deleted it deletes its local logs.
 *
 * The replication work plugs in through `ReplicationHooks` (the seam for src/replication's fetchers):
 * "this broker now leads P at epoch E", "this broker now follows leader L at URL U", "P is gone from this
 * broker". Hooks are called once per change of leader or epoch, after the partition has its new role.
 *
 * While this broker's registration is lost (lease expired: a long pause, a network cut, etcd down for
 * 2 x TTL) it stops acting as leader: every partition it leads is made a follower of nobody at the same
 * epoch, so appends are refused (503 NOT_LEADER_OR_FOLLOWER) while reads go on. Once registered again the
 * records are applied afresh; by then the controller may have moved leadership away (a higher epoch).
 *
 * Invariants: records are applied one at a time (one serial queue per broker); a Partition object never
 * serves as leader before its record said so (`partitionOpened` gives a new object its role at once).
 */
import type { LogEvents } from '../log/log-config.js';
import { Serial } from '../log/serial.js';
import type { Partition, PartitionRole } from '../replication/partition.js';
import type { TopicManager } from '../topics/topic-manager.js';
import type { BrokerRegistry } from './broker-registry.js';
import type { EtcdMetadataStore } from './etcd-metadata-store.js';
import type { PartitionState } from './partition-state.js';
import type { PartitionStateStore } from './partition-state-store.js';

/** Where replication plugs in (follower fetchers, ISR tracking). All optional. */
export interface ReplicationHooks {
  /** this broker leads the partition from `record.leaderEpoch` on (called after Partition.makeLeader) */
  becameLeader?(partition: Partition, record: PartitionState): void;
  /** this broker follows `leader` (null: no leader now) at `record.leaderEpoch` (after Partition.makeFollower) */
  becameFollower?(partition: Partition, record: PartitionState, leader: { brokerId: number; url: string } | null): void;
  /** this broker no longer holds the partition (its topic was deleted); its log is gone */
  removed?(topic: string, partition: number): void;
}

export class ReplicaRoles {
  private readonly queue = new Serial();
  private readonly unsubscribe: (() => void)[] = [];
  /** leader and epoch last announced to the hooks, by partition name */
  private readonly announced = new Map<string, string>();
  private closed = false;

  constructor(
    private readonly brokerId: number,
    private readonly topics: TopicManager,
    private readonly states: PartitionStateStore,
    private readonly store: EtcdMetadataStore,
    private readonly registry: BrokerRegistry,
    private readonly hooks: ReplicationHooks,
    private readonly events: LogEvents,
  ) {}

  /** Applies every record once, then follows changes. */
  async start(): Promise<void> {
    const onRecord = ({ topic, partition }: { topic: string; partition: number }) => void this.enqueue(topic, partition);
    this.states.on('change', onRecord);
    this.unsubscribe.push(() => this.states.off('change', onRecord));
    this.unsubscribe.push(
      this.store.onTopicChange((name) => {
        this.topics.applyConfig(name);
        const topic = this.store.getTopic(name);
        if (!topic || topic.state === 'deleting') for (const tp of this.topics.localPartitions()) if (tp.topic === name) void this.enqueue(tp.topic, tp.partition);
      }),
    );
    const onLost = () => this.stepDownEverywhere();
    const onRegistered = () => void this.applyAll();
    this.registry.on('lost', onLost);
    this.registry.on('registered', onRegistered);
    this.unsubscribe.push(() => this.registry.off('lost', onLost), () => this.registry.off('registered', onRegistered));
    await this.applyAll();
  }

  close(): void {
    this.closed = true;
    for (const off of this.unsubscribe) off();
  }

  /** Applies every record naming this broker, and removes local partitions of deleted topics. */
  applyAll(): Promise<void> {
    const work: Promise<void>[] = [];
    for (const name of this.states.topicNames()) {
      for (const [partition, record] of this.states.partitionsOf(name)) if (record.state.replicas.includes(this.brokerId)) work.push(this.enqueue(name, partition));
    }
    for (const tp of this.topics.localPartitions()) {
      const topic = this.store.getTopic(tp.topic);
      if (!topic || topic.state === 'deleting') work.push(this.enqueue(tp.topic, tp.partition));
    }
    return Promise.all(work).then(() => undefined);
  }

  /** A Partition object was just made over a local log: it takes its record's role before anyone uses it. */
  partitionOpened(partition: Partition): void {
    const { topic, partition: index } = partition.topicPartition;
    const record = this.states.get(topic, index)?.state;
    if (record && this.registry.registered) this.applyRole(partition, record, false);
    else partition.makeFollower({ leader: null, leaderEpoch: Math.max(partition.leaderEpoch, record?.leaderEpoch ?? 0), isr: record?.isr ?? [], replicas: record?.replicas ?? [] });
  }

  private enqueue(topic: string, partition: number): Promise<void> {
    return this.queue.run(() => this.apply(topic, partition)).catch((err: unknown) => {
      this.events.error({ err, partition: `${topic}-${partition}` }, 'applying a partition record failed');
    });
  }

  private async apply(topic: string, partition: number): Promise<void> {
    if (this.closed) return;
    const record = this.states.get(topic, partition)?.state;
    const metadata = this.store.getTopic(topic);
    if (!metadata || metadata.state === 'deleting' || (record === undefined && metadata.state === 'ready' && partition >= metadata.partitions)) {
      const hosted = this.topics.localPartitions().some((tp) => tp.topic === topic && tp.partition === partition);
      if (!hosted) return;
      await this.topics.removeLocalPartition(topic, partition);
      this.announced.delete(`${topic}-${partition}`);
      this.hooks.removed?.(topic, partition);
      this.events.info({ partition: `${topic}-${partition}` }, 'replica removed: its topic was deleted');
      return;
    }
    if (!record?.replicas.includes(this.brokerId)) return; // not (yet) placed here; reassignment is not built
    const local = await this.topics.ensureLocalPartition(topic, partition);
    // ensureLocalPartition gave a new object its role already; an existing one takes the record now.
    if (local) this.applyRole(local, this.states.get(topic, partition)?.state ?? record, true);
  }

  private applyRole(partition: Partition, record: PartitionState, announce: boolean): void {
    const role: PartitionRole = { leader: record.leader, leaderEpoch: record.leaderEpoch, isr: record.isr, replicas: record.replicas };
    if (!this.registry.registered) {
      if (partition.isLeader) partition.makeFollower({ ...role, leader: null, leaderEpoch: Math.max(role.leaderEpoch, partition.leaderEpoch) });
      return;
    }
    const applied = record.leader === this.brokerId ? partition.makeLeader(role) : partition.makeFollower(role);
    const key = `${record.leader}@${record.leaderEpoch}`;
    if (!applied || !announce || this.announced.get(partition.name) === key) return;
    this.announced.set(partition.name, key);
    if (record.leader === this.brokerId) {
      this.events.info({ partition: partition.name, leaderEpoch: record.leaderEpoch }, 'leading');
      this.hooks.becameLeader?.(partition, record);
    } else {
      const leader = record.leader === null ? null : this.registry.liveBrokers().find((b) => b.brokerId === record.leader);
      this.events.info({ partition: partition.name, leader: record.leader, leaderEpoch: record.leaderEpoch }, 'following');
      this.hooks.becameFollower?.(partition, record, leader ? { brokerId: leader.brokerId, url: leader.url } : null);
    }
  }

  /** The registration is lost: stop acting as leader of anything (same epoch, no leader). */
  private stepDownEverywhere(): void {
    let count = 0;
    for (const partition of this.topics.allPartitions()) {
      if (!partition.isLeader) continue;
      partition.makeFollower({ leader: null, leaderEpoch: partition.leaderEpoch, isr: partition.isr, replicas: partition.replicas });
      this.announced.delete(partition.name);
      count++;
    }
    if (count > 0) this.events.warn({ partitions: count }, 'registration lost: stopped leading until registered again');
  }
}
