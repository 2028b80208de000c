/**
 * What a leader knows during one leader epoch (its term): each follower's position and caught-up time (from
 * their fetches), where the term started in the log, the ISR proposal in flight, and the periodic ISR check.
 * Made by Partition.makeLeader for a new epoch and ended by makeFollower or close; a new term starts from
 * nothing (Kafka resets the remote replicas' state on becoming leader). The Partition owns the ISR and the
 * high watermark and asks its term for the rules' inputs (isr-rules.ts).
 */
import type { Clock } from '../log/clock.js';
import type { LogEvents } from '../log/log-config.js';
import type { TopicPartition } from '../log/segment-files.js';
import { afterFetch, highWatermarkCandidate, initialFollowerState, laggingFollowers, maximalIsr, type FollowerState } from './isr-rules.js';
import { IsrChanges, type AlterIsr } from './isr-changes.js';

/** One follower as its leader sees it (metrics, describe). */
export interface FollowerLag {
  brokerId: number;
  /** records the follower is behind the leader's log end; null while its position is unknown */
  records: number | null;
  /** ms since it was last caught up */
  ms: number;
}

export interface LeaderTermDeps {
  tp: TopicPartition;
  brokerId: number;
  clock: Clock;
  events: LogEvents;
  alterIsr: AlterIsr;
}

export class LeaderTerm {
  private readonly followers = new Map<number, FollowerState>();
  readonly isrChanges: IsrChanges;
  private cancelCheck: (() => void) | null = null;
  private ended = false;

  constructor(
    /** the log end offset when the term began: a follower must have it all to join the ISR */
    readonly epochStartOffset: number,
    replicas: readonly number[],
    isr: readonly number[],
    private readonly deps: LeaderTermDeps,
  ) {
    this.isrChanges = new IsrChanges(deps.tp, deps.alterIsr, deps.events);
    this.updateReplicas(replicas, isr);
  }

  /** The same term with other replicas or ISR (the controller's record changed): new followers start unknown. */
  updateReplicas(replicas: readonly number[], isr: readonly number[]): void {
    const now = this.deps.clock.now();
    for (const id of [...this.followers.keys()]) if (!replicas.includes(id)) this.followers.delete(id);
    for (const id of replicas) {
      if (id !== this.deps.brokerId && !this.followers.has(id)) this.followers.set(id, initialFollowerState(id, isr.includes(id), now));
    }
  }

  /** A follower fetched at `fetchOffset` while this leader's log ends at `leaderEnd`; its new state. */
  recordFetch(brokerId: number, fetchOffset: number, leaderEnd: number): FollowerState {
    const state = afterFetch(this.followers.get(brokerId) ?? initialFollowerState(brokerId, false, 0), fetchOffset, leaderEnd, this.deps.clock.now());
    this.followers.set(brokerId, state);
    return state;
  }

  /** The high watermark the (maximal) ISR allows with the leader's end at `leaderEnd`; null: hold it. */
  highWatermarkCandidate(isr: readonly number[], leaderEnd: number): number | null {
    return highWatermarkCandidate(maximalIsr(isr, this.isrChanges.pending?.isr ?? null), this.deps.brokerId, leaderEnd, this.followers);
  }

  /** ISR members not caught up for more than `maxLagMs`. */
  lagging(isr: readonly number[], maxLagMs: number): number[] {
    return laggingFollowers(isr, this.deps.brokerId, this.followers, this.deps.clock.now(), maxLagMs);
  }

  lags(leaderEnd: number): FollowerLag[] {
    const now = this.deps.clock.now();
    return [...this.followers.values()].map((f) => ({
      brokerId: f.brokerId,
      records: f.logEndOffset < 0 ? null : Math.max(0, leaderEnd - f.logEndOffset),
      ms: f.logEndOffset >= leaderEnd ? 0 : Math.max(0, now - f.lastCaughtUpTimeMs),
    }));
  }

  /** Runs `check` every `periodMs` on the clock until the term ends. */
  startChecks(periodMs: number, check: () => void): void {
    if (this.cancelCheck || this.ended) return;
    this.cancelCheck = this.deps.clock.setTimer(periodMs, () => {
      this.cancelCheck = null;
      if (this.ended) return;
      check();
      this.startChecks(periodMs, check);
    });
  }

  /** The term is over: no more checks, and an answer to a proposal in flight is dropped. */
  end(): void {
    this.ended = true;
    this.cancelCheck?.();
    this.cancelCheck = null;
    this.isrChanges.reset();
  }
}
