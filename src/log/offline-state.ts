/**
 * Whether a partition log takes appends: online, or offline after an I/O failure it could not repair, and
 * when an offline one may try to come back. The transitions are data (TRANSITIONS) and a pure function
 * (`nextStatus`); OfflineState only applies them and keeps the reason and the time of the last attempt.
 *
 *   online    --fail-->          offline     appends are refused with the reason; reads go on
 *   offline   --reopen-->        reopening   an append arrived, the reason may pass, and the backoff is over
 *   reopening --reopened-->      online      recovery from disk succeeded (PartitionLog.reopen)
 *   reopening --reopen-failed--> offline     with the new reason; the backoff starts again
 *
 * Only a full disk (ENOSPC, EDQUOT) passes by itself: space gets freed, and produce must work again without a
 * restart. Any other error (EIO: a failing disk) keeps the partition offline until an operator acts (restart,
 * or LogManager.reopen), as Kafka takes a failed log directory offline. While offline, an append gets the
 * stored reason at once, and a reopen is tried at most once per `retryBackoffMs` (on the Clock), so a disk
 * that is still full costs one recovery attempt per backoff, not one per request.
 */
import type { Clock } from './clock.js';
import { errnoOf, type BrokerError } from '../common/errors.js';

export type OfflineStatus = 'online' | 'offline' | 'reopening';
export type OfflineEvent = 'fail' | 'reopen' | 'reopened' | 'reopen-failed';

/** The legal transitions; anything else is a bug. A failure while reopening is decided by the reopen. */
export const TRANSITIONS: Readonly<Record<OfflineStatus, Partial<Record<OfflineEvent, OfflineStatus>>>> = {
  online: { fail: 'offline', reopen: 'reopening' },
  offline: { fail: 'offline', reopen: 'reopening' },
  reopening: { fail: 'reopening', reopened: 'online', 'reopen-failed': 'offline' },
};

export function nextStatus(status: OfflineStatus, event: OfflineEvent): OfflineStatus {
  const next = TRANSITIONS[status][event];
  if (next === undefined) throw new Error(`illegal partition transition: ${event} while ${status}`);
  return next;
}

/** Failures that go away by themselves: the disk (or the quota) was full. */
const PASSING_ERRNOS = new Set(['ENOSPC', 'EDQUOT']);

export function mayPass(reason: BrokerError): boolean {
  return PASSING_ERRNOS.has(errnoOf(reason) ?? '');
}

export class OfflineState {
  status: OfflineStatus = 'online';
  /** why appends are refused (null while online) */
  reason: BrokerError | null = null;
  private lastAttemptAt = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly clock: Clock,
    private readonly retryBackoffMs: number,
  ) {}

  /** Records an unrepaired failure. Returns true when this took the partition offline (log it once). */
  fail(reason: BrokerError): boolean {
    const wasOnline = this.status === 'online';
    this.status = nextStatus(this.status, 'fail');
    if (!wasOnline) return false;
    this.reason = reason;
    this.lastAttemptAt = this.clock.now();
    return true;
  }

  /** True when an offline partition should try to come back now (the caller then calls beginReopen). */
  get reopenDue(): boolean {
    return this.status === 'offline' && this.reason !== null && mayPass(this.reason) && this.clock.now() - this.lastAttemptAt >= this.retryBackoffMs;
  }

  beginReopen(): void {
    this.status = nextStatus(this.status, 'reopen');
    this.lastAttemptAt = this.clock.now();
  }

  reopened(): void {
    this.status = nextStatus(this.status, 'reopened');
    this.reason = null;
  }

  reopenFailed(reason: BrokerError): void {
    this.status = nextStatus(this.status, 'reopen-failed');
    this.reason = reason;
    this.lastAttemptAt = this.clock.now();
  }
}
