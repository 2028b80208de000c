/**
 * The partition state machine (a table) and the controller's leader election rule (a pure function),
 * checked exhaustively: every phase pair against the table, and for any record and any live set, the
 * elected record is a legal transition that follows the rules of leader-election.ts.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { electLeader } from '../../src/cluster/leader-election.js';
import {
  isLegalTransition,
  newPartitionState,
  PARTITION_TRANSITIONS,
  partitionStateProblem,
  phaseOf,
  transitionProblem,
  type PartitionPhase,
  type PartitionState,
} from '../../src/cluster/partition-state.js';

const PHASES: PartitionPhase[] = ['nonexistent', 'new', 'online', 'offline'];

/** Any valid record over brokers 0..5: replicas, an ISR subset, a leader from the ISR or none. */
const partitionState: fc.Arbitrary<PartitionState> = fc
  .uniqueArray(fc.integer({ min: 0, max: 5 }), { minLength: 1, maxLength: 5 })
  .chain((replicas) =>
    fc.record({
      replicas: fc.constant(replicas),
      isr: fc.shuffledSubarray(replicas, { minLength: 1 }),
      leaderEpoch: fc.integer({ min: 0, max: 20 }),
      controllerEpoch: fc.integer({ min: 0, max: 1_000 }),
      leaderPick: fc.option(fc.nat(), { nil: null }),
    }),
  )
  .map(({ replicas, isr, leaderEpoch, controllerEpoch, leaderPick }) => {
    if (leaderEpoch === 0) return newPartitionState(replicas, controllerEpoch);
    return { replicas, isr, leaderEpoch, controllerEpoch, leader: leaderPick === null ? null : isr[leaderPick % isr.length]! };
  });

const liveSet = fc.uniqueArray(fc.integer({ min: 0, max: 5 }), { maxLength: 6 }).map((ids) => new Set(ids));

describe('partition state machine', () => {
  it('allows exactly the moves in the table', () => {
    const allowed = PHASES.flatMap((from) => PHASES.filter((to) => isLegalTransition(from, to)).map((to) => `${from}->${to}`));
    expect(allowed).toEqual([
      'nonexistent->new',
      'new->nonexistent', 'new->online', 'new->offline',
      'online->nonexistent', 'online->online', 'online->offline',
      'offline->nonexistent', 'offline->online',
    ]);
    expect(Object.keys(PARTITION_TRANSITIONS).sort()).toEqual([...PHASES].sort());
  });

  it('derives phases from records', () => {
    const placed = newPartitionState([1, 2, 3], 7);
    expect(placed).toEqual({ leader: null, leaderEpoch: 0, isr: [1, 2, 3], replicas: [1, 2, 3], controllerEpoch: 7 });
    expect([undefined, placed, { ...placed, leader: 1, leaderEpoch: 1 }, { ...placed, leaderEpoch: 4 }].map(phaseOf)).toEqual(['nonexistent', 'new', 'online', 'offline']);
  });

  it('finds broken records', () => {
    const ok: PartitionState = { leader: 2, leaderEpoch: 3, isr: [2, 1], replicas: [1, 2, 3], controllerEpoch: 1 };
    expect(partitionStateProblem(ok)).toBeNull();
    expect(partitionStateProblem({ ...ok, replicas: [1, 1, 2] })).toMatch(/distinct/);
    expect(partitionStateProblem({ ...ok, isr: [4] })).toMatch(/subset/);
    expect(partitionStateProblem({ ...ok, isr: [] })).toMatch(/non-empty/);
    expect(partitionStateProblem({ ...ok, leader: 3 })).toMatch(/leader must be in the ISR/);
    expect(partitionStateProblem({ ...ok, leaderEpoch: -1 })).toMatch(/epochs/);
  });

  it('refuses illegal moves: an epoch that does not rise with a new leader, replicas that change, skipping new', () => {
    const online: PartitionState = { leader: 1, leaderEpoch: 1, isr: [1, 2], replicas: [1, 2], controllerEpoch: 1 };
    expect(transitionProblem(online, { ...online, leader: 2 })).toMatch(/leaderEpoch must be 2/);
    expect(transitionProblem(online, { ...online, leader: 2, leaderEpoch: 2 })).toBeNull();
    expect(transitionProblem(online, { ...online, replicas: [1, 2, 3] })).toMatch(/replicas/);
    expect(transitionProblem(undefined, online)).toMatch(/nonexistent -> online/);
    expect(transitionProblem({ ...online, leader: null, leaderEpoch: 2 }, newPartitionState([1, 2], 1))).toMatch(/offline -> new/);
  });
});

describe('leader election rule', () => {
  it('for any record and live brokers: a legal transition, leader live and from the ISR, epoch +1 exactly on a change', () => {
    fc.assert(
      fc.property(partitionState, liveSet, fc.boolean(), (current, live, unclean) => {
        const next = electLeader(current, live, { uncleanLeaderElection: unclean, controllerEpoch: 99 });
        expect(transitionProblem(current, next)).toBeNull();
        const liveIsr = current.isr.filter((b) => live.has(b));
        if (next.leader !== null) expect(live.has(next.leader)).toBe(true);
        if (liveIsr.length > 0) {
          // Clean: the leader comes from the live ISR, and a live ISR leader is kept.
          expect(liveIsr).toContain(next.leader);
          if (current.leader !== null && liveIsr.includes(current.leader)) expect(next.leader).toBe(current.leader);
          else expect(next.leader).toBe(current.replicas.find((b) => liveIsr.includes(b)));
          expect(next.isr).toEqual(liveIsr);
        } else if (unclean && current.replicas.some((b) => live.has(b))) {
          expect(next.leader).toBe(current.replicas.find((b) => live.has(b)));
          expect(next.isr).toEqual([next.leader]);
        } else {
          expect(next.leader).toBeNull();
          expect(next.isr).toEqual(current.isr);
        }
        if (next === current) return;
        expect(next.leaderEpoch).toBe(next.leader === current.leader ? current.leaderEpoch : current.leaderEpoch + 1);
        expect(next.controllerEpoch).toBe(99);
      }),
      { numRuns: 5_000 },
    );
  });

  it('changes nothing when every replica is alive and the partition has a leader', () => {
    fc.assert(
      fc.property(partitionState, (current) => {
        fc.pre(current.leader !== null);
        expect(electLeader(current, new Set(current.replicas), { uncleanLeaderElection: false, controllerEpoch: 1 })).toBe(current);
      }),
    );
  });

  it('new partition, all alive: the preferred replica leads with epoch 1; its death moves leadership to the next', () => {
    const placed = newPartitionState([2, 3, 1], 5);
    const first = electLeader(placed, new Set([1, 2, 3]), { uncleanLeaderElection: false, controllerEpoch: 5 });
    expect(first).toEqual({ leader: 2, leaderEpoch: 1, isr: [2, 3, 1], replicas: [2, 3, 1], controllerEpoch: 5 });
    const second = electLeader(first, new Set([1, 3]), { uncleanLeaderElection: false, controllerEpoch: 6 });
    expect(second).toEqual({ leader: 3, leaderEpoch: 2, isr: [3, 1], replicas: [2, 3, 1], controllerEpoch: 6 });
    const offline = electLeader({ ...second, isr: [3] }, new Set([1]), { uncleanLeaderElection: false, controllerEpoch: 6 });
    expect(offline).toEqual({ leader: null, leaderEpoch: 3, isr: [3], replicas: [2, 3, 1], controllerEpoch: 6 });
    expect(electLeader(offline, new Set([1]), { uncleanLeaderElection: true, controllerEpoch: 7 })).toEqual({ leader: 1, leaderEpoch: 4, isr: [1], replicas: [2, 3, 1], controllerEpoch: 7 });
  });
});
