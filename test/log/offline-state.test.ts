import { describe, expect, it } from 'vitest';
import { BrokerError, storageError } from '../../src/common/errors.js';
import { OfflineState, TRANSITIONS, mayPass, nextStatus, type OfflineEvent, type OfflineStatus } from '../../src/log/offline-state.js';
import { ManualClock } from '../helpers/manual-clock.js';

const STATUSES: OfflineStatus[] = ['online', 'offline', 'reopening'];
const EVENTS: OfflineEvent[] = ['fail', 'reopen', 'reopened', 'reopen-failed'];
const enospc = () => storageError('writing x', Object.assign(new Error('no space'), { code: 'ENOSPC' }));
const eio = () => storageError('writing x', Object.assign(new Error('i/o'), { code: 'EIO' }));

describe('partition offline state machine', () => {
  it('every (status, event) pair is either listed or refused', () => {
    for (const status of STATUSES) {
      for (const event of EVENTS) {
        const next = TRANSITIONS[status][event];
        if (next === undefined) expect(() => nextStatus(status, event)).toThrow(/illegal partition transition/);
        else expect(nextStatus(status, event)).toBe(next);
      }
    }
    // The only ways back online and out of reopening.
    expect(STATUSES.flatMap((s) => EVENTS.filter((e) => TRANSITIONS[s][e] === 'online').map((e) => `${s} ${e}`))).toEqual(['reopening reopened']);
  });

  it('only a full disk passes by itself, also when the storage error was wrapped again', () => {
    expect(mayPass(enospc())).toBe(true);
    expect(mayPass(storageError('fdatasync of p-0', enospc()))).toBe(true);
    expect(mayPass(eio())).toBe(false);
    expect(mayPass(new BrokerError('KAFKA_STORAGE_ERROR', 'no errno'))).toBe(false);
  });

  it('a full disk may be retried once per backoff; a failed attempt starts the backoff again', () => {
    const clock = new ManualClock();
    const state = new OfflineState(clock, 1_000);
    expect(state.fail(enospc())).toBe(true);
    expect(state.fail(eio())).toBe(false); // the first reason stays
    expect(mayPass(state.reason!)).toBe(true);
    expect(state.reopenDue).toBe(false);
    clock.advance(999);
    expect(state.reopenDue).toBe(false);
    clock.advance(1);
    expect(state.reopenDue).toBe(true);
    state.beginReopen();
    expect(state.reopenDue).toBe(false);
    state.reopenFailed(enospc());
    expect(state.status).toBe('offline');
    clock.advance(999);
    expect(state.reopenDue).toBe(false);
    clock.advance(1);
    state.beginReopen();
    state.reopened();
    expect(state).toMatchObject({ status: 'online', reason: null });
  });

  it('any other error is never retried by itself', () => {
    const clock = new ManualClock();
    const state = new OfflineState(clock, 1_000);
    state.fail(eio());
    clock.advance(1_000_000);
    expect(state.reopenDue).toBe(false);
  });
});
