/**
 * ISR changes proposed by a leader (Kafka's AlterPartition): one proposal in flight per partition at a time;
 * the leader's Partition decides what to propose (isr-rules.ts) and applies what comes back. The cluster
 * layer implements `AlterIsr` as a compare-and-swap write of the partition's record in etcd based on the
 * version of the role the leader holds, so a leader that was deposed meanwhile, or that proposes from a stale
 * record, is refused.
 *
 * Outcomes: accepted (the new role, same leader epoch, is applied at once), refused (null: the record moved
 * on; the leader keeps its ISR and waits for the cluster layer to hand it the current role through
 * makeLeader/makeFollower), failed (thrown: etcd unreachable; tried again at the next check).
 */
import type { TopicPartition } from '../log/segment-files.js';
import type { LogEvents } from '../log/log-config.js';

/** What a leader asks the controller's record to become (only the ISR changes). */
export interface IsrProposal {
  leaderEpoch: number;
  isr: number[];
  /** the version of the role the proposal is based on (PartitionRole.version), for the compare-and-swap */
  version: number | undefined;
  /** why: one follower caught up, or some fell behind */
  reason: 'expand' | 'shrink';
}

/** The ISR as the controller's record now has it (leader, epoch, replicas, version); null when refused. */
export interface AcceptedIsr {
  leaderEpoch: number;
  isr: readonly number[];
  replicas: readonly number[];
  version?: number;
}

export type AlterIsr = (tp: TopicPartition, proposal: IsrProposal) => Promise<AcceptedIsr | null>;

export class IsrChanges {
  /** the proposal in flight, or null */
  pending: IsrProposal | null = null;
  /** bumped by every role change: an answer to a proposal of an older generation is dropped */
  private generation = 0;

  constructor(
    private readonly tp: TopicPartition,
    private readonly alterIsr: AlterIsr,
    private readonly events: LogEvents,
  ) {}

  /** A role change: whatever is in flight no longer applies. */
  reset(): void {
    this.pending = null;
    this.generation++;
  }

  /**
   * Sends `proposal` unless one is in flight; `apply` gets the accepted record (it is not called for a
   * refusal, an error, or an answer that arrives after a role change); `settled` is called once nothing is
   * in flight any more (the high watermark is computed over a smaller set then).
   */
  propose(proposal: IsrProposal, apply: (accepted: AcceptedIsr) => void, settled: () => void): void {
    if (this.pending) return;
    this.pending = proposal;
    const generation = this.generation;
    const name = `${this.tp.topic}-${this.tp.partition}`;
    this.alterIsr(this.tp, proposal).then(
      (accepted) => {
        if (generation !== this.generation) return;
        this.pending = null;
        if (accepted === null) this.events.warn({ partition: name, proposal }, 'ISR change refused (the partition record moved on); waiting for the current role');
        else apply(accepted);
        settled();
      },
      (err: unknown) => {
        if (generation !== this.generation) return;
        this.pending = null;
        this.events.warn({ partition: name, proposal, err }, 'ISR change failed; it is proposed again at the next check');
        settled();
      },
    );
  }
}
