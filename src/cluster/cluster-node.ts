/**
 * A broker's membership of a cluster: the composition of the etcd building blocks for `startBroker` in
 * cluster mode, and the cluster view the HTTP layer routes with.
 *
 * Start-up is two steps, because the topic manager needs the metadata store and the roles need the topic
 * manager:
 *   connect()  etcd connection, metadata store (watched copy of meta/), partition records (watched copy of
 *              partitions/), registration under a lease (a taken broker id is refused, INVALID_CONFIG);
 *   attach()   the role applier (every record naming this broker applied once, then followed), the
 *              controller duties, and the candidacy in the controller election.
 * Every read this class answers (leaders, brokers, controller, topics) comes from the watched copies: no
 * round trip to etcd per request, and answers go on (possibly stale) while etcd is unreachable.
 */
import { BrokerError } from '../common/errors.js';
import type { LogEvents } from '../log/log-config.js';
import type { Partition, PartitionRole } from '../replication/partition.js';
import type { TopicClusterView, TopicManager } from '../topics/topic-manager.js';
import { BrokerRegistry } from './broker-registry.js';
import { Controller } from './controller.js';
import { ControllerElection } from './controller-election.js';
import { connectEtcd, type EtcdConnection } from './etcd-client.js';
import { EtcdMetadataStore } from './etcd-metadata-store.js';
import { alterIsr, type AlterIsrRequest, type AlterIsrResult } from './isr-writer.js';
import { PartitionStateStore } from './partition-state-store.js';
import { ReplicaRoles, type ReplicationHooks } from './replica-roles.js';

export interface ClusterNodeOptions {
  /** etcd client URLs */
  endpoints: string[];
  clusterName: string;
  brokerId: number;
  advertisedUrl: string;
  sessionTimeoutMs: number;
  uncleanLeaderElection: boolean;
  defaultReplicationFactor: number;
  events: LogEvents;
  /** how long a metadata write retries while etcd is unreachable (default 10,000 ms) */
  writeTimeoutMs?: number;
}

/** Who leads a partition, as this broker's copy of the records says. */
export type LeaderView = { state: 'unknown-partition' } | { state: 'none' } | { state: 'leader'; brokerId: number; url: string | null };

export interface ClusterDescription {
  clusterName: string;
  controller: number | null;
  brokers: { id: number; url: string | null; alive: boolean }[];
}

export class ClusterNode implements TopicClusterView {
  private roles: ReplicaRoles | null = null;
  private controller: Controller | null = null;
  private attached = false;
  /** the last URL each broker registered with (dead brokers keep theirs, for GET /cluster) */
  private readonly knownUrls = new Map<number, string>();

  private constructor(
    private readonly etcd: EtcdConnection,
    readonly store: EtcdMetadataStore,
    readonly states: PartitionStateStore,
    readonly registry: BrokerRegistry,
    readonly election: ControllerElection,
    private readonly options: ClusterNodeOptions,
  ) {
    const remember = () => {
      for (const b of registry.liveBrokers()) this.knownUrls.set(b.brokerId, b.url);
    };
    remember();
    registry.on('change', remember);
  }

  static async connect(options: ClusterNodeOptions): Promise<ClusterNode> {
    const etcd = connectEtcd({ endpoints: options.endpoints, clusterName: options.clusterName });
    const onProblem = (message: string, err: unknown) => options.events.warn({ err }, message);
    const writeOptions = { onProblem, ...(options.writeTimeoutMs !== undefined ? { writeTimeoutMs: options.writeTimeoutMs } : {}) };
    const opened: { close(): Promise<void> }[] = [];
    try {
      const store = new EtcdMetadataStore(etcd, writeOptions);
      const { problems } = await store.load();
      opened.push(store);
      if (problems.length > 0) options.events.error({ problems }, 'unreadable cluster metadata was skipped');
      const states = await PartitionStateStore.open(etcd, writeOptions);
      opened.push(states);
      const registry = await BrokerRegistry.register(etcd, { brokerId: options.brokerId, url: options.advertisedUrl, sessionTimeoutMs: options.sessionTimeoutMs, onProblem });
      opened.push(registry);
      const election = new ControllerElection(etcd, { brokerId: options.brokerId, sessionTimeoutMs: options.sessionTimeoutMs, onProblem });
      return new ClusterNode(etcd, store, states, registry, election, options);
    } catch (err) {
      for (const o of opened.reverse()) await o.close().catch(() => undefined);
      etcd.close();
      throw err;
    }
  }

  /** Applies the records to the local logs, then takes up the controller duties and campaigns. */
  async attach(topics: TopicManager, hooks: ReplicationHooks = {}): Promise<void> {
    const roles = new ReplicaRoles(this.brokerId, topics, this.states, this.store, this.registry, hooks, this.options.events);
    this.roles = roles;
    await roles.start();
    this.controller = new Controller(this.election, this.registry, this.store, this.states, { uncleanLeaderElection: this.options.uncleanLeaderElection, events: this.options.events });
    this.election.on('elected', ({ epoch }) => this.options.events.info({ controllerEpoch: epoch }, 'elected controller'));
    this.election.on('resigned', (reason) => this.options.events.warn({ reason: reason?.message }, 'no longer controller'));
    this.election.start();
    this.attached = true;
  }

  get brokerId(): number {
    return this.options.brokerId;
  }

  get clusterName(): string {
    return this.options.clusterName;
  }

  get advertisedUrl(): string {
    return this.options.advertisedUrl;
  }

  get defaultReplicationFactor(): number {
    return this.options.defaultReplicationFactor;
  }

  /** GET /health: registered (lease alive) and serving the cluster's metadata. */
  get healthy(): boolean {
    return this.attached && this.registry.registered;
  }

  // ------------------------------------------------------------------ TopicClusterView

  role(topic: string, partition: number): PartitionRole | undefined {
    return this.states.get(topic, partition)?.state;
  }

  liveBrokerCount(): number {
    return this.registry.liveBrokers().length;
  }

  partitionOpened(partition: Partition): void {
    if (this.roles) this.roles.partitionOpened(partition);
    else partition.makeFollower({ leader: null, leaderEpoch: partition.leaderEpoch, isr: [], replicas: [] });
  }

  awaitTopic(name: string, until: 'ready' | 'gone', timeoutMs: number): Promise<void> {
    const done = () => {
      const topic = this.store.getTopic(name);
      if (until === 'gone') return topic === undefined;
      return topic?.state === 'ready' && this.states.partitionsOf(name).size >= topic.partitions;
    };
    return new Promise<void>((resolve, reject) => {
      const finish = (err?: Error) => {
        clearTimeout(timer);
        offTopic();
        this.states.off('change', check);
        if (err) reject(err);
        else resolve();
      };
      const check = () => {
        if (done()) finish();
      };
      const timer = setTimeout(() => {
        const what = until === 'ready' ? 'creating' : 'deleting';
        finish(new BrokerError('BROKER_NOT_AVAILABLE', `the controller did not finish ${what} topic ${name} within ${timeoutMs} ms (is etcd reachable, a controller elected, are enough brokers alive?); it goes on in the background`));
      }, timeoutMs);
      const offTopic = this.store.onTopicChange((changed) => changed === name && check());
      this.states.on('change', check);
      check();
    });
  }

  // ------------------------------------------------------------------ routing

  leaderOf(topic: string, partition: number): LeaderView {
    const record = this.states.get(topic, partition);
    if (!record) return { state: 'unknown-partition' };
    const leader = record.state.leader;
    if (leader === null) return { state: 'none' };
    const live = this.registry.isAlive(leader);
    return { state: 'leader', brokerId: leader, url: leader === this.brokerId ? this.advertisedUrl : live ? (this.knownUrls.get(leader) ?? null) : null };
  }

  describe(): ClusterDescription {
    const live = new Map(this.registry.liveBrokers().map((b) => [b.brokerId, b.url]));
    const ids = new Set([...this.knownUrls.keys(), ...live.keys()]);
    for (const name of this.states.topicNames()) for (const record of this.states.partitionsOf(name).values()) for (const id of record.state.replicas) ids.add(id);
    const brokers = [...ids].sort((a, b) => a - b).map((id) => ({ id, url: live.get(id) ?? this.knownUrls.get(id) ?? null, alive: live.has(id) }));
    return { clusterName: this.clusterName, controller: this.election.controller?.brokerId ?? null, brokers };
  }

  /** The leader's side of an ISR change (replication calls this): CAS on the record, refused when stale. */
  alterIsr(request: AlterIsrRequest): Promise<AlterIsrResult> {
    return alterIsr(this.states, this.brokerId, request);
  }

  /** Leaves the cluster: stops the duties, resigns, revokes the registration (others see it go at once). */
  async close(): Promise<void> {
    this.controller?.close();
    this.roles?.close();
    await this.election.close();
    await this.registry.close();
    await this.states.close();
    await this.store.close();
    this.etcd.close();
  }
}
