/**
 * The controller's rule for a partition's leader, as a pure function of its record and the live brokers
 * (Kafka's OfflinePartitionLeaderElectionStrategy and its broker-failure ISR shrink). The controller calls
 * it for every partition when the live set changes and writes the result with compare-and-swap.
 *
 * Rules:
 * - dead brokers leave the ISR, except that the ISR never becomes empty: when no ISR member is alive it is
 *   kept as it was, remembering which replicas may hold every acknowledged record;
 * - a live leader that is still in the ISR stays (no needless moves, no epoch change);
 * - otherwise the new leader is the first live ISR member in replica order (the preferred replica first);
 * - with no live ISR member the partition goes offline (leader null), unless `uncleanLeaderElection`: then
 *   the first live replica leads and is the whole ISR (acknowledged records may be lost, as configured);
 * - the leader epoch rises by one exactly when the leader changes (including to none).
 * The result always passes `transitionProblem(current, result)` (partition-state.ts): tested exhaustively.
 */
import type { PartitionState } from './partition-state.js';

export interface ElectionOptions {
  uncleanLeaderElection: boolean;
  /** recorded in a changed record */
  controllerEpoch: number;
}

/** The record the partition should have given the live brokers; the same object when nothing changes. */
export function electLeader(current: PartitionState, live: ReadonlySet<number>, options: ElectionOptions): PartitionState {
  const liveIsr = current.isr.filter((b) => live.has(b));
  const isr = liveIsr.length > 0 ? liveIsr : current.isr;
  let leader: number | null;
  let nextIsr = isr;
  if (current.leader !== null && live.has(current.leader) && isr.includes(current.leader)) {
    leader = current.leader;
  } else if (liveIsr.length > 0) {
    leader = current.replicas.find((b) => liveIsr.includes(b))!;
  } else {
    const liveReplica = current.replicas.find((b) => live.has(b));
    if (options.uncleanLeaderElection && liveReplica !== undefined) {
      leader = liveReplica;
      nextIsr = [liveReplica];
    } else {
      leader = null;
    }
  }
  const sameIsr = nextIsr.length === current.isr.length && nextIsr.every((b, i) => b === current.isr[i]);
  if (leader === current.leader && sameIsr) return current;
  return {
    leader,
    leaderEpoch: leader === current.leader ? current.leaderEpoch : current.leaderEpoch + 1,
    isr: [...nextIsr],
    replicas: current.replicas,
    controllerEpoch: options.controllerEpoch,
  };
}
