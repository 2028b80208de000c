/**
 * The leader's side of ISR changes (Kafka's AlterPartition): the leader of a partition asks for a new ISR
 * (a follower caught up: expand; one lagged replicaLagTimeMaxMs: shrink) and writes it into the partition's
 * record itself, by compare-and-swap on the revision of the record it acts on. The write is refused when
 * the record moved on (the controller elected another leader, raised the epoch, or another ISR change
 * landed first) or when this broker does not lead the partition at that epoch: a stale leader can never
 * overwrite newer state. The caller re-reads (`current`) and decides again.
 *
 * Rules checked before writing: the ISR is distinct, a subset of the replicas, and contains the leader.
 * Called by replication (src/replication's ISR tracking) through ClusterNode.alterIsr.
 */
import type { PartitionState } from './partition-state.js';
import type { PartitionStateStore } from './partition-state-store.js';

export interface AlterIsrRequest {
  topic: string;
  partition: number;
  /** the epoch the leader leads at; a different epoch in the record refuses the change */
  leaderEpoch: number;
  isr: readonly number[];
}

export type AlterIsrResult =
  | { accepted: true; state: PartitionState }
  | { accepted: false; reason: 'unknown-partition' | 'not-leader' | 'stale' | 'invalid'; message: string; current: PartitionState | undefined };

export async function alterIsr(states: PartitionStateStore, brokerId: number, request: AlterIsrRequest): Promise<AlterIsrResult> {
  const { topic, partition } = request;
  const record = states.get(topic, partition);
  if (!record) return { accepted: false, reason: 'unknown-partition', message: `${topic}-${partition} has no record`, current: undefined };
  const current = record.state;
  if (current.leader !== brokerId || current.leaderEpoch !== request.leaderEpoch) {
    return {
      accepted: false,
      reason: current.leaderEpoch > request.leaderEpoch ? 'stale' : 'not-leader',
      message: `broker ${brokerId} at epoch ${request.leaderEpoch} does not lead ${topic}-${partition} (leader ${current.leader ?? 'none'}, epoch ${current.leaderEpoch})`,
      current,
    };
  }
  const isr = [...request.isr];
  if (new Set(isr).size !== isr.length || !isr.every((b) => current.replicas.includes(b)) || !isr.includes(brokerId)) {
    return { accepted: false, reason: 'invalid', message: `ISR ${JSON.stringify(isr)} must be distinct replicas of ${topic}-${partition} ${JSON.stringify(current.replicas)} including the leader`, current };
  }
  const next: PartitionState = { ...current, isr };
  const result = await states.write(topic, partition, next, record.modRevision);
  if (!result.written) {
    const now = states.get(topic, partition)?.state;
    return { accepted: false, reason: 'stale', message: `the record of ${topic}-${partition} changed since revision ${record.modRevision}`, current: now };
  }
  return { accepted: true, state: next };
}
