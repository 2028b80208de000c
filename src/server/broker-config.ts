/**
 * The broker's config table. Precedence: command-line flag > environment variable > JSON config file >
 * default. Topic config keys appear here too, as the defaults for topics that do not override them.
 * Validated at start-up: the broker refuses to start with a clear message on any unknown key or bad value.
 */
import { readFileSync } from 'node:fs';
import { MAX_DECOMPRESSED_BYTES } from '../log/compression.js';
import { FSYNC_POLICIES, type FsyncPolicy } from '../log/log-config.js';
import { coerce, defaultsOf, envOf, type SettingSpec, type SettingValue } from '../common/settings.js';
import { TOPIC_SETTINGS, type TopicConfig } from '../replication/topic-config.js';

export const BROKER_SETTINGS: readonly SettingSpec[] = [
  { key: 'dataDir', type: 'string', default: './data', doc: 'directory holding the partition logs and broker metadata' },
  { key: 'host', type: 'string', default: '127.0.0.1', doc: 'address the HTTP API listens on' },
  { key: 'port', type: 'integer', default: 8080, min: 0, max: 65_535, doc: 'port the HTTP API listens on (0: any free port)' },
  { key: 'fsync', type: 'enum', default: 'always', choices: FSYNC_POLICIES, doc: 'always: acknowledge after fdatasync (group commit); interval: fsync every flushIntervalMs; never: leave it to the OS' },
  { key: 'flushIntervalMs', type: 'integer', default: 1_000, unit: 'ms', min: 1, doc: 'how often the interval policy fsyncs' },
  { key: 'maxRequestBytes', type: 'integer', default: 16_777_216, unit: 'bytes', min: 1_024, max: 1_073_741_824, doc: 'largest request body accepted (413 RECORD_TOO_LARGE above)' },
  { key: 'maxHeaderBytes', type: 'integer', default: 16_384, unit: 'bytes', min: 1_024, max: 1_048_576, doc: 'largest request line plus headers accepted (431 REQUEST_HEADERS_TOO_LARGE above)' },
  { key: 'requestHeadersTimeoutMs', type: 'integer', default: 10_000, unit: 'ms', min: 100, doc: 'time a client has to send the request line and headers (408 REQUEST_INCOMPLETE after; ends slow-loris connections); at most requestTimeoutMs' },
  { key: 'requestTimeoutMs', type: 'integer', default: 60_000, unit: 'ms', min: 1_000, doc: 'time a client has to send a whole request, body included (408 REQUEST_INCOMPLETE after); only the upload counts, not the wait for the reply (a long-polling fetch)' },
  { key: 'maxBatchInflatedBytes', type: 'integer', default: 67_108_864, unit: 'bytes', min: 1_024, max: MAX_DECOMPRESSED_BYTES, doc: 'largest size the records of one produced batch may inflate to when decompressed, checked on the LZ4 frame before inflating (413 RECORD_TOO_LARGE above; never below the topic\'s maxMessageBytes)' },
  { key: 'maxRequestInflatedBytes', type: 'integer', default: 268_435_456, unit: 'bytes', min: 1_024, doc: 'largest total the batches of one produce request may inflate to when decompressed (413 RECORD_TOO_LARGE above; never below maxRequestBytes)' },
  { key: 'maxOpenFiles', type: 'integer', default: 512, unit: 'count', min: 16, doc: 'file descriptors the storage engine keeps open (least recently used are closed)' },
  { key: 'recoveryPointCheckpointIntervalMs', type: 'integer', default: 60_000, unit: 'ms', min: 100, doc: 'how often recovery points are written to disk' },
  { key: 'highWatermarkCheckpointIntervalMs', type: 'integer', default: 5_000, unit: 'ms', min: 100, doc: 'how often every partition\'s high watermark is written to replication-offset-checkpoint (and at a clean stop)' },
  { key: 'fileDeleteDelayMs', type: 'integer', default: 60_000, unit: 'ms', min: 0, doc: 'delay between marking a segment deleted and removing its files' },
  { key: 'storageRetryBackoffMs', type: 'integer', default: 5_000, unit: 'ms', min: 100, doc: 'after a full disk: how long until the next produce may reopen a partition it took offline (recovering it from its files) or retry finishing rolled segments' },
  { key: 'retentionCheckIntervalMs', type: 'integer', default: 300_000, unit: 'ms', min: 100, doc: 'how often the retention pass runs (also on demand: POST /admin/retention/run)' },
  { key: 'offsetsTopicPartitions', type: 'integer', default: 8, unit: 'count', min: 1, max: 1_000, doc: 'partitions of the internal __consumer_offsets topic (fixed once it exists)' },
  { key: 'offsetsRetentionMs', type: 'integer', default: 604_800_000, unit: 'ms', min: 1_000, doc: 'committed offsets of a group that stayed empty this long expire' },
  { key: 'groupInitialRebalanceDelayMs', type: 'integer', default: 3_000, unit: 'ms', min: 0, max: 300_000, doc: 'a consumer group without members waits this long after its first join before it assigns partitions, so members starting together share them from the start (0: assign at once); after a restart it assigns as soon as the members it had are back' },
  { key: 'shareStateTopicPartitions', type: 'integer', default: 8, unit: 'count', min: 1, max: 1_000, doc: 'partitions of the internal __share_group_state topic, where share groups keep their acks (fixed once it exists)' },
  { key: 'maxInFlightPerPartition', type: 'integer', default: 2_000, unit: 'count', min: 1, max: 100_000, doc: 'records of one partition a share group holds in flight at once (read from the log and not yet accepted or rejected past its start); at most this many are leased at once' },
  { key: 'maxFetchWaitMs', type: 'integer', default: 30_000, unit: 'ms', min: 0, doc: 'upper bound for a fetch request\'s maxWaitMs (long polling)' },
  { key: 'producerIdExpirationMs', type: 'integer', default: 86_400_000, unit: 'ms', min: 1_000, doc: 'an idempotent producer whose newest record is older than this is forgotten by each partition (a retry after that counts as a new producer)' },
  { key: 'producerIdExpirationCheckIntervalMs', type: 'integer', default: 600_000, unit: 'ms', min: 100, doc: 'how often idle producer state is looked for' },
  { key: 'replicaLagTimeMaxMs', type: 'integer', default: 30_000, unit: 'ms', min: 100, doc: 'cluster mode: a follower that has not been caught up with its leader for this long leaves the ISR (checked every half of it); it rejoins once caught up' },
  { key: 'replicaFetchWaitMaxMs', type: 'integer', default: 500, unit: 'ms', min: 0, max: 30_000, doc: 'cluster mode: how long a follower\'s fetch waits at the leader when there is nothing new (long poll)' },
  { key: 'replicaFetchMaxBytes', type: 'integer', default: 10_485_760, unit: 'bytes', min: 1_024, doc: 'cluster mode: most bytes a follower asks its leader for in one fetch, over all partitions (one whole batch per partition at least)' },
  { key: 'replicaFetchBackoffMs', type: 'integer', default: 1_000, unit: 'ms', min: 10, doc: 'cluster mode: how long a follower waits after a failed fetch (leader unreachable, an error) before it tries again' },
  { key: 'shutdownTimeoutMs', type: 'integer', default: 30_000, unit: 'ms', min: 0, doc: 'how long a graceful shutdown waits for in-flight requests' },
  { key: 'kafkaListener', type: 'string', default: null, nullable: true, doc: 'HOST:PORT of the Kafka protocol listener (kcat, kafkajs, librdkafka clients; docs/kafka-protocol.md); null: off' },
  { key: 'logLevel', type: 'enum', default: 'info', choices: ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'], doc: 'pino log level; request lines are logged at debug' },
  { key: 'logBufferBytes', type: 'integer', default: 4_194_304, unit: 'bytes', min: 16_384, max: 1_073_741_824, doc: 'log lines kept in memory while stdout cannot take them (a slow reader, a full disk); lines beyond are dropped and counted in sluice_log_lines_dropped_total' },
  // Security and limits (docs/security.md).
  { key: 'tlsCert', type: 'string', default: null, nullable: true, doc: 'PEM certificate (chain) file: the listener speaks HTTPS only; reloaded on SIGHUP' },
  { key: 'tlsKey', type: 'string', default: null, nullable: true, doc: 'PEM private key file of tlsCert; reloaded on SIGHUP' },
  { key: 'tlsCa', type: 'string', default: null, nullable: true, doc: 'PEM CA file: clients must present a certificate signed by it (mutual TLS; its CN names the principal when no token is sent); reloaded on SIGHUP' },
  { key: 'authFile', type: 'string', default: null, nullable: true, doc: 'JSON file of principals (token hashes, ACLs, quotas): turns authentication and authorization on; reloaded on SIGHUP' },
  { key: 'interBrokerToken', type: 'string', default: null, nullable: true, doc: 'bearer token this broker sends to the other brokers of a cluster; its principal needs admin on cluster (prefer the env var to the flag: flags show in ps)' },
  { key: 'quotaProduceBytesPerSec', type: 'integer', default: null, nullable: true, unit: 'bytes', min: 1, doc: 'produce bytes per second per principal (per client address without auth), unless the auth file sets the principal\'s own (429 THROTTLED above)' },
  { key: 'quotaFetchBytesPerSec', type: 'integer', default: null, nullable: true, unit: 'bytes', min: 1, doc: 'fetched bytes per second per principal (per client address without auth), unless the auth file sets the principal\'s own' },
  { key: 'quotaRequestsPerSec', type: 'integer', default: null, nullable: true, unit: 'count', min: 1, doc: 'requests per second per principal (per client address without auth), unless the auth file sets the principal\'s own' },
  { key: 'maxConnections', type: 'integer', default: 10_000, unit: 'count', min: 1, doc: 'open client connections at most; a connection beyond is closed at once' },
  { key: 'maxLongPollsPerClient', type: 'integer', default: 100, unit: 'count', min: 1, doc: 'requests waiting for data (fetch or heartbeat with maxWaitMs) at once per client address (and principal, with auth); one more: 429 THROTTLED' },
  { key: 'groupMaxSize', type: 'integer', default: 1_000, unit: 'count', min: 1, doc: 'members a consumer (or share) group may have; one more join: 409 GROUP_MAX_SIZE_REACHED' },
  { key: 'etcd', type: 'string', default: null, nullable: true, doc: 'etcd endpoints, comma separated (http://host:port,...); set = cluster mode (docs/cluster.md), unset = the single-node broker' },
  { key: 'brokerId', type: 'integer', default: 0, min: 0, max: 2_147_483_647, doc: 'cluster mode: this broker\'s id, unique in the cluster' },
  { key: 'advertisedUrl', type: 'string', default: null, nullable: true, doc: 'cluster mode: the URL other brokers and clients use to reach this broker (default http://HOST:PORT)' },
  { key: 'clusterName', type: 'string', default: 'sluice', doc: 'cluster mode: the etcd key prefix, so several clusters can share one etcd' },
  { key: 'brokerSessionTimeoutMs', type: 'integer', default: 6_000, unit: 'ms', min: 1_000, max: 600_000, doc: 'cluster mode: a broker silent this long is dead (its etcd lease TTL, rounded up to whole seconds)' },
  { key: 'defaultReplicationFactor', type: 'integer', default: 1, unit: 'count', min: 1, max: 1_000, doc: 'cluster mode: replication factor of topics created without one' },
  { key: 'uncleanLeaderElection', type: 'boolean', default: false, doc: 'cluster mode: when no in-sync replica is alive, elect another replica (acknowledged records may be lost); false: the partition stays offline' },
  ...TOPIC_SETTINGS.map((s) => ({ ...s, doc: `default for topics: ${s.doc}` })),
];

/** Broker settings; the topic keys (TopicConfig) are the defaults for topics. */
export interface BrokerConfig extends TopicConfig {
  dataDir: string;
  host: string;
  port: number;
  fsync: FsyncPolicy;
  flushIntervalMs: number;
  maxRequestBytes: number;
  maxHeaderBytes: number;
  requestHeadersTimeoutMs: number;
  requestTimeoutMs: number;
  maxBatchInflatedBytes: number;
  maxRequestInflatedBytes: number;
  maxOpenFiles: number;
  recoveryPointCheckpointIntervalMs: number;
  fileDeleteDelayMs: number;
  highWatermarkCheckpointIntervalMs: number;
  storageRetryBackoffMs: number;
  retentionCheckIntervalMs: number;
  maxFetchWaitMs: number;
  shareStateTopicPartitions: number;
  maxInFlightPerPartition: number;
  offsetsTopicPartitions: number;
  offsetsRetentionMs: number;
  groupInitialRebalanceDelayMs: number;
  producerIdExpirationMs: number;
  producerIdExpirationCheckIntervalMs: number;
  replicaLagTimeMaxMs: number;
  replicaFetchWaitMaxMs: number;
  replicaFetchMaxBytes: number;
  replicaFetchBackoffMs: number;
  shutdownTimeoutMs: number;
  /** HOST:PORT of the Kafka protocol listener, null: off */
  kafkaListener: string | null;
  logLevel: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';
  logBufferBytes: number;
  tlsCert: string | null;
  tlsKey: string | null;
  tlsCa: string | null;
  authFile: string | null;
  interBrokerToken: string | null;
  quotaProduceBytesPerSec: number | null;
  quotaFetchBytesPerSec: number | null;
  quotaRequestsPerSec: number | null;
  maxConnections: number;
  maxLongPollsPerClient: number;
  groupMaxSize: number;
  /** etcd endpoints, comma separated; null: single node */
  etcd: string | null;
  brokerId: number;
  advertisedUrl: string | null;
  clusterName: string;
  brokerSessionTimeoutMs: number;
  defaultReplicationFactor: number;
  uncleanLeaderElection: boolean;
}

export const BROKER_DEFAULTS = defaultsOf(BROKER_SETTINGS) as unknown as BrokerConfig;

export class ConfigError extends Error {}

const BY_KEY = new Map(BROKER_SETTINGS.map((s) => [s.key, s]));

export interface ConfigSources {
  /** values from command-line flags, by key (strings as typed) */
  flags?: Record<string, string | undefined>;
  env?: NodeJS.ProcessEnv;
  /** path of a JSON config file */
  file?: string;
  /** already-typed overrides (tests, embedding) */
  overrides?: Partial<BrokerConfig>;
}

/** Resolves the config from its sources; throws ConfigError listing every problem. */
export function loadBrokerConfig(sources: ConfigSources = {}): BrokerConfig {
  const problems: string[] = [];
  const values: Record<string, SettingValue> = defaultsOf(BROKER_SETTINGS);
  const apply = (key: string, raw: unknown, fromText: boolean, where: string) => {
    const spec = BY_KEY.get(key);
    if (!spec) {
      problems.push(`${where}: unknown setting ${JSON.stringify(key)}`);
      return;
    }
    const result = coerce(spec, raw, fromText);
    if ('error' in result) problems.push(`${where}: ${result.error}`);
    else values[key] = result.value;
  };
  if (sources.file) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(sources.file, 'utf8'));
    } catch (err) {
      throw new ConfigError(`cannot read config file ${sources.file}: ${(err as Error).message}`);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new ConfigError(`config file ${sources.file} must hold a JSON object`);
    }
    for (const [key, raw] of Object.entries(parsed)) apply(key, raw, false, `config file ${sources.file}`);
  }
  const env = sources.env ?? {};
  for (const spec of BROKER_SETTINGS) {
    const raw = env[envOf(spec.key)];
    if (raw !== undefined && raw !== '') apply(spec.key, raw, true, `environment ${envOf(spec.key)}`);
  }
  for (const [key, raw] of Object.entries(sources.flags ?? {})) {
    if (raw !== undefined) apply(key, raw, true, `flag`);
  }
  for (const [key, raw] of Object.entries(sources.overrides ?? {})) apply(key, raw, false, 'override');
  if (problems.length === 0 && (values.requestHeadersTimeoutMs as number) > (values.requestTimeoutMs as number)) {
    problems.push(`requestHeadersTimeoutMs (${values.requestHeadersTimeoutMs}) must not be above requestTimeoutMs (${values.requestTimeoutMs})`);
  }
  if ((values.tlsCert === null) !== (values.tlsKey === null)) problems.push('tlsCert and tlsKey go together');
  if (values.tlsCa !== null && values.tlsCert === null) problems.push('tlsCa (mutual TLS) needs tlsCert and tlsKey');
  if (values.kafkaListener !== null && !/^(\[[^\]]+\]|[^:]*):\d{1,5}$/.test(String(values.kafkaListener))) {
    problems.push(`kafkaListener must be HOST:PORT (e.g. 127.0.0.1:9092), got ${JSON.stringify(values.kafkaListener)}`);
  }
  // The Kafka door has no SASL yet: with authentication on it would let anyone in, so refuse the pair.
  if (values.kafkaListener !== null && values.authFile !== null) problems.push('kafkaListener cannot be used with authFile yet: the Kafka listener has no SASL authentication');
  problems.push(...clusterProblems(values));
  if (problems.length > 0) throw new ConfigError(`invalid configuration:\n  ${problems.join('\n  ')}`);
  return values as unknown as BrokerConfig;
}

/** Checks of the cluster keys that one key's spec cannot express. */
function clusterProblems(values: Record<string, SettingValue>): string[] {
  const problems: string[] = [];
  const isHttpUrl = (text: string) => {
    try {
      const url = new URL(text);
      return (url.protocol === 'http:' || url.protocol === 'https:') && url.pathname === '/' && url.search === '';
    } catch {
      return false;
    }
  };
  if (typeof values.etcd === 'string') {
    const bad = values.etcd.split(',').filter((e) => !isHttpUrl(e.trim()));
    if (bad.length > 0) problems.push(`etcd must be comma-separated http(s)://host:port URLs, got ${JSON.stringify(bad.join(','))}`);
  }
  if (typeof values.advertisedUrl === 'string' && !isHttpUrl(values.advertisedUrl.replace(/\/$/, ''))) {
    problems.push(`advertisedUrl must be an http(s)://host:port URL without a path, got ${JSON.stringify(values.advertisedUrl)}`);
  }
  if (typeof values.clusterName === 'string' && !/^[A-Za-z0-9._-]+$/.test(values.clusterName)) {
    problems.push(`clusterName must be made of [A-Za-z0-9._-], got ${JSON.stringify(values.clusterName)}`);
  }
  return problems;
}

export function topicDefaultsOf(config: BrokerConfig): TopicConfig {
  return Object.fromEntries(TOPIC_SETTINGS.map((s) => [s.key, config[s.key]])) as TopicConfig;
}
