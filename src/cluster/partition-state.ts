/**
 * What the cluster records per partition (`partitions/<topic>/<partition>` in etcd) and the partition state
 * machine as data: the phases a partition goes through and the legal moves between them, in one table
 * that the controller only applies (Kafka's PartitionStateMachine). Pure: no I/O.
 *
 * Phases are derived from the record, so a new controller knows every partition's phase from etcd alone:
 *   nonexistent  no record
 *   new          record without a leader, leaderEpoch 0: placed, never led
 *   online       a leader
 *   offline      no leader after having had one (leaderEpoch >= 1): no eligible replica is alive
 * Every change of leader (to a broker or to none) raises leaderEpoch by one, so the first leader has
 * epoch 1 and the epoch never repeats; the log stamps batches with it (src/log/leader-epoch-cache.ts).
 *
 * Invariants checked by `partitionStateProblem`: replicas distinct and non-empty, ISR a non-empty subset of
 * the replicas, the leader (when set) one of the ISR (or, after an unclean election, its only member).
 */

export interface PartitionState {
  /** broker id of the leader; null while none (the HTTP API shows -1) */
  leader: number | null;
  leaderEpoch: number;
  /** in-sync replicas, broker ids */
  isr: number[];
  /** assigned replicas, broker ids; the first is the preferred leader */
  replicas: number[];
  /** the controller epoch of the controller that wrote this record */
  controllerEpoch: number;
}

export type PartitionPhase = 'nonexistent' | 'new' | 'online' | 'offline';

/** The legal moves, from -> to. Staying online with another leader (a re-election) is online -> online. */
export const PARTITION_TRANSITIONS: Readonly<Record<PartitionPhase, readonly PartitionPhase[]>> = {
  nonexistent: ['new'],
  new: ['online', 'offline', 'nonexistent'],
  online: ['online', 'offline', 'nonexistent'],
  offline: ['online', 'nonexistent'],
};

export function phaseOf(state: PartitionState | undefined): PartitionPhase {
  if (state === undefined) return 'nonexistent';
  if (state.leader !== null) return 'online';
  return state.leaderEpoch === 0 ? 'new' : 'offline';
}

export function isLegalTransition(from: PartitionPhase, to: PartitionPhase): boolean {
  return PARTITION_TRANSITIONS[from].includes(to);
}

/** A new partition's record: placed on `replicas`, all of them in sync (nothing written yet), no leader. */
export function newPartitionState(replicas: number[], controllerEpoch: number): PartitionState {
  return { leader: null, leaderEpoch: 0, isr: [...replicas], replicas: [...replicas], controllerEpoch };
}

/** Why a record breaks the invariants above, or null when it does not. */
export function partitionStateProblem(state: PartitionState): string | null {
  const isInt = (n: unknown) => Number.isSafeInteger(n) && (n as number) >= 0;
  if (!Array.isArray(state.replicas) || state.replicas.length === 0 || !state.replicas.every(isInt)) return 'replicas must be a non-empty list of broker ids';
  if (new Set(state.replicas).size !== state.replicas.length) return 'replicas must be distinct';
  if (!Array.isArray(state.isr) || state.isr.length === 0 || !state.isr.every((b) => state.replicas.includes(b))) return 'the ISR must be a non-empty subset of the replicas';
  if (new Set(state.isr).size !== state.isr.length) return 'the ISR must be distinct';
  if (!isInt(state.leaderEpoch) || !isInt(state.controllerEpoch)) return 'epochs must be integers >= 0';
  if (state.leader !== null && !state.isr.includes(state.leader)) return 'the leader must be in the ISR';
  if (state.leader === null && state.leaderEpoch === 0 && state.isr.length !== state.replicas.length) return 'a new partition has every replica in sync';
  return null;
}

/**
 * A legal move of one partition: the phase change is in the table, the epoch rises by one exactly when the
 * leader changes, and the replicas stay (reassignment is not built yet). Null when legal, else why not.
 */
export function transitionProblem(from: PartitionState | undefined, to: PartitionState | undefined): string | null {
  const [a, b] = [phaseOf(from), phaseOf(to)];
  if (!isLegalTransition(a, b) && !(a === b && from !== undefined && to !== undefined && from.leader === to.leader)) return `${a} -> ${b} is not a legal partition transition`;
  if (from === undefined || to === undefined) return to === undefined || phaseOf(to) === 'new' ? null : 'a partition starts new';
  const problem = partitionStateProblem(to);
  if (problem) return problem;
  if (to.replicas.join() !== from.replicas.join()) return 'replicas do not change';
  const expectedEpoch = from.leader === to.leader ? from.leaderEpoch : from.leaderEpoch + 1;
  if (to.leaderEpoch !== expectedEpoch) return `leaderEpoch must be ${expectedEpoch}`;
  return null;
}
