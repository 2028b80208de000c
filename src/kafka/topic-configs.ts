/**
 * Kafka's topic config names (retention.ms, ...) for sluice's topic config keys (retentionMs, ...). Kafka says
 * "unlimited" with -1 where sluice says null. Only the keys sluice has are accepted; any other Kafka key is
 * INVALID_CONFIG.
 */
import { BrokerError } from '../common/errors.js';
import type { TopicConfig, TopicConfigKey } from '../replication/topic-config.js';

export const KAFKA_TOPIC_CONFIGS: readonly { kafka: string; key: TopicConfigKey; type: 'long' | 'int' | 'string'; doc: string }[] = [
  { kafka: 'retention.ms', key: 'retentionMs', type: 'long', doc: 'delete segments older than this (-1: forever)' },
  { kafka: 'retention.bytes', key: 'retentionBytes', type: 'long', doc: 'delete the oldest segments while a partition is larger (-1: no limit)' },
  { kafka: 'segment.bytes', key: 'segmentBytes', type: 'int', doc: 'segment file size' },
  { kafka: 'segment.ms', key: 'segmentMs', type: 'long', doc: 'segment age before rolling' },
  { kafka: 'index.interval.bytes', key: 'indexIntervalBytes', type: 'int', doc: 'bytes between index entries' },
  { kafka: 'max.message.bytes', key: 'maxMessageBytes', type: 'int', doc: 'largest record batch' },
  { kafka: 'message.timestamp.after.max.ms', key: 'messageTimestampAfterMaxMs', type: 'long', doc: 'how far in the future a timestamp may be' },
  { kafka: 'min.insync.replicas', key: 'minInsyncReplicas', type: 'int', doc: 'in-sync replicas acks=all needs' },
  { kafka: 'compression.type', key: 'compression', type: 'string', doc: 'codec of batches the broker builds (none, lz4)' },
  { kafka: 'cleanup.policy', key: 'cleanupPolicy', type: 'string', doc: 'delete (compaction is not supported)' },
];

const BY_KAFKA = new Map(KAFKA_TOPIC_CONFIGS.map((c) => [c.kafka, c]));
const NULLABLE: ReadonlySet<TopicConfigKey> = new Set(['retentionMs', 'retentionBytes']);

/** Kafka config entries as sluice topic overrides (validated later by the topic manager). */
export function overridesFromKafka(configs: readonly { name: string; value: string | null }[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const { name, value } of configs) {
    const spec = BY_KAFKA.get(name);
    if (!spec) throw new BrokerError('INVALID_CONFIG', `sluice has no topic config ${JSON.stringify(name)} (it knows ${[...BY_KAFKA.keys()].join(', ')})`);
    if (value === null) throw new BrokerError('INVALID_CONFIG', `${name} needs a value`);
    if (spec.type === 'string') out[spec.key] = value;
    else if (!/^-?\d+$/.test(value)) throw new BrokerError('INVALID_CONFIG', `${name} must be an integer, got ${JSON.stringify(value)}`);
    else out[spec.key] = Number(value) === -1 && NULLABLE.has(spec.key) ? null : Number(value);
  }
  return out;
}

/** A sluice config value as Kafka writes it. */
export function kafkaValueOf(config: TopicConfig, key: TopicConfigKey): string {
  const value = config[key];
  return value === null ? '-1' : String(value);
}
