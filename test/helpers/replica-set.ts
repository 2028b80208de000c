/**
 * Several in-process brokers on loopback, each with its own data dir and listening on a real port, whose
 * partition roles are assigned by the test instead of a controller: a tiny in-memory stand-in for the
 * cluster's partition records (leader, epoch, ISR, replicas, version) that answers the leaders' ISR proposals
 * with a compare-and-swap on the version, as the etcd store will. Followers fetch from leaders over real HTTP
 * through the real ReplicaFetcherManager. No etcd: for the replication protocol alone.
 */
import { pino } from 'pino';
import { loadBrokerConfig, type BrokerConfig } from '../../src/server/broker-config.js';
import { startBroker, type RunningBroker } from '../../src/server/broker.js';
import type { IsrProposal } from '../../src/replication/isr-changes.js';
import type { Partition, PartitionRole } from '../../src/replication/partition.js';
import { batchesOf } from '../../src/log/batch-decoder.js';

export interface Member {
  id: number;
  dataDir: string;
  broker: RunningBroker | null;
}

interface Record extends PartitionRole {
  version: number;
}

export class ReplicaSet {
  readonly records = new Map<string, Record>();
  /** every ISR proposal the leaders made, with whether it was accepted */
  readonly proposals: { broker: number; topic: string; partition: number; proposal: IsrProposal; accepted: boolean }[] = [];

  constructor(
    readonly members: Member[],
    private readonly overrides: Partial<BrokerConfig>,
  ) {}

  static async start(dataDirs: string[], overrides: Partial<BrokerConfig> = {}): Promise<ReplicaSet> {
    const set = new ReplicaSet(dataDirs.map((dataDir, id) => ({ id, dataDir, broker: null })), overrides);
    for (const m of set.members) await set.startMember(m.id);
    return set;
  }

  broker(id: number): RunningBroker {
    const b = this.members[id]!.broker;
    if (!b) throw new Error(`broker ${id} is stopped`);
    return b;
  }

  url(id: number): string {
    return this.broker(id).url!;
  }

  partition(id: number, topic: string, partition = 0): Partition {
    return this.broker(id).services.topics.partition(topic, partition);
  }

  async startMember(id: number): Promise<void> {
    const m = this.members[id]!;
    const config = loadBrokerConfig({
      overrides: { dataDir: m.dataDir, port: 0, logLevel: 'silent', groupInitialRebalanceDelayMs: 0, replicaFetchWaitMaxMs: 200, replicaFetchBackoffMs: 50, ...this.overrides },
    });
    m.broker = await startBroker(config, {
      logger: pino({ level: process.env.SLUICE_TEST_LOG ?? 'silent' }),
      replication: {
        brokerId: id,
        awaitsRole: true,
        alterIsr: async (tp, proposal) => {
          const key = `${tp.topic}-${tp.partition}`;
          const record = this.records.get(key);
          const ok = record !== undefined && record.leader === id && record.leaderEpoch === proposal.leaderEpoch && record.version === proposal.version;
          this.proposals.push({ broker: id, topic: tp.topic, partition: tp.partition, proposal, accepted: ok });
          if (!ok) return null;
          record.isr = [...proposal.isr];
          record.version++;
          return { ...record };
        },
      },
    });
  }

  async stopMember(id: number): Promise<void> {
    const m = this.members[id]!;
    await m.broker?.close();
    m.broker = null;
  }

  /** Creates the topic on every member (each creates its local log), then elects `leader` at epoch 1. */
  async createTopic(name: string, options: { partitions?: number; config?: object; leader?: number; replicas?: number[] } = {}): Promise<void> {
    const partitions = options.partitions ?? 1;
    const replicas = options.replicas ?? this.members.map((m) => m.id);
    for (const id of replicas) await this.broker(id).services.topics.create({ name, partitions, ...(options.config ? { config: options.config } : {}) });
    for (let p = 0; p < partitions; p++) {
      this.records.set(`${name}-${p}`, { leader: options.leader ?? replicas[0]!, leaderEpoch: 1, isr: [...replicas], replicas, version: 1 });
      this.applyRoles(name, p);
    }
  }

  /**
   * A new leader (from the test, as a controller would elect it): epoch + 1, ISR as given or kept. Only the
   * brokers in `tell` hear of it (default all): the others keep their old role (a cut-off "zombie" leader).
   */
  elect(topic: string, partition: number, leader: number, isr?: number[], tell?: number[]): void {
    const record = this.records.get(`${topic}-${partition}`)!;
    record.leader = leader;
    record.leaderEpoch++;
    if (isr) record.isr = isr;
    record.version++;
    for (const id of tell ?? record.replicas) this.applyRoles(topic, partition, id);
  }

  /** Hands every live replica its role from the record: makeLeader, or makeFollower + follow(). */
  applyRoles(topic: string, partition: number, only?: number): void {
    const record = this.records.get(`${topic}-${partition}`)!;
    for (const id of record.replicas) {
      if (only !== undefined && id !== only) continue;
      const broker = this.members[id]!.broker;
      if (!broker) continue;
      const p = broker.services.topics.partition(topic, partition);
      const role = { ...record, isr: [...record.isr], replicas: [...record.replicas] };
      if (id === record.leader) {
        broker.services.replicaFetchers.unfollow(p);
        p.makeLeader(role);
      } else {
        p.makeFollower(role);
        const leader = record.leader === null ? null : this.members[record.leader]!.broker;
        if (leader) broker.services.replicaFetchers.follow(p, { leaderId: record.leader!, leaderUrl: leader.url! });
      }
    }
  }

  async close(): Promise<void> {
    for (const m of this.members) await this.stopMember(m.id);
  }
}

/** Every stored byte of the partition's log below its log end offset, segment after segment. */
export async function logBytes(p: Partition): Promise<Buffer> {
  const parts: Buffer[] = [];
  let offset = p.logStartOffset;
  while (offset < p.logEndOffset) {
    const { bytes, nextOffset } = await p.readUncommitted(offset, 1 << 20);
    if (bytes.length === 0 || nextOffset <= offset) break;
    parts.push(bytes);
    offset = nextOffset;
  }
  return Buffer.concat(parts);
}

/** [baseOffset, lastOffset, partitionLeaderEpoch] of every stored batch. */
export async function batchList(p: Partition): Promise<[number, number, number][]> {
  return Array.from(batchesOf(await logBytes(p)), (b) => [b.header.baseOffset, b.header.baseOffset + b.header.lastOffsetDelta, b.header.partitionLeaderEpoch]);
}
