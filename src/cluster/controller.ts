/**
 * The controller's duties, run by whichever broker etcd's election made controller (controller-election.ts).
 * One event at a time: every trigger (elected, a broker came or went, a topic's metadata changed) schedules
 * one `reconcile` pass on a serial queue, and triggers arriving during a pass coalesce into one more pass.
 * A pass reads everything from the watched copies, so a new controller simply runs one pass on takeover
 * and finishes whatever its predecessor left half done.
 *
 * A pass, for every topic in the metadata:
 *   'creating'  place the replicas of partitions that have no record (placeReplicas over the live brokers),
 *               write the new records (CAS on "absent"), elect their leaders, then mark the topic 'ready';
 *   'ready'     for every record run electLeader over the live brokers: dead brokers leave the ISR, a dead
 *               leader is replaced by the first live ISR replica (epoch + 1), an offline partition gets a
 *               leader as soon as an ISR replica is back, unclean elections only with uncleanLeaderElection;
 *   'deleting'  delete the topic's records, then the topic.
 * and deletes records whose topic is gone. Every write is compare-and-swap on the record's revision and
 * fenced by the controller's election key, so a deposed controller can change nothing, however late it
 * notices. A refused or failed write ends the pass; the next pass (scheduled at once for a refusal, after a
 * backoff for an etcd failure) starts again from the newer state.
 */
import { BrokerError } from '../common/errors.js';
import { murmur2 } from '../common/murmur2.js';
import type { LogEvents } from '../log/log-config.js';
import { Serial } from '../log/serial.js';
import type { TopicMetadata } from '../topics/metadata-store.js';
import type { BrokerRegistry } from './broker-registry.js';
import type { ControllerElection } from './controller-election.js';
import type { EtcdMetadataStore } from './etcd-metadata-store.js';
import type { Fence } from './etcd-writes.js';
import { electLeader } from './leader-election.js';
import { newPartitionState, type PartitionState } from './partition-state.js';
import { MAX_KEYS_PER_TXN, type PartitionStateStore } from './partition-state-store.js';
import { placeReplicas } from './replica-placement.js';

export interface ControllerOptions {
  uncleanLeaderElection: boolean;
  events: LogEvents;
  /** pause before a pass after a failed one (etcd unreachable); default 500 ms */
  retryBackoffMs?: number;
}

type RecordWrite = { topic: string; partition: number; state: PartitionState; basedOnModRevision: number };

/** Thrown inside a pass when a write was refused: another pass starts at once from the newer state. */
class Refused extends Error {}

export class Controller {
  private readonly queue = new Serial();
  private scheduled = false;
  private closed = false;
  private retryTimer: NodeJS.Timeout | null = null;
  private readonly unsubscribe: (() => void)[] = [];
  /** passes run so far (tests and logs) */
  passes = 0;

  constructor(
    private readonly election: ControllerElection,
    private readonly registry: BrokerRegistry,
    private readonly store: EtcdMetadataStore,
    private readonly states: PartitionStateStore,
    private readonly options: ControllerOptions,
  ) {
    const schedule = () => this.schedule();
    election.on('elected', schedule);
    registry.on('change', schedule);
    this.unsubscribe.push(
      () => election.off('elected', schedule),
      () => registry.off('change', schedule),
      store.onTopicChange(schedule),
    );
    // Records deleted or changed behind the controller's back (another controller's late write was refused,
    // an operator's etcdctl) are looked at again too.
    states.on('change', schedule);
    this.unsubscribe.push(() => states.off('change', schedule));
    if (election.isController) schedule();
  }

  close(): void {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    for (const off of this.unsubscribe) off();
  }

  /** Runs a pass soon (coalescing: one pass covers every trigger before it starts). */
  schedule(): void {
    if (this.scheduled || this.closed || !this.election.isController) return;
    this.scheduled = true;
    void this.queue.run(async () => {
      this.scheduled = false;
      await this.pass();
    });
  }

  private async pass(): Promise<void> {
    const own = this.election.ownership;
    if (!own || this.closed) return;
    this.passes++;
    const fences = [own.fence];
    const live = new Set(this.registry.liveBrokers().map((b) => b.brokerId));
    try {
      for (const topic of this.store.listTopics()) {
        if (!this.election.isController) return;
        if (topic.state === 'deleting') await this.deleteTopic(topic, fences);
        else await this.maintainTopic(topic, live, own.epoch, fences);
      }
      for (const name of this.states.topicNames()) {
        if (!this.store.getTopic(name)) await this.states.deleteTopic(name, fences);
      }
    } catch (err) {
      if (err instanceof Refused && err.message === 'stale') {
        this.schedule();
        return;
      }
      this.options.events.warn({ err }, 'controller pass failed; retrying');
      this.retryTimer = setTimeout(() => {
        this.retryTimer = null;
        this.schedule();
      }, this.options.retryBackoffMs ?? 500);
      this.retryTimer.unref();
    }
  }

  private async deleteTopic(topic: TopicMetadata, fences: Fence[]): Promise<void> {
    await this.states.deleteTopic(topic.name, fences);
    await this.store.removeTopic(topic.name);
    this.options.events.info({ topic: topic.name }, 'controller: topic deleted');
  }

  private async maintainTopic(topic: TopicMetadata, live: ReadonlySet<number>, controllerEpoch: number, fences: Fence[]): Promise<void> {
    let records = this.states.partitionsOf(topic.name);
    if (records.size < topic.partitions) {
      if (topic.state !== 'creating') this.options.events.warn({ topic: topic.name, records: records.size, partitions: topic.partitions }, 'controller: a ready topic lacks partition records; placing them');
      let placement: number[][];
      try {
        placement = placeReplicas({ partitions: topic.partitions, replicationFactor: topic.replicationFactor, liveBrokers: [...live], startIndex: murmur2(Buffer.from(topic.name, 'utf8')) & 0x7fffffff });
      } catch (err) {
        // Brokers died between the create being accepted and now: wait for them (the next change retries).
        if (err instanceof BrokerError && err.code === 'INVALID_REPLICATION_FACTOR') {
          this.options.events.warn({ topic: topic.name, err: err.message }, 'controller: cannot place the topic yet');
          return;
        }
        throw err;
      }
      const creates: RecordWrite[] = [];
      for (let p = 0; p < topic.partitions; p++) {
        if (!records.has(p)) creates.push({ topic: topic.name, partition: p, state: newPartitionState(placement[p]!, controllerEpoch), basedOnModRevision: 0 });
      }
      await this.writeInChunks(creates, fences);
      records = this.states.partitionsOf(topic.name);
    }
    const elections: RecordWrite[] = [];
    for (const [partition, record] of records) {
      const next = electLeader(record.state, live, { uncleanLeaderElection: this.options.uncleanLeaderElection, controllerEpoch });
      if (next !== record.state) elections.push({ topic: topic.name, partition, state: next, basedOnModRevision: record.modRevision });
    }
    await this.writeInChunks(elections, fences);
    const moved = elections.filter((e) => e.state.leader !== null).length;
    const offline = elections.filter((e) => e.state.leader === null).length;
    if (moved + offline > 0) this.options.events.info({ topic: topic.name, elected: moved, offline }, 'controller: partition leaders changed');
    if (topic.state === 'creating') {
      await this.store.putTopic({ ...topic, state: 'ready' });
      this.options.events.info({ topic: topic.name, partitions: topic.partitions, replicationFactor: topic.replicationFactor }, 'controller: topic ready');
    }
  }

  private async writeInChunks(writes: RecordWrite[], fences: Fence[]): Promise<void> {
    const size = MAX_KEYS_PER_TXN - fences.length;
    for (let i = 0; i < writes.length; i += size) {
      const result = await this.states.writeAll(writes.slice(i, i + size), fences);
      if (!result.written) throw new Refused(result.reason);
    }
  }
}
