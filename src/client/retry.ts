/**
 * Backoff between retries: exponential from `baseMs`, capped at `maxMs`, with ±20% jitter so that many clients
 * that lost the same broker do not come back in lock step.
 */
import { BrokerError } from './errors.js';
import type { RetryEvent } from './events.js';

export interface BackoffOptions {
  retryBackoffMs: number;
  retryBackoffMaxMs: number;
  /** told before each retry (the client's `retry` event) */
  onRetry?: (event: RetryEvent) => void;
}

export function backoffMs(attempt: number, options: BackoffOptions): number {
  const exp = Math.min(options.retryBackoffMaxMs, options.retryBackoffMs * 2 ** Math.min(attempt, 20));
  return Math.round(exp * (0.8 + Math.random() * 0.4));
}

/** Resolves after `ms`, or at once when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

/**
 * Runs `attempt` until it succeeds, fails with a non-retriable error, or `deadlineMs` (a Date.now() value)
 * passes; then the last error is thrown. `operation` names it in retry events.
 */
export async function withRetries<T>(attempt: () => Promise<T>, deadlineMs: number, options: BackoffOptions, signal?: AbortSignal, operation = 'request'): Promise<T> {
  for (let n = 0; ; n++) {
    try {
      return await attempt();
    } catch (err) {
      const wait = backoffMs(n, options);
      if (!(err instanceof BrokerError) || !err.retriable || Date.now() + wait >= deadlineMs || signal?.aborted) throw err;
      options.onRetry?.({ operation, attempt: n + 1, delayMs: wait, error: err });
      await sleep(wait, signal);
    }
  }
}
