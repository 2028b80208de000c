/**
 * Topic config keys (camelCase, units in the name, `null` = unlimited): the table that validates
 * `POST /topics` and `PATCH /topics/:topic/config`, supplies defaults (overridable per broker, see
 * broker-config.ts) and generates the docs table.
 */
import { BrokerError } from '../log/errors.js';
import type { LogConfig } from '../log/log-config.js';
import { MIN_SEGMENT_BYTES } from '../log/log-config.js';
import { coerce, defaultsOf, type SettingSpec, type SettingValue } from '../log/settings.js';

const INT32_MAX = 2_147_483_647;

export const TOPIC_SETTINGS: readonly SettingSpec[] = [
  { key: 'retentionMs', type: 'integer', default: 1_209_600_000, nullable: true, unit: 'ms', min: 1, doc: 'delete a segment once its newest record is older than this (null: keep forever); checked every retentionCheckIntervalMs' },
  { key: 'retentionBytes', type: 'integer', default: null, nullable: true, unit: 'bytes', min: 1, doc: 'delete the oldest segments while a partition is larger than this (null: no limit); whole segments only' },
  { key: 'segmentBytes', type: 'integer', default: 134_217_728, unit: 'bytes', min: MIN_SEGMENT_BYTES, max: INT32_MAX, doc: 'roll to a new segment file when the active one would pass this size' },
  { key: 'segmentMs', type: 'integer', default: 604_800_000, unit: 'ms', min: 1, doc: 'roll to a new segment when the active one is older than this' },
  { key: 'indexIntervalBytes', type: 'integer', default: 4_096, unit: 'bytes', min: 1, max: INT32_MAX, doc: 'bytes of log between two sparse index entries' },
  { key: 'maxMessageBytes', type: 'integer', default: 1_048_588, unit: 'bytes', min: 64, max: INT32_MAX, doc: 'largest record batch accepted (one produce request makes one batch per partition)' },
  { key: 'messageTimestampAfterMaxMs', type: 'integer', default: 3_600_000, unit: 'ms', min: 0, doc: 'how far in the future a record timestamp may be' },
  { key: 'minInsyncReplicas', type: 'integer', default: 1, min: 1, max: 1000, doc: 'acks=all fails with NOT_ENOUGH_REPLICAS when fewer replicas are in sync' },
  { key: 'compression', type: 'enum', default: 'none', choices: ['none', 'lz4'], doc: 'codec of batches the broker builds from JSON records' },
  { key: 'cleanupPolicy', type: 'enum', default: 'delete', choices: ['delete'], doc: 'what happens to old segments (only delete for now)' },
];

export type TopicConfigKey =
  | 'retentionMs'
  | 'retentionBytes'
  | 'segmentBytes'
  | 'segmentMs'
  | 'indexIntervalBytes'
  | 'maxMessageBytes'
  | 'messageTimestampAfterMaxMs'
  | 'minInsyncReplicas'
  | 'compression'
  | 'cleanupPolicy';

export interface TopicConfig {
  retentionMs: number | null;
  retentionBytes: number | null;
  segmentBytes: number;
  segmentMs: number;
  indexIntervalBytes: number;
  maxMessageBytes: number;
  messageTimestampAfterMaxMs: number;
  minInsyncReplicas: number;
  compression: 'none' | 'lz4';
  cleanupPolicy: 'delete';
}

export const TOPIC_DEFAULTS = defaultsOf(TOPIC_SETTINGS) as unknown as TopicConfig;

const BY_KEY = new Map(TOPIC_SETTINGS.map((s) => [s.key, s]));

/**
 * Validates topic config overrides: every key known, every value in range (null allowed only where it
 * means "none", or with `allowReset` to mean "back to the default"). Throws INVALID_CONFIG.
 */
export function validateTopicOverrides(input: unknown, allowReset: boolean): Partial<Record<TopicConfigKey, SettingValue>> {
  if (input === undefined) return {};
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new BrokerError('INVALID_CONFIG', 'config must be an object of topic config keys');
  }
  const out: Partial<Record<TopicConfigKey, SettingValue>> = {};
  for (const [key, raw] of Object.entries(input)) {
    const spec = BY_KEY.get(key);
    if (!spec) throw new BrokerError('INVALID_CONFIG', `unknown topic config key ${JSON.stringify(key)}`, { details: { key } });
    if (raw === null && allowReset) {
      out[key as TopicConfigKey] = null;
      continue;
    }
    const result = coerce(spec, raw, false);
    if ('error' in result) throw new BrokerError('INVALID_CONFIG', result.error, { details: { key } });
    out[key as TopicConfigKey] = result.value;
  }
  return out;
}

/** Effective config: defaults, then stored overrides. */
export function effectiveTopicConfig(defaults: TopicConfig, overrides: Partial<Record<string, SettingValue>>): TopicConfig {
  return { ...defaults, ...overrides } as TopicConfig;
}

/** The part of a topic's config the storage engine uses. */
export function logConfigOf(config: TopicConfig): Partial<LogConfig> {
  return {
    segmentBytes: config.segmentBytes,
    segmentMs: config.segmentMs,
    indexIntervalBytes: config.indexIntervalBytes,
    maxMessageBytes: config.maxMessageBytes,
  };
}
