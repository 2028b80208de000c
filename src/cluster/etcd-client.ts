/**
 * The etcd connection of a broker and how its failures become BrokerErrors.
 *
 * etcd3's defaults suit a long-lived service badly after an outage: each endpoint has a circuit breaker that
 * stays open 5 s after three failed calls, and watches back off exponentially up to 30 s. A broker wants to
 * be back within a second of etcd, so both are shortened here (half-open after 500 ms, watch retries capped
 * at 1 s). The calls themselves keep etcd3's three attempts; writes that are not idempotent carry a writeId
 * (etcd-writes.ts) so that a retried write that had succeeded is recognised.
 *
 * Revisions are int64 in etcd and strings in etcd3. sluice keeps them as numbers: a revision grows by one
 * per write, so it would take 2^53 writes to lose precision (`revisionOf` checks). Lease ids are random
 * int64 and stay strings.
 */
import { circuitBreaker, ConsecutiveBreaker, handleWhen, type IBackoff } from 'cockatiel';
import { ClientClosedError, Etcd3, isRecoverableError, type Namespace } from 'etcd3';
import { BrokerError } from '../common/errors.js';
import { clusterPrefix } from './keys.js';

export interface EtcdConnectionOptions {
  /** etcd client URLs (the contract's `--etcd`, split on commas) */
  endpoints: string[];
  /** the contract's `clusterName`: the key prefix */
  clusterName: string;
  /** how long one call may wait for a connection (default 2,000 ms) */
  dialTimeoutMs?: number;
}

export interface EtcdConnection {
  client: Etcd3;
  /** the client scoped to `<clusterName>/`: every key in src/cluster is relative to it */
  cluster: Namespace;
  clusterName: string;
  close(): void;
}

export function connectEtcd(options: EtcdConnectionOptions): EtcdConnection {
  if (options.endpoints.length === 0) throw new BrokerError('INVALID_CONFIG', 'cluster mode needs at least one etcd endpoint');
  const client = new Etcd3({
    hosts: options.endpoints,
    dialTimeout: options.dialTimeoutMs ?? 2_000,
    faultHandling: {
      host: () => circuitBreaker(handleWhen(isRecoverableError), { halfOpenAfter: 500, breaker: new ConsecutiveBreaker(3) }),
      watchBackoff: watchBackoff(50),
    },
  });
  return { client, cluster: client.namespace(clusterPrefix(options.clusterName)), clusterName: options.clusterName, close: () => client.close() };
}

/** Watch reconnects: 100 ms, 200 ms, ... doubling up to 1 s (etcd3 starts from `.next()` of this). */
function watchBackoff(ms: number): IBackoff<unknown> {
  return { duration: ms, next: () => watchBackoff(Math.min(ms * 2, 1_000)) };
}

/** Failures that are not marked recoverable by etcd3 but still mean "etcd not reachable now". */
const TRANSIENT = new Set(['BrokenCircuitError', 'IsolatedCircuitError', 'TaskCancelledError', 'GRPCGenericError', 'EtcdLeaseInvalidError', 'EtcdWatchStreamEnded']);

/**
 * True for a failure that may pass when etcd is reachable again: no connection, a timeout, the circuit
 * breaker open, a lost lease or watch stream. False for a closed client, refused permissions and bugs.
 * (By class name: etcd3 and cockatiel may be loaded twice, as CommonJS and ESM, so instanceof can lie.)
 */
export function isEtcdTransient(err: unknown): boolean {
  if (typeof err !== 'object' || err === null || err instanceof ClientClosedError) return false;
  return isRecoverableError(err as Error) || TRANSIENT.has((err as Error).constructor?.name ?? '');
}

/** The error a metadata change gets when etcd could not be reached in time (contract: BROKER_NOT_AVAILABLE). */
export function etcdUnavailable(what: string, cause: unknown): BrokerError {
  const reason = cause instanceof Error ? cause.message : String(cause);
  return new BrokerError('BROKER_NOT_AVAILABLE', `${what} failed: etcd is not reachable (${reason})`, { cause });
}

/** Maps any etcd failure to a BrokerError: transient ones to BROKER_NOT_AVAILABLE, a closed client too. */
export function etcdError(what: string, cause: unknown): BrokerError {
  if (cause instanceof BrokerError) return cause;
  if (cause instanceof ClientClosedError) return new BrokerError('BROKER_NOT_AVAILABLE', `${what} failed: the broker is stopping`, { cause });
  if (isEtcdTransient(cause)) return etcdUnavailable(what, cause);
  return new BrokerError('UNKNOWN_SERVER_ERROR', `${what} failed: internal error`, { cause });
}

/** An etcd revision (int64 string) as a number; throws past 2^53 rather than lose precision. */
export function revisionOf(value: string | number): number {
  const revision = Number(value);
  if (!Number.isSafeInteger(revision) || revision < 0) throw new BrokerError('UNKNOWN_SERVER_ERROR', `etcd revision ${value} is out of range`);
  return revision;
}

/** Waits `ms`; unref'd so a pending retry never keeps a stopping process alive. */
export function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
