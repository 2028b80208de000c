/**
 * The membership state of one consumer group, driven by the broker (Kafka's KIP-848 style): members join
 * with their subscriptions, the broker computes a target assignment (sticky, see assignors.ts), and members
 * learn from the join reply and every heartbeat what they own and what they must give up.
 *
 * Revoke before assign. The target says who *should* own each partition; `owners` says who *does*. A
 * partition changes owner only when it is free: its owner released it (a heartbeat's `released`, sent after
 * the member finished what it handed out and committed), left, or was removed (session expired, or it did not
 * release within its session timeout). So two live members never own one partition. A member's view:
 *   assignments  partitions it owns now (it may fetch and commit them)
 *   revoke       owned partitions whose target is another member: finish, commit, release
 *   pending      target partitions it does not own yet (their owner is releasing them, or the group forms)
 *
 * Group formation: when a group without members gets its first join and the initial delay is on, nobody is
 * given anything until the delay ends or as many members joined as the group had before a broker restart
 * (`expectedMembers`), so the first member back does not take every partition and give most of them up again.
 *
 * The generation counts changes of membership and of the target (partition counts); commits must carry the
 * current one. Pure state: time comes in as `now`, member ids from an injected generator, no I/O.
 */
import { randomUUID } from 'node:crypto';
import { BrokerError } from '../common/errors.js';
import { partitionKey } from '../common/topic-names.js';
import { assignPartitions, type AssignedPartition, type Assignment, type AssignorName } from './assignors.js';

export const DEFAULT_SESSION_TIMEOUT_MS = 45_000;
export const MIN_SESSION_TIMEOUT_MS = 1_000;
export const MAX_SESSION_TIMEOUT_MS = 1_800_000;

export interface MemberState {
  memberId: string;
  clientId: string | null;
  host: string | null;
  topics: string[];
  sessionTimeoutMs: number;
  assignor: AssignorName;
  joinedAt: number;
  lastSeen: number;
  /** partitions it said it owned when it joined (after the broker forgot it): kept with it where free */
  claimed: AssignedPartition[];
  /** since when it holds a partition it was asked to release (null: none) */
  revokingSince: number | null;
}

export interface JoinRequest {
  topics: string[];
  sessionTimeoutMs?: number;
  assignor?: AssignorName;
  clientId?: string | null;
  host?: string | null;
  owned?: AssignedPartition[];
}

export interface MemberView {
  memberId: string;
  generation: number;
  assignments: AssignedPartition[];
  revoke: AssignedPartition[];
  pending: AssignedPartition[];
}

export interface RemovedMember {
  memberId: string;
  clientId: string | null;
  reason: 'session expired' | 'did not release in time';
}

export type GroupState = 'Empty' | 'Assigning' | 'Reconciling' | 'Stable';

interface Owner extends AssignedPartition {
  memberId: string;
}

export class ConsumerGroup {
  generation = 0;
  /** Members the group had when the broker stopped: the initial delay ends early once that many joined. */
  expectedMembers: number | null = null;
  private readonly members = new Map<string, MemberState>();
  private target: Assignment = new Map();
  /** partition key -> its target member */
  private targetOwners = new Map<string, string>();
  /** partition key -> the member that owns it now */
  private readonly owners = new Map<string, Owner>();
  /** while the group forms (initial delay): when the delay ends */
  private delayUntil: number | null = null;

  constructor(
    readonly groupId: string,
    private readonly newMemberId: () => string = randomUUID,
  ) {}

  get state(): GroupState {
    if (this.members.size === 0) return 'Empty';
    if (this.delayUntil !== null) return 'Assigning';
    for (const [key, memberId] of this.targetOwners) if (this.owners.get(key)?.memberId !== memberId) return 'Reconciling';
    return 'Stable';
  }

  get memberCount(): number {
    return this.members.size;
  }

  /** When the group's initial delay ends (null when it is not forming). */
  get formingUntil(): number | null {
    return this.delayUntil;
  }

  /** The assignor of the longest-standing member (members may ask for different ones). */
  get assignor(): AssignorName {
    let oldest: MemberState | undefined;
    for (const m of this.members.values()) if (!oldest || m.joinedAt < oldest.joinedAt) oldest = m;
    return oldest?.assignor ?? 'range';
  }

  /** Adds a member; `initialDelayMs` applies when the group had no members. */
  join(request: JoinRequest, now: number, partitionCounts: ReadonlyMap<string, number>, initialDelayMs = 0): MemberView {
    const sessionTimeoutMs = request.sessionTimeoutMs ?? DEFAULT_SESSION_TIMEOUT_MS;
    if (!Number.isInteger(sessionTimeoutMs) || sessionTimeoutMs < MIN_SESSION_TIMEOUT_MS || sessionTimeoutMs > MAX_SESSION_TIMEOUT_MS) {
      throw new BrokerError('INVALID_REQUEST', `sessionTimeoutMs must be from ${MIN_SESSION_TIMEOUT_MS} to ${MAX_SESSION_TIMEOUT_MS}`);
    }
    if (request.topics.length === 0) throw new BrokerError('INVALID_REQUEST', 'a member must subscribe to at least one topic');
    if (this.members.size === 0 && initialDelayMs > 0) this.delayUntil = now + initialDelayMs;
    const memberId = this.newMemberId();
    this.members.set(memberId, {
      memberId,
      clientId: request.clientId ?? null,
      host: request.host ?? null,
      topics: [...new Set(request.topics)].sort(),
      sessionTimeoutMs,
      assignor: request.assignor ?? 'range',
      joinedAt: now,
      lastSeen: now,
      claimed: request.owned ?? [],
      revokingSince: null,
    });
    if (this.delayUntil === null) this.expectedMembers = null; // only the delay after a restart waits for them
    else if (this.expectedMembers !== null && this.members.size >= this.expectedMembers) this.endDelay();
    this.rebalance(partitionCounts, now, true);
    return this.view(memberId);
  }

  /**
   * A member's heartbeat: keeps its session alive, takes back the partitions it released (which go to their
   * new owners at once), and tells it the current generation and its view.
   */
  heartbeat(memberId: string, now: number, released: readonly AssignedPartition[] = []): MemberView {
    const member = this.member(memberId);
    member.lastSeen = now;
    let freed = false;
    for (const p of released) {
      const key = partitionKey(p.topic, p.partition);
      // A release of a partition the member is still meant to have (the target moved back) is ignored.
      if (this.owners.get(key)?.memberId === memberId && this.targetOwners.get(key) !== memberId) {
        this.owners.delete(key);
        freed = true;
      }
    }
    if (freed) this.reconcile(now);
    return this.view(memberId);
  }

  leave(memberId: string, now: number, partitionCounts: ReadonlyMap<string, number>): MemberState {
    const member = this.member(memberId);
    this.members.delete(memberId);
    this.rebalance(partitionCounts, now, true);
    return member;
  }

  /**
   * Removes members whose session ran out, and members that held a partition they were asked to release
   * for longer than their session timeout (an application stuck in its processing); returns them.
   */
  expire(now: number, partitionCounts: ReadonlyMap<string, number>): RemovedMember[] {
    const gone: RemovedMember[] = [];
    for (const m of this.members.values()) {
      if (now - m.lastSeen >= m.sessionTimeoutMs) gone.push({ memberId: m.memberId, clientId: m.clientId, reason: 'session expired' });
      else if (m.revokingSince !== null && now - m.revokingSince >= m.sessionTimeoutMs) {
        gone.push({ memberId: m.memberId, clientId: m.clientId, reason: 'did not release in time' });
      }
    }
    for (const { memberId } of gone) this.members.delete(memberId);
    if (gone.length > 0) this.rebalance(partitionCounts, now, true);
    return gone;
  }

  /** The next moment something is due (a session or release deadline, the end of the initial delay), or null. */
  nextDeadline(): number | null {
    let next = this.delayUntil;
    const consider = (at: number) => {
      if (next === null || at < next) next = at;
    };
    for (const m of this.members.values()) {
      consider(m.lastSeen + m.sessionTimeoutMs);
      if (m.revokingSince !== null) consider(m.revokingSince + m.sessionTimeoutMs);
    }
    return next;
  }

  /**
   * Housekeeping before answering: ends the initial delay when it is due, expires members whose deadlines
   * passed (which reassigns), else picks up changed partition counts. Returns the removed members.
   */
  tick(now: number, partitionCounts: ReadonlyMap<string, number>): RemovedMember[] {
    if (this.delayUntil !== null && now >= this.delayUntil) {
      this.endDelay();
      this.reconcile(now);
    }
    const gone = this.expire(now, partitionCounts);
    if (gone.length === 0) this.refresh(partitionCounts, now);
    return gone;
  }

  /** Topic partitions changed (created, deleted): recompute the target, and bump the generation if it moved. */
  refresh(partitionCounts: ReadonlyMap<string, number>, now: number): void {
    this.rebalance(partitionCounts, now, false);
  }

  /**
   * Fencing of an offset commit: with a member id, the member must exist and the generation be current;
   * without one (a standalone consumer), the group must have no live members.
   */
  checkCommit(memberId: string | undefined, generation: number | undefined): void {
    if (memberId === undefined) {
      if (this.members.size > 0) {
        throw new BrokerError('GROUP_NOT_EMPTY', `group ${this.groupId} has ${liveMembers(this.members.size)}; commit as one of them`, {
          details: { group: this.groupId, members: this.members.size },
        });
      }
      return;
    }
    this.member(memberId);
    if (generation !== this.generation) {
      throw new BrokerError('ILLEGAL_GENERATION', `generation ${generation} is not the group's current generation ${this.generation}`, {
        details: { group: this.groupId, generation, currentGeneration: this.generation },
      });
    }
  }

  /** A member commits only partitions it owns now (including those it is releasing). */
  checkOwnership(memberId: string, partitions: readonly { topic: string; partition: number }[]): void {
    for (const p of partitions) {
      if (this.owners.get(partitionKey(p.topic, p.partition))?.memberId !== memberId) {
        throw new BrokerError('INVALID_REQUEST', `member ${memberId} commits ${p.topic}-${p.partition}, which it does not own in generation ${this.generation}`, {
          details: { group: this.groupId, memberId, topic: p.topic, partition: p.partition },
        });
      }
    }
  }

  /** Admin operations (delete, reset offsets) need a group without live members. */
  checkEmpty(what: string): void {
    if (this.members.size > 0) {
      throw new BrokerError('GROUP_NOT_EMPTY', `cannot ${what}: group ${this.groupId} has ${liveMembers(this.members.size)}`, {
        details: { group: this.groupId, members: this.members.size },
      });
    }
  }

  /** The member, or UNKNOWN_MEMBER_ID. */
  memberState(memberId: string): MemberState {
    return this.member(memberId);
  }

  describeMembers() {
    return [...this.members.values()].map((m) => {
      const v = this.view(m.memberId);
      return {
        memberId: m.memberId,
        clientId: m.clientId,
        host: m.host,
        topics: m.topics,
        assignments: v.assignments,
        revoking: v.revoke,
        pending: v.pending,
        lastHeartbeat: m.lastSeen,
      };
    });
  }

  view(memberId: string): MemberView {
    this.member(memberId);
    const assignments: AssignedPartition[] = [];
    const revoke: AssignedPartition[] = [];
    for (const [key, owner] of this.owners) {
      if (owner.memberId !== memberId) continue;
      const p = { topic: owner.topic, partition: owner.partition };
      assignments.push(p);
      if (this.targetOwners.get(key) !== memberId) revoke.push(p);
    }
    const pending = (this.target.get(memberId) ?? []).filter((p) => this.owners.get(partitionKey(p.topic, p.partition))?.memberId !== memberId);
    return { memberId, generation: this.generation, assignments: sorted(assignments), revoke: sorted(revoke), pending };
  }

  private member(memberId: string): MemberState {
    const member = this.members.get(memberId);
    if (!member) {
      throw new BrokerError('UNKNOWN_MEMBER_ID', `member ${memberId} is not in group ${this.groupId} (expired or never joined)`, {
        details: { group: this.groupId, memberId },
      });
    }
    return member;
  }

  private endDelay(): void {
    this.delayUntil = null;
    this.expectedMembers = null;
  }

  /**
   * Where each partition is now, as the sticky assignor's starting point: its owner; for a free one, the
   * member that claimed it when it joined; else its current target.
   */
  private placement(): Assignment {
    const at = new Map<string, Owner>();
    for (const [memberId, partitions] of this.target) for (const p of partitions) at.set(partitionKey(p.topic, p.partition), { ...p, memberId });
    for (const m of this.members.values()) for (const p of m.claimed) at.set(partitionKey(p.topic, p.partition), { ...p, memberId: m.memberId });
    for (const [key, owner] of this.owners) at.set(key, owner);
    const placement: Assignment = new Map();
    for (const { memberId, topic, partition } of at.values()) {
      if (!this.members.has(memberId)) continue;
      const list = placement.get(memberId) ?? [];
      list.push({ topic, partition });
      placement.set(memberId, list);
    }
    return placement;
  }

  private rebalance(partitionCounts: ReadonlyMap<string, number>, now: number, membershipChanged: boolean): void {
    const next = assignPartitions(
      this.assignor,
      [...this.members.values()].map((m) => ({ memberId: m.memberId, topics: m.topics })),
      partitionCounts,
      this.placement(),
    );
    const changed = membershipChanged || !sameAssignment(this.target, next);
    this.target = next;
    this.targetOwners = new Map();
    for (const [memberId, partitions] of next) for (const p of partitions) this.targetOwners.set(partitionKey(p.topic, p.partition), memberId);
    if (changed) this.generation++;
    this.reconcile(now, partitionCounts);
  }

  /**
   * Frees partitions whose owner is gone (or which no longer exist), gives every free partition to its target
   * member (not while the group forms), and notes since when each member holds something to release.
   */
  private reconcile(now: number, partitionCounts?: ReadonlyMap<string, number>): void {
    for (const [key, owner] of this.owners) {
      const count = partitionCounts?.get(owner.topic);
      if (!this.members.has(owner.memberId) || (partitionCounts && (count === undefined || owner.partition >= count))) this.owners.delete(key);
    }
    if (this.delayUntil === null) {
      for (const [memberId, partitions] of this.target) {
        for (const p of partitions) {
          const key = partitionKey(p.topic, p.partition);
          if (!this.owners.has(key)) this.owners.set(key, { ...p, memberId });
        }
      }
    }
    const releasing = new Set<string>();
    for (const [key, owner] of this.owners) if (this.targetOwners.get(key) !== owner.memberId) releasing.add(owner.memberId);
    for (const m of this.members.values()) m.revokingSince = releasing.has(m.memberId) ? (m.revokingSince ?? now) : null;
  }
}

function sorted(list: AssignedPartition[]): AssignedPartition[] {
  return list.sort((a, b) => (a.topic === b.topic ? a.partition - b.partition : a.topic < b.topic ? -1 : 1));
}

function sameAssignment(a: Assignment, b: Assignment): boolean {
  if (a.size !== b.size) return false;
  for (const [id, list] of a) {
    const other = b.get(id);
    if (!other || other.length !== list.length) return false;
    for (let i = 0; i < list.length; i++) {
      if (list[i]!.topic !== other[i]!.topic || list[i]!.partition !== other[i]!.partition) return false;
    }
  }
  return true;
}

/** "1 live member", "3 live members". */
function liveMembers(n: number): string {
  return `${n} live member${n === 1 ? '' : 's'}`;
}
