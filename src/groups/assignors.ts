/**
 * Partition assignment for consumer groups, computed by the broker (as in Kafka's KIP-848 protocol).
 *
 * Per topic, the partitions are shared among the members subscribed to it, balanced within one: with n
 * partitions and m members, n mod m members get ceil(n/m) and the rest floor(n/m). Every partition has exactly
 * one owner, always a member subscribed to its topic; members beyond the partition count get nothing.
 *
 * The first assignment follows the chosen assignor: `range` gives each member a contiguous run (members in
 * id order), `roundrobin` deals the partitions out one by one, continuing across topics. After that every
 * rebalance is sticky: a partition stays with its owner unless that owner left, unsubscribed, or holds more
 * than its share, so a member joining or leaving moves only the partitions it must. The result depends only on
 * the members, the partition counts and the previous assignment, never on timing or arrival order.
 */
import { partitionKey } from '../common/topic-names.js';

export type AssignorName = 'range' | 'roundrobin';

export const ASSIGNORS: readonly AssignorName[] = ['range', 'roundrobin'];

export interface MemberSubscription {
  memberId: string;
  topics: readonly string[];
}

export interface AssignedPartition {
  topic: string;
  partition: number;
}

/** memberId -> partitions, each list sorted by topic then partition */
export type Assignment = Map<string, AssignedPartition[]>;

export function assignPartitions(
  assignor: AssignorName,
  members: readonly MemberSubscription[],
  partitionCounts: ReadonlyMap<string, number>,
  previous: Assignment = new Map(),
): Assignment {
  const ids = members.map((m) => m.memberId).sort();
  const subscribed = new Map(members.map((m) => [m.memberId, new Set(m.topics)]));
  const owners = new Map<string, string>();
  for (const [memberId, partitions] of previous) {
    for (const p of partitions) owners.set(partitionKey(p.topic, p.partition), memberId);
  }
  const result: Assignment = new Map(ids.map((id) => [id, []]));
  const topics = [...new Set(members.flatMap((m) => m.topics))].filter((t) => partitionCounts.has(t)).sort();
  let dealer = 0;
  for (const topic of topics) {
    const eligible = ids.filter((id) => subscribed.get(id)!.has(topic));
    const count = partitionCounts.get(topic)!;
    const owned = new Map<number, string>();
    for (let p = 0; p < count; p++) {
      const owner = owners.get(partitionKey(topic, p));
      if (owner !== undefined && subscribed.get(owner)?.has(topic)) owned.set(p, owner);
    }
    const placement =
      owned.size === 0 ? initialPlacement(assignor, eligible, count, dealer) : stickyPlacement(eligible, count, owned);
    dealer = (dealer + count) % Math.max(1, eligible.length);
    placement.forEach((memberId, partition) => result.get(memberId)!.push({ topic, partition }));
  }
  for (const list of result.values()) list.sort((a, b) => (a.topic === b.topic ? a.partition - b.partition : a.topic < b.topic ? -1 : 1));
  return result;
}


/** Shares of `count` partitions among `m` members: the first `count mod m` members of `order` get one more. */
function shares(order: readonly string[], count: number): Map<string, number> {
  const base = Math.floor(count / order.length);
  const extra = count % order.length;
  return new Map(order.map((id, i) => [id, base + (i < extra ? 1 : 0)]));
}

/** partition index -> member, for a topic nobody owned before. */
function initialPlacement(assignor: AssignorName, eligible: readonly string[], count: number, dealer: number): string[] {
  const placement: string[] = [];
  if (eligible.length === 0) return placement;
  if (assignor === 'roundrobin') {
    for (let p = 0; p < count; p++) placement.push(eligible[(dealer + p) % eligible.length]!);
    return placement;
  }
  for (const [memberId, share] of shares(eligible, count)) {
    for (let i = 0; i < share; i++) placement.push(memberId);
  }
  return placement;
}

/**
 * Keeps every partition with its previous owner where the shares allow, and moves only the rest. Members that
 * already hold the most get the larger shares, so as few partitions as possible change hands.
 */
function stickyPlacement(eligible: readonly string[], count: number, owned: ReadonlyMap<number, string>): string[] {
  if (eligible.length === 0) return [];
  const held = new Map<string, number[]>(eligible.map((id) => [id, []]));
  for (const [partition, owner] of [...owned].sort((a, b) => a[0] - b[0])) held.get(owner)?.push(partition);
  const byHolding = [...eligible].sort((a, b) => held.get(b)!.length - held.get(a)!.length || (a < b ? -1 : 1));
  const share = shares(byHolding, count);
  const placement: string[] = new Array(count);
  const room = new Map<string, number>();
  for (const [memberId, partitions] of held) {
    const kept = partitions.slice(0, share.get(memberId)!);
    for (const p of kept) placement[p] = memberId;
    room.set(memberId, share.get(memberId)! - kept.length);
  }
  let next = 0;
  for (let p = 0; p < count; p++) {
    if (placement[p] !== undefined) continue;
    while (room.get(eligible[next]!)! === 0) next++;
    placement[p] = eligible[next]!;
    room.set(eligible[next]!, room.get(eligible[next]!)! - 1);
  }
  return placement;
}
