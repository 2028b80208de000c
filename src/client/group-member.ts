/**
 * One consumer's membership in a group: join, heartbeat in the background, leave. The broker computes the
 * assignment; every join and heartbeat reply carries the member's partitions and the generation, and this
 * class hands each change to the consumer (in order, one at a time). A member the broker no longer knows
 * (session expired, broker restarted) joins again; retriable failures are retried on the next beat.
 */
import { BrokerError, asBrokerError } from './errors.js';
import { HttpClient, segment } from './http.js';
import { backoffMs, sleep, type BackoffOptions } from './retry.js';
import type { TopicPartition } from './types.js';

export interface Assignment {
  generation: number;
  assignments: TopicPartition[];
}

export interface GroupMemberOptions {
  group: string;
  topics: string[];
  sessionTimeoutMs: number;
  heartbeatIntervalMs: number;
  assignor: 'range' | 'roundrobin' | undefined;
  backoff: BackoffOptions;
  /** Called before each heartbeat (the consumer commits what was processed, so a revocation loses little). */
  beforeHeartbeat: () => Promise<void>;
  onAssignment: (assignment: Assignment) => Promise<void>;
  /** A failure the member cannot get past by retrying (an unknown topic, say). */
  onError: (err: BrokerError) => void;
}

export class GroupMember {
  memberId: string | null = null;
  generation = -1;
  private stopped = false;
  private readonly stopSignal = new AbortController();
  private loop: Promise<void> | null = null;
  private beating: Promise<void> | null = null;
  private nextBeat: Promise<void> | null = null;
  private current = '';

  constructor(
    private readonly http: HttpClient,
    private readonly options: GroupMemberOptions,
  ) {}

  private get base(): string {
    return `/groups/${segment(this.options.group)}/members`;
  }

  /** Joins (retrying retriable errors) and applies the first assignment, then heartbeats in the background. */
  async start(): Promise<void> {
    await this.join();
    this.loop = this.heartbeatLoop();
  }

  private async join(): Promise<void> {
    for (let attempt = 0; !this.stopped; attempt++) {
      try {
        const reply = await this.http.json<Assignment & { memberId: string }>('POST', this.base, {
          json: { topics: this.options.topics, sessionTimeoutMs: this.options.sessionTimeoutMs, ...(this.options.assignor ? { assignor: this.options.assignor } : {}) },
        });
        this.memberId = reply.memberId;
        await this.apply(reply, true);
        return;
      } catch (err) {
        if (!(err instanceof BrokerError) || !err.retriable) throw err;
        await sleep(backoffMs(attempt, this.options.backoff), this.stopSignal.signal);
      }
    }
  }

  private async heartbeatLoop(): Promise<void> {
    let failures = 0;
    while (!this.stopped) {
      await sleep(failures > 0 ? backoffMs(failures, this.options.backoff) : this.options.heartbeatIntervalMs, this.stopSignal.signal);
      if (this.stopped) return;
      try {
        await this.options.beforeHeartbeat();
        await this.beat();
        failures = 0;
      } catch (err) {
        const error = asBrokerError(err);
        if (error.retriable) failures++;
        else {
          failures = 0;
          this.options.onError(error);
        }
      }
    }
  }

  /**
   * Sends a heartbeat now (also used right after a commit was refused for a stale generation). One beat at a
   * time, so two beats answered UNKNOWN_MEMBER_ID cannot each join and leave a spare member behind in the
   * group. A beat asked for while one is under way follows it (callers then share that one): the reply under
   * way may predate what the caller just learned, such as a rebalance that refused its commit.
   */
  beat(): Promise<void> {
    if (!this.beating) {
      this.beating = this.beatOnce().finally(() => (this.beating = null));
      return this.beating;
    }
    this.nextBeat ??= this.beating
      .catch(() => undefined)
      .then(() => {
        this.nextBeat = null;
        return this.beat();
      });
    return this.nextBeat;
  }

  private async beatOnce(): Promise<void> {
    if (this.stopped || this.memberId === null) return;
    try {
      const reply = await this.http.json<Assignment>('POST', `${this.base}/${segment(this.memberId)}/heartbeat`);
      await this.apply(reply);
    } catch (err) {
      if (err instanceof BrokerError && (err.code === 'UNKNOWN_MEMBER_ID' || err.code === 'UNKNOWN_GROUP')) {
        this.memberId = null;
        await this.join();
        return;
      }
      throw err;
    }
  }

  private async apply(assignment: Assignment, joined = false): Promise<void> {
    // A reply from an older generation (a heartbeat answered before a rejoin) must not undo a newer assignment.
    if (!joined && assignment.generation < this.generation) return;
    const key = `${assignment.generation}:${assignment.assignments.map((a) => `${a.topic}/${a.partition}`).join(',')}`;
    this.generation = assignment.generation;
    if (key === this.current) return;
    this.current = key;
    await this.options.onAssignment(assignment);
  }

  /** Stops heartbeating and leaves the group (its partitions go to the other members at once). */
  async leave(): Promise<void> {
    this.stopped = true;
    this.stopSignal.abort();
    await this.loop?.catch(() => undefined);
    await this.nextBeat?.catch(() => undefined); // a rejoin under way finishes first, so its member id is the one that leaves
    await this.beating?.catch(() => undefined);
    if (this.memberId === null) return;
    const memberId = this.memberId;
    this.memberId = null;
    await this.http.json('DELETE', `${this.base}/${segment(memberId)}`).catch((err) => {
      // Not fatal: the broker drops the member after its session timeout anyway.
      if (!(err instanceof BrokerError) || err.code !== 'UNKNOWN_MEMBER_ID') throw err;
    });
  }
}
