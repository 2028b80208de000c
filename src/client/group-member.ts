/**
 * One consumer's membership in a group: join, heartbeat in the background, report released partitions, leave.
 * The broker computes the assignment; every join and heartbeat reply carries the member's view (what it owns,
 * what it must release, what it will get) and the generation, and this class hands each view to the consumer
 * in order. The consumer decides when a partition is released (after its records are processed and
 * committed) and calls `release`.
 *
 * Heartbeats are long polls: each asks the broker to hold the reply up to `heartbeatIntervalMs` unless the
 * view changes, so a change is learnt at once and an idle member sends one heartbeat per interval. One
 * heartbeat is in flight at a time; an urgent one (a release, or after a refused commit) aborts the one
 * held and goes at once without waiting. After a failed or aborted heartbeat the next one does not wait
 * either, so the member never waits on a view it did not see.
 *
 * A member the broker no longer knows (its session expired, or the broker restarted) has lost its
 * partitions: `onLost`, then it joins again, claiming the partitions the consumer still has positions for, so
 * after a broker restart each member can get its own partitions back. Retriable failures are retried with
 * backoff; others go to `onError`.
 */
import { BrokerError, asBrokerError } from './errors.js';
import type { Logger, RetryEvent } from './events.js';
import { segment } from './http.js';
import type { Brokers } from './brokers.js';
import { backoffMs, sleep, type BackoffOptions } from './retry.js';
import type { TopicPartition } from './types.js';

export interface MemberView {
  generation: number;
  assignments: TopicPartition[];
  revoke: TopicPartition[];
  pending: TopicPartition[];
}

export interface GroupMemberOptions {
  group: string;
  topics: string[];
  sessionTimeoutMs: number;
  heartbeatIntervalMs: number;
  requestTimeoutMs: number;
  assignor: 'range' | 'roundrobin' | undefined;
  clientId: string;
  backoff: BackoffOptions;
  logger: Logger;
  /** Waits until the subscribed topics exist (or creates them); false when the consumer closed meanwhile. */
  ensureTopics: () => Promise<boolean>;
  /** Partitions to claim at a (re)join: those the consumer still has positions for. */
  claims: () => TopicPartition[];
  /** Each view, in order (not awaited: the consumer applies them in the background). */
  onView: (view: MemberView) => void;
  /** The broker forgot this member: every partition is lost (called before it joins again). */
  onLost: (reason: BrokerError) => void;
  /** A failure the member cannot get past by retrying. */
  onError: (err: BrokerError) => void;
}

function keyOf(p: TopicPartition): string {
  return `${p.topic}/${p.partition}`;
}

function viewKey(v: MemberView): string {
  return JSON.stringify([v.generation, v.assignments.map(keyOf), v.revoke.map(keyOf), v.pending.map(keyOf)]);
}

export class GroupMember {
  memberId: string | null = null;
  generation = -1;
  /** a join has succeeded at least once */
  joined = false;
  private stopped = false;
  private readonly stopSignal = new AbortController();
  private loop: Promise<void> | null = null;
  /** released partitions not yet reported to the broker */
  private readonly released = new Map<string, TopicPartition>();
  private inFlight: AbortController | null = null;
  private urgent = false;
  private wakeLoop: (() => void) | null = null;
  /** callers of beatNow() waiting for the next completed heartbeat */
  private waiters: (() => void)[] = [];

  constructor(
    private readonly http: Brokers,
    private readonly options: GroupMemberOptions,
  ) {}

  /** group requests go to the group's coordinator */
  private get route(): { group: string } {
    return { group: this.options.group };
  }

  private get base(): string {
    return `/groups/${segment(this.options.group)}/members`;
  }

  /** Joins (waiting for the topics, retrying retriable errors), then heartbeats in the background. */
  async start(): Promise<void> {
    await this.join();
    this.loop = this.heartbeatLoop();
  }

  private async join(): Promise<void> {
    for (let attempt = 0; !this.stopped; attempt++) {
      if (!(await this.options.ensureTopics())) return;
      try {
        const reply = await this.http.json<MemberView & { memberId: string }>('POST', this.base, {
          route: this.route,
          json: {
            topics: this.options.topics,
            sessionTimeoutMs: this.options.sessionTimeoutMs,
            clientId: this.options.clientId,
            owned: this.options.claims(),
            ...(this.options.assignor ? { assignor: this.options.assignor } : {}),
          },
        });
        this.memberId = reply.memberId;
        this.generation = reply.generation;
        this.joined = true;
        this.released.clear();
        this.options.logger.info({ group: this.options.group, memberId: reply.memberId, generation: reply.generation, clientId: this.options.clientId }, 'joined the group');
        this.options.onView(reply);
        return;
      } catch (err) {
        if (err instanceof BrokerError && err.code === 'UNKNOWN_TOPIC') continue; // deleted meanwhile: wait for it again
        if (!(err instanceof BrokerError) || !err.retriable) throw err;
        this.retried({ operation: 'join', attempt: attempt + 1, delayMs: backoffMs(attempt, this.options.backoff), error: err });
        await sleep(backoffMs(attempt, this.options.backoff), this.stopSignal.signal);
      }
    }
  }

  /** Reports partitions as released at once (an urgent heartbeat); resolves after that heartbeat. */
  release(partitions: TopicPartition[]): Promise<void> {
    for (const p of partitions) this.released.set(keyOf(p), p);
    return this.beatNow();
  }

  /** Sends a heartbeat now (a held one is cut short); resolves once a heartbeat completed after this call. */
  beatNow(): Promise<void> {
    if (this.stopped || !this.loop) return Promise.resolve();
    return new Promise<void>((resolve) => {
      this.waiters.push(resolve);
      this.urgent = true;
      this.inFlight?.abort();
      this.wakeLoop?.();
    });
  }

  private retried(event: RetryEvent): void {
    this.options.logger.debug({ group: this.options.group, operation: event.operation, attempt: event.attempt, err: event.error.message }, 'retrying');
    this.options.backoff.onRetry?.(event);
  }

  /** Sleeps `ms`, or less when woken (an urgent beat, a stop). */
  private pause(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      const self = this;
      function done() {
        clearTimeout(timer);
        if (self.wakeLoop === done) self.wakeLoop = null;
        resolve();
      }
      this.wakeLoop = done;
    });
  }

  private async heartbeatLoop(): Promise<void> {
    let failures = 0;
    let sawLastReply = true; // the join reply
    let lastView = '';
    while (!this.stopped) {
      if (failures > 0 && !this.urgent) await this.pause(backoffMs(failures, this.options.backoff));
      if (this.stopped) break;
      if (this.memberId === null) {
        await this.rejoin();
        sawLastReply = true;
        continue;
      }
      const hold = this.urgent || !sawLastReply ? 0 : this.options.heartbeatIntervalMs;
      this.urgent = false;
      const waiters = this.waiters.splice(0);
      const releasing = [...this.released.values()];
      const abort = new AbortController();
      this.inFlight = abort;
      const sentAt = Date.now();
      try {
        const reply = await this.http.json<MemberView>('POST', `${this.base}/${segment(this.memberId)}/heartbeat`, {
          route: this.route,
          json: { released: releasing, maxWaitMs: hold },
          signal: abort.signal,
          timeoutMs: this.options.requestTimeoutMs + hold,
        });
        for (const p of releasing) this.released.delete(keyOf(p));
        sawLastReply = true;
        failures = 0;
        const key = viewKey(reply);
        const changed = key !== lastView || releasing.length > 0;
        lastView = key;
        this.generation = reply.generation;
        this.options.onView(reply);
        for (const w of waiters) w();
        // A broker that answers a waiting heartbeat early with nothing new (closing, say): do not spin.
        const early = hold - (Date.now() - sentAt);
        if (!changed && early > 0 && !this.urgent) await this.pause(early);
      } catch (err) {
        sawLastReply = false;
        if (abort.signal.aborted) {
          this.waiters.unshift(...waiters); // cut short for an urgent beat or a stop: the next one serves them
          continue;
        }
        const error = asBrokerError(err);
        if (error.code === 'UNKNOWN_MEMBER_ID' || error.code === 'UNKNOWN_GROUP') {
          this.options.logger.warn({ group: this.options.group, memberId: this.memberId, err: error.message }, 'the group no longer knows this member; its partitions are lost, joining again');
          this.memberId = null;
          this.released.clear();
          failures = 0; // the broker answered: rejoin at once
          this.options.onLost(error);
          this.waiters.unshift(...waiters);
          continue;
        }
        for (const w of waiters) w();
        if (error.retriable) {
          failures++;
          this.retried({ operation: 'heartbeat', attempt: failures, delayMs: backoffMs(failures, this.options.backoff), error });
        } else {
          failures = 0;
          this.options.onError(error);
        }
      } finally {
        if (this.inFlight === abort) this.inFlight = null;
      }
    }
    for (const w of this.waiters.splice(0)) w();
  }

  private async rejoin(): Promise<void> {
    try {
      await this.join();
    } catch (err) {
      this.options.onError(asBrokerError(err));
      await this.pause(backoffMs(5, this.options.backoff));
    }
    for (const w of this.waiters.splice(0)) w();
  }

  /** Stops heartbeating and leaves the group (its partitions go to the other members at once). */
  async leave(): Promise<void> {
    this.stopped = true;
    this.stopSignal.abort();
    this.inFlight?.abort();
    this.wakeLoop?.();
    await this.loop?.catch(() => undefined);
    if (this.memberId === null) return;
    const memberId = this.memberId;
    this.memberId = null;
    await this.http.json('DELETE', `${this.base}/${segment(memberId)}`, { route: this.route }).catch((err) => {
      // Not fatal: the broker drops the member after its session timeout anyway.
      if (!(err instanceof BrokerError) || err.code !== 'UNKNOWN_MEMBER_ID') throw err;
    });
  }
}
