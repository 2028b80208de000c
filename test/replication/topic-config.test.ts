/**
 * The topic config table: the types derived from it, the client's copy of them, its defaults, and the
 * validation of overrides (`null` is unlimited, and only where the key allows it).
 */
import { describe, expect, expectTypeOf, it } from 'vitest';
import type { TopicConfig as ClientTopicConfig, TopicConfigKey as ClientTopicConfigKey } from '../../src/client/types.js';
import { coerce } from '../../src/common/settings.js';
import { BROKER_SETTINGS } from '../../src/server/broker-config.js';
import {
  TOPIC_DEFAULTS,
  TOPIC_SETTINGS,
  topicConfigKey,
  validateTopicOverrides,
  type TopicConfig,
  type TopicConfigKey,
} from '../../src/replication/topic-config.js';

describe('topic config table', () => {
  it('derives TopicConfig from the table, and the client declares the same type', () => {
    expectTypeOf<TopicConfig>().toEqualTypeOf<{
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
    }>();
    // The client may not import the broker's modules (test/meta/layers.test.ts): its copy is checked here.
    expectTypeOf<ClientTopicConfig>().toEqualTypeOf<TopicConfig>();
    expectTypeOf<ClientTopicConfigKey>().toEqualTypeOf<TopicConfigKey>();
    expect(Object.keys(TOPIC_DEFAULTS)).toEqual(TOPIC_SETTINGS.map((s) => s.key));
  });

  it('every default (topic and broker) passes its own spec', () => {
    for (const spec of [...TOPIC_SETTINGS, ...BROKER_SETTINGS]) expect(coerce(spec, spec.default, false), spec.key).toEqual({ value: spec.default });
  });

  it('null is unlimited for the nullable keys and refused, naming the key, for the others', () => {
    expect(validateTopicOverrides({ retentionMs: null, retentionBytes: null, segmentBytes: 2048 })).toEqual({ retentionMs: null, retentionBytes: null, segmentBytes: 2048 });
    for (const key of ['segmentBytes', 'compression', 'minInsyncReplicas']) {
      expect(() => validateTopicOverrides({ [key]: null })).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG', message: expect.stringContaining(`${key} cannot be null`), details: { key } }));
    }
  });

  it('topicConfigKey accepts the table\'s keys only', () => {
    expect(topicConfigKey('retentionBytes')).toBe('retentionBytes');
    for (const key of ['retentionms', 'nope', '', 'toString', '__proto__']) {
      expect(() => topicConfigKey(key)).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG', details: expect.objectContaining({ key }) }));
    }
  });
});
