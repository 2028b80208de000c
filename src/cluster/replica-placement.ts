/**
 * Where a new topic's replicas go, as a pure function (the controller calls it at topic creation).
 *
 * Guarantees (tested exhaustively with fast-check in test/cluster/replica-placement.test.ts):
 * - every partition has `replicationFactor` distinct replicas, all on live brokers, the leader first;
 * - leaders are spread evenly: the numbers of leaders of any two brokers differ by at most one;
 * - replicas are spread evenly: the numbers of replicas of any two brokers differ by at most one;
 * - a replication factor below 1 or above the number of live brokers is refused.
 *
 * How: lay the partitions' replica slots round-robin over the sorted brokers, partition p taking slots
 * p*rf .. p*rf+rf-1 (rf consecutive brokers: distinct because rf <= n; round-robin: replicas even). The
 * leader is the slot at position floor(p*g/n) mod g of the partition, g = gcd(rf, n): p*rf mod n visits
 * the multiples of g once every n/g partitions, and the offset moves on by one at each such round, so
 * every n consecutive partitions have every broker as leader exactly once (leaders even). `startIndex`
 * rotates the whole layout so that topics do not all start on the same broker. The replicas are listed
 * from the leader on, in ring order.
 *
 *   6 partitions, rf 3, brokers [1,2,3]: [1,2,3] [2,3,1] [3,1,2] [1,2,3] [2,3,1] [3,1,2] -> leaders 2/2/2
 */
import { BrokerError } from '../common/errors.js';

export interface PlacementRequest {
  partitions: number;
  replicationFactor: number;
  /** ids of the live brokers, any order */
  liveBrokers: readonly number[];
  /** rotates the layout (e.g. a hash of the topic name); default 0 */
  startIndex?: number;
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

/** Per partition, its replicas with the (preferred) leader first. */
export function placeReplicas(request: PlacementRequest): number[][] {
  const brokers = [...new Set(request.liveBrokers)].sort((a, b) => a - b);
  const n = brokers.length;
  const rf = request.replicationFactor;
  if (!Number.isSafeInteger(request.partitions) || request.partitions < 1) {
    throw new BrokerError('INVALID_REQUEST', `partitions must be an integer >= 1, not ${request.partitions}`, { details: { partitions: request.partitions } });
  }
  if (!Number.isSafeInteger(rf) || rf < 1 || rf > n) {
    throw new BrokerError('INVALID_REPLICATION_FACTOR', `replication factor ${rf} is impossible with ${n} live broker${n === 1 ? '' : 's'} (it must be 1 to ${n})`, {
      details: { replicationFactor: rf, liveBrokers: n },
    });
  }
  const start = (((request.startIndex ?? 0) % n) + n) % n;
  const g = gcd(rf, n);
  const placement: number[][] = [];
  for (let p = 0; p < request.partitions; p++) {
    const slots = Array.from({ length: rf }, (_, j) => brokers[(start + p * rf + j) % n]!);
    const leaderAt = Math.floor((p * g) / n) % g;
    placement.push([...slots.slice(leaderAt), ...slots.slice(0, leaderAt)]);
  }
  return placement;
}
