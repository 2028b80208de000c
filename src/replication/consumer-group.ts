/**
 * The membership state of one consumer group, driven by the broker (Kafka's KIP-848 style): members join
 * with their subscriptions, the broker computes the assignment, and members learn it from the join reply and
 * every heartbeat. Any membership change (join, leave, session expiry) or a change in the partition counts of
 * subscribed topics reassigns at once (sticky, see assignors.ts) and bumps the generation, which fences
 * offset commits from members that have not heard of the change yet.
 *
 * Pure state: time comes in as `now` arguments (the coordinator reads its Clock), member ids from an
 * injected generator, and nothing here does I/O. Offsets live elsewhere (the coordinator's log).
 */
import { randomUUID } from 'node:crypto';
import { BrokerError } from '../log/errors.js';
import { assignPartitions, partitionKey, type AssignedPartition, type Assignment, type AssignorName } from './assignors.js';

export const DEFAULT_SESSION_TIMEOUT_MS = 45_000;
export const MIN_SESSION_TIMEOUT_MS = 1_000;
export const MAX_SESSION_TIMEOUT_MS = 1_800_000;

export interface MemberState {
  memberId: string;
  topics: string[];
  sessionTimeoutMs: number;
  assignor: AssignorName;
  joinedAt: number;
  lastSeen: number;
}

export interface MemberView {
  memberId: string;
  generation: number;
  assignments: AssignedPartition[];
}

export type GroupState = 'Empty' | 'Stable';

export class ConsumerGroup {
  generation = 0;
  private readonly members = new Map<string, MemberState>();
  private assignment: Assignment = new Map();

  constructor(
    readonly groupId: string,
    private readonly newMemberId: () => string = randomUUID,
  ) {}

  get state(): GroupState {
    return this.members.size === 0 ? 'Empty' : 'Stable';
  }

  get memberCount(): number {
    return this.members.size;
  }

  /** The assignor of the longest-standing member (members may ask for different ones). */
  get assignor(): AssignorName {
    let oldest: MemberState | undefined;
    for (const m of this.members.values()) if (!oldest || m.joinedAt < oldest.joinedAt) oldest = m;
    return oldest?.assignor ?? 'range';
  }

  join(
    request: { topics: string[]; sessionTimeoutMs?: number; assignor?: AssignorName },
    now: number,
    partitionCounts: ReadonlyMap<string, number>,
  ): MemberView {
    const sessionTimeoutMs = request.sessionTimeoutMs ?? DEFAULT_SESSION_TIMEOUT_MS;
    if (!Number.isInteger(sessionTimeoutMs) || sessionTimeoutMs < MIN_SESSION_TIMEOUT_MS || sessionTimeoutMs > MAX_SESSION_TIMEOUT_MS) {
      throw new BrokerError('INVALID_REQUEST', `sessionTimeoutMs must be from ${MIN_SESSION_TIMEOUT_MS} to ${MAX_SESSION_TIMEOUT_MS}`);
    }
    if (request.topics.length === 0) throw new BrokerError('INVALID_REQUEST', 'a member must subscribe to at least one topic');
    const memberId = this.newMemberId();
    this.members.set(memberId, {
      memberId,
      topics: [...new Set(request.topics)].sort(),
      sessionTimeoutMs,
      assignor: request.assignor ?? 'range',
      joinedAt: now,
      lastSeen: now,
    });
    this.rebalance(partitionCounts, true);
    return this.view(memberId);
  }

  /** A member's heartbeat: keeps its session alive and tells it the current generation and assignment. */
  heartbeat(memberId: string, now: number): MemberView {
    const member = this.member(memberId);
    member.lastSeen = now;
    return this.view(memberId);
  }

  leave(memberId: string, partitionCounts: ReadonlyMap<string, number>): void {
    this.member(memberId);
    this.members.delete(memberId);
    this.rebalance(partitionCounts, true);
  }

  /** Removes members whose session ran out; returns them (the caller logs and reschedules). */
  expire(now: number, partitionCounts: ReadonlyMap<string, number>): string[] {
    const gone = [...this.members.values()].filter((m) => now - m.lastSeen >= m.sessionTimeoutMs).map((m) => m.memberId);
    for (const id of gone) this.members.delete(id);
    if (gone.length > 0) this.rebalance(partitionCounts, true);
    return gone;
  }

  /** When the next member's session runs out (for the coordinator's timer), or null without members. */
  nextExpiry(): number | null {
    let next: number | null = null;
    for (const m of this.members.values()) {
      const at = m.lastSeen + m.sessionTimeoutMs;
      if (next === null || at < next) next = at;
    }
    return next;
  }

  /**
   * Housekeeping before answering: expires members whose session ran out (which reassigns) or else picks up
   * changed partition counts. Returns the expired members.
   */
  tick(now: number, partitionCounts: ReadonlyMap<string, number>): string[] {
    const gone = this.expire(now, partitionCounts);
    if (gone.length === 0) this.refresh(partitionCounts);
    return gone;
  }

  /** Topic partitions changed (created, deleted): reassign, and bump the generation if anything moved. */
  refresh(partitionCounts: ReadonlyMap<string, number>): void {
    this.rebalance(partitionCounts, false);
  }

  /**
   * Fencing of an offset commit: with a member id, the member must exist and the generation be current;
   * without one (a standalone consumer), the group must have no live members.
   */
  checkCommit(memberId: string | undefined, generation: number | undefined): void {
    if (memberId === undefined) {
      if (this.members.size > 0) {
        throw new BrokerError('GROUP_NOT_EMPTY', `group ${this.groupId} has ${this.members.size} live members; commit as one of them`, {
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

  /** A member commits only the partitions assigned to it in the current generation. */
  checkOwnership(memberId: string, partitions: readonly { topic: string; partition: number }[]): void {
    const owned = new Set((this.assignment.get(memberId) ?? []).map((p) => partitionKey(p.topic, p.partition)));
    for (const p of partitions) {
      if (!owned.has(partitionKey(p.topic, p.partition))) {
        throw new BrokerError('INVALID_REQUEST', `member ${memberId} commits ${p.topic}-${p.partition}, which is not assigned to it in generation ${this.generation}`, {
          details: { group: this.groupId, memberId, topic: p.topic, partition: p.partition },
        });
      }
    }
  }

  /** Admin operations (delete, reset offsets) need a group without live members. */
  checkEmpty(what: string): void {
    if (this.members.size > 0) {
      throw new BrokerError('GROUP_NOT_EMPTY', `cannot ${what}: group ${this.groupId} has ${this.members.size} live members`, {
        details: { group: this.groupId, members: this.members.size },
      });
    }
  }

  describeMembers(): { memberId: string; topics: string[]; assignments: AssignedPartition[]; lastHeartbeat: number }[] {
    return [...this.members.values()].map((m) => ({
      memberId: m.memberId,
      topics: m.topics,
      assignments: this.assignment.get(m.memberId) ?? [],
      lastHeartbeat: m.lastSeen,
    }));
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

  private view(memberId: string): MemberView {
    return { memberId, generation: this.generation, assignments: this.assignment.get(memberId) ?? [] };
  }

  private rebalance(partitionCounts: ReadonlyMap<string, number>, membershipChanged: boolean): void {
    const next = assignPartitions(
      this.assignor,
      [...this.members.values()].map((m) => ({ memberId: m.memberId, topics: m.topics })),
      partitionCounts,
      this.assignment,
    );
    const changed = membershipChanged || !sameAssignment(this.assignment, next);
    this.assignment = next;
    if (changed) this.generation++;
  }
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
