/**
 * Topic config keys (camelCase, units in the name, `null` = unlimited): the table that validates
 * `POST /topics` and `PATCH /topics/:topic/config`, supplies defaults (overridable per broker, see
 * broker-config.ts) and generates the docs table. The table is the one declaration of the keys: TopicConfig
 * and TopicConfigKey are derived from it, so a key cannot exist in one and not the other.
 *
 * A topic stores only its overrides. An override may be `null` (unlimited) where the key is nullable; a key
 * without an override takes the broker's default for topics.
 */
import { suggestKey } from '../common/config-names.js';
import { BrokerError } from '../common/errors.js';
import type { LogConfig } from '../log/log-config.js';
import { MIN_SEGMENT_BYTES } from '../log/log-config.js';
import { coerce, defaultsOf, type SettingSpec, type SettingsOf } from '../common/settings.js';

const INT32_MAX = 2_147_483_647;

export const TOPIC_SETTINGS = [
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
] as const satisfies readonly SettingSpec[];

/** A topic's effective config: every key, `null` where unlimited. */
export type TopicConfig = SettingsOf<typeof TOPIC_SETTINGS>;
export type TopicConfigKey = keyof TopicConfig;
/** What a topic stores: the keys it sets, each a value or `null` (unlimited). */
export type TopicOverrides = Partial<TopicConfig>;

export const TOPIC_DEFAULTS: TopicConfig = defaultsOf(TOPIC_SETTINGS);

const BY_KEY = new Map<string, SettingSpec>(TOPIC_SETTINGS.map((s) => [s.key, s]));
const NULLABLE_KEYS = TOPIC_SETTINGS.filter((s) => 'nullable' in s && s.nullable).map((s) => s.key);

/** `key` if it names a topic config key; INVALID_CONFIG otherwise. */
export function topicConfigKey(key: string): TopicConfigKey {
  if (!BY_KEY.has(key)) {
    const suggestion = suggestKey(key, [...BY_KEY.keys()]);
    throw new BrokerError('INVALID_CONFIG', `unknown topic config key ${JSON.stringify(key)}${suggestion ? ` (did you mean ${suggestion}?)` : ` (keys: ${[...BY_KEY.keys()].join(', ')})`}`, {
      details: { key, ...(suggestion ? { suggestion } : {}) },
    });
  }
  return key as TopicConfigKey;
}

/**
 * Validates topic config overrides: every key known, every value in range, `null` (unlimited) only for the
 * nullable keys. Throws INVALID_CONFIG naming the key.
 */
export function validateTopicOverrides(input: unknown): TopicOverrides {
  if (input === undefined) return {};
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new BrokerError('INVALID_CONFIG', 'config must be an object of topic config keys');
  }
  const out: Record<string, unknown> = {};
  for (const [raw, value] of Object.entries(input)) {
    const key = topicConfigKey(raw);
    const spec = BY_KEY.get(key)!;
    if (value === null && !spec.nullable) {
      throw new BrokerError('INVALID_CONFIG', `${key} cannot be null: only ${NULLABLE_KEYS.join(' and ')} can be unlimited (reset a key to return it to the default)`, {
        details: { key },
      });
    }
    const result = coerce(spec, value, false);
    if ('error' in result) throw new BrokerError('INVALID_CONFIG', result.error, { details: { key } });
    out[key] = result.value;
  }
  // Each value has passed its key's spec, which is what TopicConfig is derived from.
  return out as TopicOverrides;
}

/** Effective config: defaults, then stored overrides (a `null` override stays null: unlimited). */
export function effectiveTopicConfig(defaults: TopicConfig, overrides: TopicOverrides): TopicConfig {
  return { ...defaults, ...overrides };
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
