/**
 * A share group's settings (PUT /share-groups/:group), their defaults and limits (the contract's: the
 * visibility timeout from 100 ms to 12 h as SQS allows, 1 to 1,000 deliveries).
 */
import { BrokerError } from '../common/errors.js';

export interface ShareGroupConfig {
  visibilityTimeoutMs: number;
  maxDeliveryCount: number;
  deadLetterTopic: string | null;
  /** where a share-partition starts when the group first reads it */
  startFrom: 'latest' | 'earliest';
}

export const SHARE_GROUP_DEFAULTS: ShareGroupConfig = { visibilityTimeoutMs: 30_000, maxDeliveryCount: 5, deadLetterTopic: null, startFrom: 'latest' };

export const VISIBILITY_TIMEOUT_MIN_MS = 100;
export const VISIBILITY_TIMEOUT_MAX_MS = 43_200_000;
export const MAX_DELIVERY_COUNT_MAX = 1_000;

export const GROUP_ID = /^[a-zA-Z0-9._-]{1,249}$/;

export function validateGroupId(group: unknown): string {
  if (typeof group !== 'string' || !GROUP_ID.test(group)) {
    throw new BrokerError('INVALID_REQUEST', `invalid share group id ${JSON.stringify(group)}: use 1-249 of [a-zA-Z0-9._-]`);
  }
  return group;
}

export function checkVisibilityTimeout(ms: unknown, what = 'visibilityTimeoutMs'): number {
  if (typeof ms !== 'number' || !Number.isInteger(ms) || ms < VISIBILITY_TIMEOUT_MIN_MS || ms > VISIBILITY_TIMEOUT_MAX_MS) {
    throw new BrokerError('INVALID_REQUEST', `${what} must be an integer from ${VISIBILITY_TIMEOUT_MIN_MS} to ${VISIBILITY_TIMEOUT_MAX_MS}, got ${JSON.stringify(ms)}`);
  }
  return ms;
}

/** The config after `changes` (validated; nothing applies when any is wrong). */
export function mergeConfig(base: ShareGroupConfig, changes: Partial<ShareGroupConfig>): ShareGroupConfig {
  const next = { ...base };
  if (changes.visibilityTimeoutMs !== undefined) next.visibilityTimeoutMs = checkVisibilityTimeout(changes.visibilityTimeoutMs);
  if (changes.maxDeliveryCount !== undefined) {
    const n = changes.maxDeliveryCount;
    if (!Number.isInteger(n) || n < 1 || n > MAX_DELIVERY_COUNT_MAX) {
      throw new BrokerError('INVALID_REQUEST', `maxDeliveryCount must be an integer from 1 to ${MAX_DELIVERY_COUNT_MAX}, got ${JSON.stringify(n)}`);
    }
    next.maxDeliveryCount = n;
  }
  if (changes.deadLetterTopic !== undefined) next.deadLetterTopic = changes.deadLetterTopic;
  if (changes.startFrom !== undefined) {
    if (changes.startFrom !== 'latest' && changes.startFrom !== 'earliest') throw new BrokerError('INVALID_REQUEST', 'startFrom must be latest or earliest');
    next.startFrom = changes.startFrom;
  }
  return next;
}
