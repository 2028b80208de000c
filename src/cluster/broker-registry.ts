/**
 * Cluster membership: this broker's registration and the set of live brokers.
 *
 * A broker is alive while its key `brokers/<id>` exists. The key is attached to an etcd lease that this
 * process keeps alive (etcd3 sends a keepalive every TTL/3); a broker that stops keepalives (crash, kill -9,
 * long pause, network cut) loses the lease after its TTL and etcd deletes the key: no broker decides
 * another is dead, etcd does. Every broker watches `brokers/` (a WatchedPrefix), so the live set is local.
 *
 * Lease TTLs are whole seconds; `brokerSessionTimeoutMs` is rounded up (2,000 ms -> 2 s, 2,500 ms -> 3 s,
 * at least 1 s), so a broker is never declared dead earlier than configured. etcd finds expired leases
 * every 500 ms, so a dead broker's key goes 0-500 ms after the TTL ends (see docs/cluster.md).
 *
 * Invariants:
 * - registration creates the key only if absent (CAS on create revision 0): a broker id held by a live
 *   broker is refused with INVALID_CONFIG, after waiting one session for a previous run's key to expire;
 * - each process has a random incarnation id in its value; after losing its lease a broker takes its key
 *   back only if it is absent or still its own incarnation's, never from another live process;
 * - `registered` is false from the moment the lease is lost (or the key vanished) until the broker is
 *   registered again; 'lost' and 'registered' announce the transitions, and the owner stops acting as leader
 *   or controller on 'lost'. Re-registration retries forever (backing off to 1 s) until `close()`.
 */
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Lease } from 'etcd3';
import { BrokerError } from '../common/errors.js';
import { etcdError, isEtcdTransient, pause, revisionOf, type EtcdConnection } from './etcd-client.js';
import { decodeValue, encodeValue } from './etcd-writes.js';
import { BROKERS_PREFIX, brokerIdOf, brokerKey } from './keys.js';
import { WatchedPrefix } from './watched-prefix.js';

export interface BrokerInfo {
  brokerId: number;
  /** the contract's advertisedUrl */
  url: string;
  startedAt: number;
}

export interface BrokerRegistryOptions {
  brokerId: number;
  url: string;
  /** the contract's brokerSessionTimeoutMs */
  sessionTimeoutMs: number;
  /** how long a taken broker id is waited for before refusing (default: one session + etcd's 500 ms expiry sweep + 500 ms) */
  takenWaitMs?: number;
  onProblem?: (message: string, err: unknown) => void;
}

export interface BrokerRegistryEvents {
  /** the live set changed */
  change: [BrokerInfo[]];
  /** this broker's registration is gone (lease lost or key deleted): it must stop acting for the cluster */
  lost: [Error];
  /** registered again after a loss */
  registered: [];
}

/** etcd lease TTL (whole seconds) for a session timeout: rounded up, at least 1 s. */
export function leaseTtlSeconds(sessionTimeoutMs: number): number {
  return Math.max(1, Math.ceil(sessionTimeoutMs / 1_000));
}

export class BrokerRegistry extends EventEmitter<BrokerRegistryEvents> {
  private lease: Lease | null = null;
  private closed = false;
  private readonly incarnation = randomUUID();
  private readonly key: string;
  private readonly onProblem: (message: string, err: unknown) => void;
  registered = false;

  private constructor(
    private readonly etcd: EtcdConnection,
    private readonly brokers: WatchedPrefix,
    private readonly options: BrokerRegistryOptions,
  ) {
    super();
    this.key = brokerKey(options.brokerId);
    this.onProblem = options.onProblem ?? (() => undefined);
  }

  /** Registers this broker (waiting out a previous run's key) and starts watching the live set. */
  static async register(etcd: EtcdConnection, options: BrokerRegistryOptions): Promise<BrokerRegistry> {
    if (!Number.isSafeInteger(options.brokerId) || options.brokerId < 0) throw new BrokerError('INVALID_CONFIG', `broker id ${options.brokerId} must be an integer >= 0`);
    let brokers: WatchedPrefix;
    try {
      brokers = await WatchedPrefix.open(etcd.cluster, BROKERS_PREFIX, options.onProblem);
    } catch (err) {
      throw etcdError('reading the live brokers', err);
    }
    const registry = new BrokerRegistry(etcd, brokers, options);
    try {
      await registry.registerFirst();
    } catch (err) {
      await brokers.close();
      throw err;
    }
    brokers.on('change', ({ key, entry }) => {
      if (key === String(options.brokerId) && entry === undefined && registry.registered) registry.markLost(new Error(`the key of broker ${options.brokerId} was deleted`));
      registry.emit('change', registry.liveBrokers());
    });
    return registry;
  }

  /** The brokers whose keys exist, by id. */
  liveBrokers(): BrokerInfo[] {
    const live: BrokerInfo[] = [];
    for (const [key, entry] of this.brokers.all()) {
      if (brokerIdOf(key) === null) continue;
      try {
        live.push(decodeValue<BrokerInfo & { incarnation: string }>(entry.value));
      } catch (err) {
        this.onProblem(`unreadable broker registration ${key} skipped`, err);
      }
    }
    return live.map(({ brokerId, url, startedAt }) => ({ brokerId, url, startedAt })).sort((a, b) => a.brokerId - b.brokerId);
  }

  isAlive(brokerId: number): boolean {
    return this.brokers.get(String(brokerId)) !== undefined;
  }

  /** Leaves the cluster at once: revokes the lease, which deletes the key (others see it go now, not after the TTL). */
  async close(): Promise<void> {
    this.closed = true;
    this.registered = false;
    await this.lease?.revoke().catch((err: unknown) => this.onProblem('revoking the broker lease failed; it expires by itself', err));
    await this.brokers.close();
  }

  private async registerFirst(): Promise<void> {
    const deadline = Date.now() + (this.options.takenWaitMs ?? this.options.sessionTimeoutMs + 1_000);
    for (;;) {
      try {
        if (await this.tryRegister(false)) return;
      } catch (err) {
        throw etcdError(`registering broker ${this.options.brokerId}`, err);
      }
      const holder = this.brokers.get(String(this.options.brokerId));
      if (Date.now() >= deadline) {
        const url = holder ? decodeValue<BrokerInfo>(holder.value).url : 'unknown';
        throw new BrokerError('INVALID_CONFIG', `broker id ${this.options.brokerId} is already taken by a live broker (${url}); every broker of a cluster needs its own --broker-id`, {
          details: { brokerId: this.options.brokerId },
        });
      }
      // Perhaps this broker's own previous run, whose lease has not expired yet: wait for the key to go.
      await Promise.race([this.keyGone(), pause(Math.max(0, deadline - Date.now()))]);
    }
  }

  /**
   * One attempt: a new lease and the key on it, created if absent or (after a loss) taken back from this
   * incarnation's old lease. False when another incarnation holds the key.
   */
  private async tryRegister(takeBack: boolean): Promise<boolean> {
    const lease = this.etcd.cluster.lease(leaseTtlSeconds(this.options.sessionTimeoutMs), { autoKeepAlive: true });
    try {
      const leaseId = await lease.grant();
      const value = encodeValue({ brokerId: this.options.brokerId, url: this.options.url, startedAt: Date.now(), incarnation: this.incarnation }, randomUUID());
      const current = takeBack ? (await this.etcd.cluster.get(this.key).exec()).kvs[0] : undefined;
      const ours = current !== undefined && decodeValue<{ incarnation?: string }>(current.value.toString('utf8')).incarnation === this.incarnation;
      const expected = ours ? revisionOf(current.mod_revision) : 0;
      const result = await this.etcd.cluster.if(this.key, 'Mod', '==', expected).then(this.etcd.cluster.put(this.key).value(value).lease(leaseId)).commit();
      if (!result.succeeded) {
        await lease.revoke().catch(() => undefined);
        return false;
      }
      await this.brokers.waitForRevision(revisionOf(result.header.revision), 5_000).catch(() => undefined);
    } catch (err) {
      await lease.revoke().catch(() => undefined);
      throw err;
    }
    const previous = this.lease;
    this.lease = lease;
    this.registered = true;
    lease.on('lost', (err) => {
      if (this.lease === lease) this.markLost(err);
    });
    // The old lease holds nothing any more; let it go now rather than at its expiry.
    previous?.revoke().catch(() => undefined);
    return true;
  }

  private keyGone(): Promise<void> {
    return new Promise((resolve) => {
      const check = () => {
        if (this.brokers.get(String(this.options.brokerId)) === undefined) {
          this.brokers.off('change', check);
          resolve();
        }
      };
      this.brokers.on('change', check);
      check();
    });
  }

  private markLost(err: Error): void {
    if (!this.registered || this.closed) return;
    this.registered = false;
    this.onProblem(`broker ${this.options.brokerId} lost its registration; registering again`, err);
    this.emit('lost', err);
    void this.registerAgain();
  }

  private async registerAgain(): Promise<void> {
    for (let delayMs = 100; !this.closed && !this.registered; delayMs = Math.min(delayMs * 2, 1_000)) {
      try {
        if (await this.tryRegister(true)) {
          if (this.closed) {
            await this.lease?.revoke().catch(() => undefined);
            return;
          }
          this.emit('registered');
          return;
        }
        this.onProblem(`broker id ${this.options.brokerId} was taken by another process while this broker was cut off`, undefined);
      } catch (err) {
        if (!isEtcdTransient(err)) this.onProblem('registering again failed', err);
      }
      await pause(delayMs);
    }
  }
}
