/** The Consumer's options: their documentation, defaults and validation (a bad option fails the constructor). */
import type { ConnectionOptions } from './http.js';
import { invalidArgument, invalidOption } from './errors.js';
import { defaultClientId, silentLogger, type Logger } from './events.js';
import { boolOption, enumOption, intOption } from './options.js';
import type { BackoffOptions } from './retry.js';
import type { AutoCreateTopics } from './topic-wait.js';
import type { TopicPartition } from './types.js';

export type OffsetReset = 'earliest' | 'latest' | 'none';

/** A rebalance hook: may be async; the consumer waits for it (see `onRevoked`). */
export type RebalanceHook = (partitions: TopicPartition[]) => void | Promise<void>;

export interface ConsumerOptions extends ConnectionOptions {
  /** The broker URL, or several of a cluster (a list or a comma-separated string): any of them bootstraps. */
  broker: string | readonly string[];
  /** Topics to consume: with `group`, the subscription; without, every partition of them. */
  topics?: string[];
  group?: string;
  /** Without a group: exactly these partitions (optionally from an offset). */
  partitions?: (TopicPartition & { offset?: number })[];
  /** Where to start without a committed offset, and after OFFSET_OUT_OF_RANGE (default "latest"). */
  autoOffsetReset?: OffsetReset;
  /**
   * Where a partition without a committed offset starts instead: this offset, moved into the partition's
   * range (log start to high watermark). Later OFFSET_OUT_OF_RANGE still follows `autoOffsetReset`.
   */
  startOffset?: number;
  autoCommit?: boolean;
  autoCommitIntervalMs?: number;
  sessionTimeoutMs?: number;
  heartbeatIntervalMs?: number;
  assignor?: 'range' | 'roundrobin';
  /** Long-poll wait per fetch (default 500). */
  maxWaitMs?: number;
  maxBytesPerPartition?: number;
  /** Fetched but not yet handed out (default 33,554,432); fetching pauses above it. */
  maxBufferedBytes?: number;
  /** One request's timeout; also how long the broker may be unreachable before that is an error (default 30,000). */
  requestTimeoutMs?: number;
  retryBackoffMs?: number;
  retryBackoffMaxMs?: number;
  /** Sent with every request and shown by `groups describe` (default: host name and process id). */
  clientId?: string;
  /** pino or anything with the same debug/info/warn/error(obj, msg) methods (default: silent). */
  logger?: Logger;
  /** Create subscribed topics that do not exist (broker defaults, or `{ partitions }`); default: wait for them. */
  autoCreateTopics?: AutoCreateTopics;
  /** Partitions this consumer now owns, before it fetches them (it may seek here). */
  onAssigned?: RebalanceHook;
  /**
   * Partitions this consumer must give up, after every record of them handed out was processed (the
   * application asked for more) and before they are committed (with autoCommit) and released to their new
   * owner: the place to commit or flush your own state (Kafka's ConsumerRebalanceListener).
   */
  onRevoked?: RebalanceHook;
  /** Partitions lost without a release (the group removed this member): someone else may own them already. */
  onLost?: RebalanceHook;
}

export interface ConsumerSettings {
  topics: string[];
  group: string | undefined;
  autoOffsetReset: OffsetReset;
  autoCommit: boolean;
  autoCommitIntervalMs: number;
  requestTimeoutMs: number;
  sessionTimeoutMs: number;
  heartbeatIntervalMs: number;
  assignor: 'range' | 'roundrobin' | undefined;
  maxWaitMs: number;
  maxBytesPerPartition: number;
  maxBufferedBytes: number;
  backoff: BackoffOptions;
  clientId: string;
  logger: Logger;
  autoCreateTopics: AutoCreateTopics;
  hooks: { onAssigned?: RebalanceHook; onRevoked?: RebalanceHook; onLost?: RebalanceHook };
}

function hookOption(options: ConsumerOptions, key: 'onAssigned' | 'onRevoked' | 'onLost'): RebalanceHook | undefined {
  const hook = options[key];
  if (hook !== undefined && typeof hook !== 'function') throw invalidOption(`${key} must be a function`);
  return hook;
}

export function consumerSettings(options: ConsumerOptions): ConsumerSettings {
  if (!options || (typeof options.broker !== 'string' && !Array.isArray(options.broker))) throw invalidArgument('new Consumer({ broker }) needs the broker URL');
  const topics = options.topics ?? [];
  if (!Array.isArray(topics) || topics.some((t) => typeof t !== 'string')) throw invalidOption('topics must be an array of topic names');
  if (options.group !== undefined && (typeof options.group !== 'string' || options.group.length === 0)) throw invalidOption('group must be a group id');
  if (options.group !== undefined && options.partitions) throw invalidOption('partitions are assigned by the group; give topics instead');
  if (topics.length === 0 && !options.partitions?.length) throw invalidOption('give topics (or, without a group, partitions) to consume');
  if (options.startOffset !== undefined) intOption(options, 'startOffset', 0, 0);
  if (options.clientId !== undefined && (typeof options.clientId !== 'string' || options.clientId.length === 0 || options.clientId.length > 255)) {
    throw invalidOption('clientId must be a string of 1 to 255 characters');
  }
  const logger = options.logger ?? silentLogger;
  if (typeof logger?.warn !== 'function' || typeof logger.error !== 'function' || typeof logger.info !== 'function' || typeof logger.debug !== 'function') {
    throw invalidOption('logger must have debug, info, warn and error methods (pino, for example)');
  }
  const autoCreate = options.autoCreateTopics ?? false;
  if (typeof autoCreate !== 'boolean' && (typeof autoCreate !== 'object' || autoCreate === null)) throw invalidOption('autoCreateTopics must be true, false or { partitions }');
  if (typeof autoCreate === 'object') intOption(autoCreate, 'partitions', 1, 1, 100_000);
  const sessionTimeoutMs = intOption(options, 'sessionTimeoutMs', 45_000, 1_000, 1_800_000);
  return {
    topics,
    group: options.group,
    autoOffsetReset: enumOption(options, 'autoOffsetReset', ['earliest', 'latest', 'none'] as const, 'latest'),
    autoCommit: boolOption(options, 'autoCommit', true),
    autoCommitIntervalMs: intOption(options, 'autoCommitIntervalMs', 1_000, 10),
    requestTimeoutMs: intOption(options, 'requestTimeoutMs', 30_000, 1),
    sessionTimeoutMs,
    heartbeatIntervalMs: intOption(options, 'heartbeatIntervalMs', Math.min(3_000, Math.floor(sessionTimeoutMs / 3)), 10, sessionTimeoutMs),
    assignor: options.assignor === undefined ? undefined : enumOption(options, 'assignor', ['range', 'roundrobin'] as const, 'range'),
    maxWaitMs: intOption(options, 'maxWaitMs', 500, 0, 30_000),
    maxBytesPerPartition: intOption(options, 'maxBytesPerPartition', 1_048_576, 1),
    maxBufferedBytes: intOption(options, 'maxBufferedBytes', 33_554_432, 1),
    backoff: { retryBackoffMs: intOption(options, 'retryBackoffMs', 100, 1), retryBackoffMaxMs: intOption(options, 'retryBackoffMaxMs', 1_000, 1) },
    clientId: options.clientId ?? defaultClientId(),
    logger,
    autoCreateTopics: autoCreate,
    hooks: { onAssigned: hookOption(options, 'onAssigned'), onRevoked: hookOption(options, 'onRevoked'), onLost: hookOption(options, 'onLost') },
  };
}
