/**
 * Admin: topics, groups, offsets and retention over the broker's HTTP API. Reads are retried on retriable
 * errors (a broker restart is invisible apart from latency, up to `retryTimeoutMs`); changes are sent once,
 * because repeating a create or delete whose reply was lost would answer with a misleading error.
 */
import { defaultClientId, type RetryEvent } from './events.js';
import { connectionOf, segment, type ConnectionOptions } from './http.js';
import { Brokers, type Route } from './brokers.js';
import type { BackoffOptions } from './retry.js';
import type { ShareGroupConfig, ShareGroupDescription, ShareGroupSummary } from './share-types.js';
import type {
  CommittedOffset,
  GroupDescription,
  GroupSummary,
  NewTopic,
  ResetTarget,
  RetentionResult,
  TopicConfig,
  TopicConfigChanges,
  TopicConfigKey,
  TopicDescription,
  TopicPartitionOffset,
  TopicSummary,
} from './types.js';

export interface AdminOptions extends ConnectionOptions {
  /** The broker URL, or several of a cluster (a list or a comma-separated string): any of them bootstraps. */
  broker: string | readonly string[];
  /** Per request (default 30,000). */
  requestTimeoutMs?: number;
  /** How long reads keep retrying retriable errors (default 10,000; 0 = no retries). */
  retryTimeoutMs?: number;
  retryBackoffMs?: number;
  retryBackoffMaxMs?: number;
  /** Sent with every request (default: host name and process id). */
  clientId?: string;
  /** Told before a read is retried (the broker unreachable or busy), e.g. to say so on a console. */
  onRetry?: (event: RetryEvent) => void;
}

export class Admin {
  private readonly http: Brokers;
  private readonly retryTimeoutMs: number;
  private readonly backoff: BackoffOptions;

  constructor(options: AdminOptions) {
    this.http = new Brokers(options.broker, { connections: 4, requestTimeoutMs: options.requestTimeoutMs ?? 30_000, clientId: options.clientId ?? defaultClientId(), ...connectionOf(options) });
    this.retryTimeoutMs = options.retryTimeoutMs ?? 10_000;
    this.backoff = { retryBackoffMs: options.retryBackoffMs ?? 100, retryBackoffMaxMs: options.retryBackoffMaxMs ?? 1_000, ...(options.onRetry ? { onRetry: options.onRetry } : {}) };
  }

  /** The broker URL this admin talks to. */
  get broker(): string {
    return this.http.baseUrl;
  }

  createTopic(topic: NewTopic): Promise<TopicDescription> {
    return this.http.json('POST', '/topics', { json: topic });
  }

  async listTopics(options: { internal?: boolean } = {}): Promise<TopicSummary[]> {
    const reply = await this.read<{ topics: TopicSummary[] }>('/topics', options.internal ? { internal: 'true' } : undefined);
    return reply.topics;
  }

  describeTopic(name: string): Promise<TopicDescription> {
    return this.read(`/topics/${segment(name)}`);
  }

  /**
   * Sets config keys in one change (all or none); `null` means unlimited (`retentionMs`, `retentionBytes`;
   * other keys refuse it with INVALID_CONFIG). Returns the new effective config.
   */
  alterTopicConfig(name: string, changes: TopicConfigChanges): Promise<TopicConfig> {
    return this.http.json('PATCH', `/topics/${segment(name)}/config`, { json: changes });
  }

  /**
   * Returns keys to the broker's defaults, one request per key in order (a failure leaves the keys before it
   * reset). Returns the new effective config.
   */
  async resetTopicConfig(name: string, keys: TopicConfigKey | readonly TopicConfigKey[]): Promise<TopicConfig> {
    const [first, ...rest] = typeof keys === 'string' ? [keys] : keys;
    if (first === undefined) return (await this.describeTopic(name)).config;
    const reset = (key: TopicConfigKey) => this.http.json<TopicConfig>('DELETE', `/topics/${segment(name)}/config/${segment(key)}`);
    let config = await reset(first);
    for (const key of rest) config = await reset(key);
    return config;
  }

  async deleteTopic(name: string): Promise<void> {
    await this.http.json('DELETE', `/topics/${segment(name)}`);
  }

  /** The first offset whose timestamp is >= `at` (or the log start / high watermark). */
  listOffset(topic: string, partition: number, at: 'earliest' | 'latest' | number): Promise<{ offset: number; timestamp: number | null }> {
    return this.read(`/topics/${segment(topic)}/partitions/${partition}/offsets`, { timestamp: at }, { topic, partition });
  }

  async listGroups(): Promise<GroupSummary[]> {
    return (await this.read<{ groups: GroupSummary[] }>('/groups')).groups;
  }

  /** State, generation and members of a group, with its committed offsets and their lag. */
  async describeGroup(group: string): Promise<GroupDescription> {
    const [description, offsets] = await Promise.all([
      this.read<Omit<GroupDescription, 'offsets'>>(`/groups/${segment(group)}`, undefined, { group }),
      this.groupOffsets(group),
    ]);
    return { ...description, offsets };
  }

  async groupOffsets(group: string): Promise<CommittedOffset[]> {
    return (await this.read<{ offsets: CommittedOffset[] }>(`/groups/${segment(group)}/offsets`, undefined, { group })).offsets;
  }

  /** Moves an empty group's offsets for every partition of `topic`; returns the new offsets. */
  async resetGroupOffsets(group: string, topic: string, to: ResetTarget): Promise<TopicPartitionOffset[]> {
    const reply = await this.http.json<{ offsets: TopicPartitionOffset[] }>('POST', `/groups/${segment(group)}/offsets/reset`, { json: { topic, to }, route: { group } });
    return reply.offsets;
  }

  /** Commits offsets for a group without live members (standalone consumers). */
  async commitOffsets(group: string, offsets: (TopicPartitionOffset & { metadata?: string })[]): Promise<void> {
    await this.http.json('POST', `/groups/${segment(group)}/offsets`, { json: { offsets }, route: { group } });
  }

  async deleteGroup(group: string): Promise<void> {
    await this.http.json('DELETE', `/groups/${segment(group)}`, { route: { group } });
  }

  /** Runs the broker's retention pass now. */
  runRetention(): Promise<RetentionResult> {
    return this.http.json('POST', '/admin/retention/run');
  }

  /** Creates a share group or changes its config (the keys given); returns the whole config. */
  configureShareGroup(group: string, config: Partial<ShareGroupConfig> = {}): Promise<ShareGroupConfig> {
    return this.http.json('PUT', `/share-groups/${segment(group)}`, { json: config });
  }

  async listShareGroups(): Promise<ShareGroupSummary[]> {
    return (await this.read<{ groups: ShareGroupSummary[] }>('/share-groups')).groups;
  }

  describeShareGroup(group: string): Promise<ShareGroupDescription> {
    return this.read(`/share-groups/${segment(group)}`);
  }

  /** Deletes a share group: its leases end, its acks are forgotten. */
  async deleteShareGroup(group: string): Promise<void> {
    await this.http.json('DELETE', `/share-groups/${segment(group)}`);
  }

  async close(): Promise<void> {
    await this.http.close();
  }

  private read<T>(path: string, query?: Record<string, string | number>, route?: Route): Promise<T> {
    return this.http.getWithRetries(path, Date.now() + this.retryTimeoutMs, this.backoff, query, route);
  }
}
