/**
 * One group of Kafka's classic group protocol (JoinGroup / SyncGroup / Heartbeat / LeaveGroup), where the
 * members choose the assignment (the leader computes it and hands it over in SyncGroup) and the broker only
 * runs the rebalance barrier:
 *
 *   Empty --join--> PreparingRebalance --every member joined / rebalance timeout--> CompletingRebalance
 *     --leader's SyncGroup--> Stable --join of a new member, changed metadata, leave, session expiry-->
 *     PreparingRebalance ...      (the last member gone: Empty)
 *
 * Invariants: the generation moves by one at each completed join; a JoinGroup reply waits until the join
 * phase completes (members that do not rejoin within the rebalance timeout are removed); SyncGroup replies
 * of followers wait for the leader's; a member's session is checked only while it is not parked in a join or
 * sync (as Kafka keeps those alive). The group lives in memory; its offsets are the broker's durable
 * commits (groups/offsets-store via the GroupCoordinator).
 */
import { randomUUID } from 'node:crypto';
import type { Clock } from '../../log/clock.js';
import { KafkaErrors } from '../errors.js';

export type ClassicState = 'Empty' | 'PreparingRebalance' | 'CompletingRebalance' | 'Stable';

export interface JoinOutcome {
  errorCode: number;
  generationId: number;
  protocolName: string | null;
  leader: string;
  memberId: string;
  members: { memberId: string; groupInstanceId: string | null; metadata: Buffer }[];
}

export interface SyncOutcome {
  errorCode: number;
  assignment: Buffer;
}

export interface ClassicMember {
  memberId: string;
  groupInstanceId: string | null;
  clientId: string;
  clientHost: string;
  sessionTimeoutMs: number;
  rebalanceTimeoutMs: number;
  protocols: { name: string; metadata: Buffer }[];
  assignment: Buffer;
  joinWaiter: ((outcome: JoinOutcome) => void) | null;
  syncWaiter: ((outcome: SyncOutcome) => void) | null;
  cancelSession: () => void;
}

export interface JoinArgs {
  memberId: string;
  groupInstanceId: string | null;
  clientId: string;
  clientHost: string;
  sessionTimeoutMs: number;
  rebalanceTimeoutMs: number;
  protocolType: string;
  protocols: { name: string; metadata: Buffer }[];
  /** v4+: a member without an id gets one and must join again with it (MEMBER_ID_REQUIRED) */
  requireKnownMemberId: boolean;
}

const EMPTY = Buffer.alloc(0);

export class ClassicGroup {
  state: ClassicState = 'Empty';
  generation = 0;
  protocolType: string | null = null;
  protocol: string | null = null;
  leader: string | null = null;
  readonly members = new Map<string, ClassicMember>();
  /** member ids handed out with MEMBER_ID_REQUIRED, expiring after the session timeout */
  private readonly pending = new Map<string, () => void>();
  private cancelRebalance: () => void = () => undefined;
  /** the initial delay of a group that had no members: the join phase does not complete before it ends */
  private delaying = false;

  constructor(
    readonly groupId: string,
    private readonly clock: Clock,
    private readonly initialDelayMs: number,
    /** called when the group has neither members nor pending ids (the registry may forget it) */
    private readonly onEmpty: (g: ClassicGroup) => void,
  ) {}

  get isEmpty(): boolean {
    return this.members.size === 0 && this.pending.size === 0;
  }

  /** Whether every member's protocols include one the group can use, and the protocol type matches. */
  accepts(protocolType: string, protocols: readonly { name: string }[]): boolean {
    if (this.members.size === 0) return protocols.length > 0;
    if (protocolType !== this.protocolType) return false;
    return protocols.some((p) => [...this.members.values()].every((m) => m.protocols.some((q) => q.name === p.name)));
  }

  join(args: JoinArgs): Promise<JoinOutcome> | JoinOutcome {
    let memberId = args.memberId;
    if (memberId === '') {
      memberId = `${args.clientId || 'member'}-${randomUUID()}`;
      if (args.requireKnownMemberId) {
        this.pending.set(memberId, this.clock.setTimer(args.sessionTimeoutMs, () => this.pendingExpired(memberId)));
        return { ...this.refusal(KafkaErrors.MEMBER_ID_REQUIRED), memberId };
      }
    } else if (!this.members.has(memberId) && !this.pending.has(memberId)) {
      return this.refusal(KafkaErrors.UNKNOWN_MEMBER_ID, memberId);
    }
    this.pending.get(memberId)?.();
    this.pending.delete(memberId);
    const existing = this.members.get(memberId);
    if (existing && this.state === 'Stable' && existing.memberId !== this.leader && sameProtocols(existing.protocols, args.protocols)) {
      // Nothing changed for a follower: it gets the current generation again.
      this.touch(existing);
      return this.outcomeFor(existing);
    }
    if (this.members.size === 0) this.protocolType = args.protocolType;
    const member: ClassicMember = existing ?? {
      memberId,
      groupInstanceId: args.groupInstanceId,
      clientId: args.clientId,
      clientHost: args.clientHost,
      sessionTimeoutMs: args.sessionTimeoutMs,
      rebalanceTimeoutMs: args.rebalanceTimeoutMs,
      protocols: args.protocols,
      assignment: EMPTY,
      joinWaiter: null,
      syncWaiter: null,
      cancelSession: () => undefined,
    };
    Object.assign(member, { sessionTimeoutMs: args.sessionTimeoutMs, rebalanceTimeoutMs: args.rebalanceTimeoutMs, protocols: args.protocols });
    member.cancelSession();
    this.members.set(memberId, member);
    if (this.leader === null) this.leader = memberId;
    const outcome = new Promise<JoinOutcome>((resolve) => {
      // A second join of the same member while one is parked: the older one is answered as superseded.
      member.joinWaiter?.(this.refusal(KafkaErrors.UNKNOWN_MEMBER_ID, memberId));
      member.joinWaiter = resolve;
    });
    if (this.state !== 'PreparingRebalance') this.prepareRebalance();
    this.maybeCompleteJoin();
    return outcome;
  }

  sync(memberId: string, generationId: number, assignments: readonly { memberId: string; assignment: Buffer }[]): Promise<SyncOutcome> | SyncOutcome {
    const member = this.members.get(memberId);
    if (!member) return { errorCode: KafkaErrors.UNKNOWN_MEMBER_ID, assignment: EMPTY };
    if (generationId !== this.generation) return { errorCode: KafkaErrors.ILLEGAL_GENERATION, assignment: EMPTY };
    if (this.state === 'PreparingRebalance') return { errorCode: KafkaErrors.REBALANCE_IN_PROGRESS, assignment: EMPTY };
    this.touch(member);
    if (this.state === 'Stable') return { errorCode: KafkaErrors.NONE, assignment: member.assignment };
    const outcome = new Promise<SyncOutcome>((resolve) => (member.syncWaiter = resolve));
    if (memberId === this.leader) {
      const byMember = new Map(assignments.map((a) => [a.memberId, a.assignment]));
      for (const m of this.members.values()) m.assignment = byMember.get(m.memberId) ?? EMPTY;
      this.state = 'Stable';
      for (const m of this.members.values()) {
        const waiter = m.syncWaiter;
        m.syncWaiter = null;
        waiter?.({ errorCode: KafkaErrors.NONE, assignment: m.assignment });
        this.touch(m);
      }
    }
    return outcome;
  }

  heartbeat(memberId: string, generationId: number): number {
    const member = this.members.get(memberId);
    if (!member) return KafkaErrors.UNKNOWN_MEMBER_ID;
    if (generationId !== this.generation) return KafkaErrors.ILLEGAL_GENERATION;
    this.touch(member);
    return this.state === 'PreparingRebalance' ? KafkaErrors.REBALANCE_IN_PROGRESS : KafkaErrors.NONE;
  }

  /** A commit's fencing: NONE, or the error for the whole commit. */
  checkCommit(memberId: string, generationId: number): number {
    if (generationId < 0 && memberId === '') return this.members.size === 0 ? KafkaErrors.NONE : KafkaErrors.ILLEGAL_GENERATION;
    const member = this.members.get(memberId);
    if (!member) return KafkaErrors.UNKNOWN_MEMBER_ID;
    if (generationId !== this.generation) return KafkaErrors.ILLEGAL_GENERATION;
    if (this.state === 'CompletingRebalance') return KafkaErrors.REBALANCE_IN_PROGRESS;
    this.touch(member);
    return KafkaErrors.NONE;
  }

  leave(memberId: string): number {
    if (this.pending.has(memberId)) {
      this.pending.get(memberId)!();
      this.pending.delete(memberId);
      this.checkEmpty();
      return KafkaErrors.NONE;
    }
    if (!this.members.has(memberId)) return KafkaErrors.UNKNOWN_MEMBER_ID;
    this.remove(memberId);
    return KafkaErrors.NONE;
  }

  /** Ends every parked call (shutdown, or the connection of a member closed). */
  close(): void {
    this.cancelRebalance();
    for (const cancel of this.pending.values()) cancel();
    this.pending.clear();
    for (const m of this.members.values()) {
      m.cancelSession();
      m.joinWaiter?.(this.refusal(KafkaErrors.REBALANCE_IN_PROGRESS, m.memberId));
      m.syncWaiter?.({ errorCode: KafkaErrors.REBALANCE_IN_PROGRESS, assignment: EMPTY });
    }
  }

  private refusal(errorCode: number, memberId = ''): JoinOutcome {
    return { errorCode, generationId: -1, protocolName: null, leader: '', memberId, members: [] };
  }

  private outcomeFor(m: ClassicMember): JoinOutcome {
    const isLeader = m.memberId === this.leader;
    return {
      errorCode: KafkaErrors.NONE,
      generationId: this.generation,
      protocolName: this.protocol,
      leader: this.leader ?? '',
      memberId: m.memberId,
      members: isLeader
        ? [...this.members.values()].map((x) => ({ memberId: x.memberId, groupInstanceId: x.groupInstanceId, metadata: x.protocols.find((p) => p.name === this.protocol)?.metadata ?? EMPTY }))
        : [],
    };
  }

  /** Restarts a member's session (not while it is parked in a join or a sync). */
  private touch(m: ClassicMember): void {
    m.cancelSession();
    m.cancelSession = this.clock.setTimer(m.sessionTimeoutMs, () => {
      if (this.members.get(m.memberId) !== m) return;
      if (m.joinWaiter || m.syncWaiter) return this.touch(m);
      this.remove(m.memberId);
    });
  }

  private remove(memberId: string): void {
    const m = this.members.get(memberId)!;
    m.cancelSession();
    this.members.delete(memberId);
    m.joinWaiter?.(this.refusal(KafkaErrors.UNKNOWN_MEMBER_ID, memberId));
    m.syncWaiter?.({ errorCode: KafkaErrors.UNKNOWN_MEMBER_ID, assignment: EMPTY });
    if (this.leader === memberId) this.leader = this.members.keys().next().value ?? null;
    if (this.state === 'PreparingRebalance') this.maybeCompleteJoin();
    else if (this.members.size > 0) this.prepareRebalance();
    else this.toEmpty();
  }

  private prepareRebalance(): void {
    if (this.state === 'CompletingRebalance') {
      for (const m of this.members.values()) {
        const waiter = m.syncWaiter;
        m.syncWaiter = null;
        waiter?.({ errorCode: KafkaErrors.REBALANCE_IN_PROGRESS, assignment: EMPTY });
      }
    }
    const wasEmpty = this.state === 'Empty';
    this.state = 'PreparingRebalance';
    this.cancelRebalance();
    const timeoutMs = Math.max(0, ...[...this.members.values()].map((m) => m.rebalanceTimeoutMs));
    if (wasEmpty && this.initialDelayMs > 0) {
      // Members starting together share the first assignment instead of rebalancing once per arrival.
      this.delaying = true;
      this.cancelRebalance = this.clock.setTimer(Math.min(this.initialDelayMs, timeoutMs), () => {
        this.delaying = false;
        this.cancelRebalance = this.clock.setTimer(timeoutMs, () => this.completeJoin());
        this.maybeCompleteJoin();
      });
    } else {
      this.delaying = false;
      this.cancelRebalance = this.clock.setTimer(timeoutMs, () => this.completeJoin());
    }
  }

  private maybeCompleteJoin(): void {
    if (this.state !== 'PreparingRebalance' || this.delaying) return;
    if (this.pending.size > 0) return;
    for (const m of this.members.values()) if (!m.joinWaiter) return;
    this.completeJoin();
  }

  /** Ends the join phase: members that did not rejoin are dropped, the generation moves, replies go out. */
  private completeJoin(): void {
    if (this.state !== 'PreparingRebalance') return;
    this.cancelRebalance();
    this.delaying = false;
    for (const m of [...this.members.values()]) {
      if (!m.joinWaiter) {
        m.cancelSession();
        m.syncWaiter?.({ errorCode: KafkaErrors.UNKNOWN_MEMBER_ID, assignment: EMPTY });
        this.members.delete(m.memberId);
      }
    }
    this.generation++;
    if (this.members.size === 0) return this.toEmpty();
    if (this.leader === null || !this.members.has(this.leader)) this.leader = this.members.keys().next().value!;
    this.protocol = this.chooseProtocol();
    this.state = 'CompletingRebalance';
    for (const m of this.members.values()) {
      const waiter = m.joinWaiter!;
      m.joinWaiter = null;
      waiter(this.outcomeFor(m));
      this.touch(m);
    }
  }

  /** The protocol every member supports that most members list first (Kafka's vote). */
  private chooseProtocol(): string {
    const members = [...this.members.values()];
    const common = members[0]!.protocols.map((p) => p.name).filter((name) => members.every((m) => m.protocols.some((p) => p.name === name)));
    const votes = new Map<string, number>();
    for (const m of members) {
      const choice = m.protocols.find((p) => common.includes(p.name))?.name;
      if (choice) votes.set(choice, (votes.get(choice) ?? 0) + 1);
    }
    return [...votes].sort((a, b) => b[1] - a[1])[0]?.[0] ?? common[0] ?? '';
  }

  private toEmpty(): void {
    this.state = 'Empty';
    this.leader = null;
    this.protocol = null;
    this.cancelRebalance();
    this.checkEmpty();
  }

  private pendingExpired(memberId: string): void {
    this.pending.delete(memberId);
    this.maybeCompleteJoin();
    this.checkEmpty();
  }

  private checkEmpty(): void {
    if (this.isEmpty && this.state === 'Empty') this.onEmpty(this);
  }
}

function sameProtocols(a: readonly { name: string; metadata: Buffer }[], b: readonly { name: string; metadata: Buffer }[]): boolean {
  return a.length === b.length && a.every((p, i) => p.name === b[i]!.name && p.metadata.equals(b[i]!.metadata));
}
