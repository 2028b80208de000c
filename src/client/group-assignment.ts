/**
 * The consumer's side of revoke-before-assign: turns each view from the group (owned, to revoke, pending) into
 * partitions started and released, in order, and tells the application (hooks, `rebalance` events, logs).
 *
 * Gaining a partition: its start position is the group's committed offset, or (after this member lost its
 * membership and got the partition back) the position it had reached itself when that is further, or else
 * where `autoOffsetReset` says; `onAssigned` runs (awaited), then fetching starts.
 *
 * Releasing a partition, in this order:
 *   1. at once: nothing more of it is fetched or handed out;
 *   2. wait until every record of it handed out was processed (the application asked for more, or closes);
 *   3. `onRevoked` (awaited);
 *   4. with autoCommit, commit its processed position (a commit refused for a new generation is retried
 *      with the generation learnt from an immediate heartbeat);
 *   5. report it released in an immediate heartbeat: only then may the broker give it to its new owner.
 * Releases run one batch at a time, in order. A member that lost its membership loses everything at once
 * (nothing to release: someone else may own the partitions already) and remembers how far it got.
 */
import { BrokerError } from './errors.js';
import type { ClientEventMap, Logger } from './events.js';
import { PartitionState, type Fetcher } from './fetcher.js';
import type { GroupMember, MemberView } from './group-member.js';
import type { ConsumerSettings } from './consumer-options.js';
import type { StartOffsets } from './start-offsets.js';
import { backoffMs, sleep } from './retry.js';
import type { CommittedOffset, TopicPartition, TopicPartitionOffset } from './types.js';
import type { EventEmitter } from 'node:events';

export interface AssignmentHost {
  readonly settings: ConsumerSettings;
  readonly states: Map<string, PartitionState>;
  readonly fetcher: Fetcher;
  readonly startOffsets: StartOffsets;
  readonly emitter: EventEmitter<ClientEventMap>;
  readonly closing: boolean;
  member(): GroupMember;
  committedOffsets(): Promise<CommittedOffset[]>;
  /** Commits these offsets as the member (throws the broker's refusal). */
  commitOffsets(offsets: TopicPartitionOffset[]): Promise<void>;
  /** Resolves when the application asks for more records (or the consumer closes). */
  nextProcessed(): Promise<void>;
  fail(err: BrokerError): void;
}

function keyOf(p: TopicPartition): string {
  return `${p.topic}/${p.partition}`;
}

const tp = (s: PartitionState): TopicPartition => ({ topic: s.topic, partition: s.partition });

export class GroupAssignment {
  /** partitions the group will give this member once their owners released them */
  pending: TopicPartition[] = [];
  private chain: Promise<void> = Promise.resolve();
  private releases: Promise<void> = Promise.resolve();
  /** partitions being released (no longer fetched, still owned) */
  private readonly releasing = new Set<string>();
  /** how far this member got in partitions it lost with its membership (claimed, and used, when it rejoins) */
  private readonly lostAt = new Map<string, { partition: TopicPartition; offset: number }>();
  /** bumped when the membership is lost: releases of the old membership stop */
  private epoch = 0;
  private latest: MemberView | null = null;

  constructor(private readonly host: AssignmentHost) {}

  private get logger(): Logger {
    return this.host.settings.logger;
  }

  /** Resolves when every view received so far is applied (releases may still be under way). */
  settled(): Promise<void> {
    return this.chain;
  }

  /** Partitions to claim when joining: those this member still has a position for. */
  claims(): TopicPartition[] {
    return [...this.lostAt.values()].map((l) => l.partition);
  }

  onView(view: MemberView): void {
    // Until the view is applied, partitions it gives this member count as pending too.
    this.latest = view;
    this.pending = [...view.pending, ...view.assignments.filter((p) => !this.host.states.has(keyOf(p)) && !this.releasing.has(keyOf(p)))];
    const apply = () => this.apply(view).catch((err: unknown) => this.host.fail(err instanceof BrokerError ? err : new BrokerError('BROKER_NOT_AVAILABLE', String(err), { cause: err })));
    this.chain = this.chain.then(apply, apply);
  }

  /** The group forgot this member: every partition is gone now; positions are kept for the rejoin. */
  onLost(): void {
    this.epoch++;
    const lost: TopicPartition[] = [];
    for (const [key, state] of this.host.states) {
      if (state.consumed !== null) this.lostAt.set(key, { partition: tp(state), offset: state.consumed });
      this.host.fetcher.stop(state);
      lost.push(tp(state));
    }
    this.host.states.clear();
    this.releasing.clear();
    this.pending = [];
    this.latest = null;
    if (lost.length === 0) return;
    this.logger.warn({ group: this.host.settings.group, partitions: lost.map(keyOf) }, 'partitions lost with the membership');
    this.host.emitter.emit('rebalance', { generation: this.host.member().generation, assigned: [], revoked: lost, lost: true });
    const hook = this.host.settings.hooks.onLost;
    if (hook) this.chain = this.chain.then(() => this.runHook('onLost', hook, lost));
  }

  private async apply(view: MemberView): Promise<void> {
    const { states, fetcher } = this.host;
    const owned = new Set(view.assignments.map(keyOf));
    const revoke = new Set(view.revoke.map(keyOf));
    // Taken without a release (the topic was deleted, say): stop at once.
    const taken: TopicPartition[] = [];
    for (const [key, state] of states) {
      if (!owned.has(key) && !this.releasing.has(key)) {
        fetcher.stop(state);
        states.delete(key);
        taken.push(tp(state));
      }
    }
    const toRelease = view.revoke.filter((p) => !this.releasing.has(keyOf(p)));
    if (toRelease.length > 0) this.startRelease(toRelease);
    const gained = view.assignments.filter((p) => !states.has(keyOf(p)) && !this.releasing.has(keyOf(p)) && !revoke.has(keyOf(p)));
    if (gained.length > 0) await this.gain(gained);
    if (view === this.latest) this.pending = view.pending;
    if (gained.length > 0 || taken.length > 0) {
      this.logger.info({ group: this.host.settings.group, generation: view.generation, assigned: gained.map(keyOf), revoked: taken.map(keyOf) }, 'rebalance');
      this.host.emitter.emit('rebalance', { generation: view.generation, assigned: gained, revoked: taken, lost: false });
    }
  }

  private async gain(partitions: TopicPartition[]): Promise<void> {
    const committed = await this.host.committedOffsets().catch((err: unknown) => {
      if (err instanceof BrokerError && err.code === 'UNKNOWN_GROUP') return [];
      throw err;
    });
    const byKey = new Map(committed.map((o) => [keyOf(o), o.offset]));
    const states = partitions.map((p) => new PartitionState(p.topic, p.partition));
    const starts = new Map<PartitionState, number>();
    for (const state of states) {
      state.committed = byKey.get(state.key) ?? null;
      const own = this.lostAt.get(state.key)?.offset;
      this.lostAt.delete(state.key);
      // What this member processed itself before it lost the partition is done, whatever was committed.
      const known = [state.committed, own].filter((o): o is number => o !== null && o !== undefined);
      if (known.length > 0) starts.set(state, Math.max(...known));
    }
    const looked = await this.host.startOffsets.lookup(states.filter((s) => !starts.has(s)));
    for (const state of states) {
      state.startAt(starts.get(state) ?? looked.get(state)!);
      this.host.states.set(state.key, state);
    }
    const hook = this.host.settings.hooks.onAssigned;
    if (hook) await this.runHook('onAssigned', hook, partitions);
    for (const state of states) if (this.host.states.get(state.key) === state) this.host.fetcher.start(state);
  }

  private startRelease(partitions: TopicPartition[]): void {
    const epoch = this.epoch;
    const states: PartitionState[] = [];
    for (const p of partitions) {
      this.releasing.add(keyOf(p));
      const state = this.host.states.get(keyOf(p));
      if (state) {
        this.host.fetcher.stop(state, true);
        states.push(state);
      }
    }
    const run = () => this.release(partitions, states, epoch);
    this.releases = this.releases.then(run, run);
  }

  private current(epoch: number): boolean {
    return epoch === this.epoch && !this.host.closing;
  }

  private async release(partitions: TopicPartition[], states: PartitionState[], epoch: number): Promise<void> {
    const { settings } = this.host;
    while (this.current(epoch) && states.some((s) => s.consumed !== null && s.processed !== s.consumed)) await this.host.nextProcessed();
    if (!this.current(epoch)) return;
    const had = states.map(tp);
    if (settings.hooks.onRevoked && had.length > 0) await this.runHook('onRevoked', settings.hooks.onRevoked, had);
    if (settings.autoCommit) await this.commitBeforeRelease(states, epoch);
    if (!this.current(epoch)) return;
    for (const state of states) {
      this.host.fetcher.stop(state);
      if (this.host.states.get(state.key) === state) this.host.states.delete(state.key);
    }
    const member = this.host.member();
    await member.release(partitions);
    for (const p of partitions) this.releasing.delete(keyOf(p));
    // Partitions never started here (a view that predates a release) are released again without a word.
    if (!this.current(epoch) || had.length === 0) return;
    this.logger.info({ group: settings.group, generation: member.generation, released: had.map(keyOf) }, 'released partitions');
    this.host.emitter.emit('rebalance', { generation: member.generation, assigned: [], revoked: had, lost: false });
  }

  /**
   * Commits what was processed of the partitions being released. A refusal for a stale generation is
   * retried after an immediate heartbeat (the partitions are still this member's); a retriable failure is
   * retried until the member's session timeout, the broker's deadline for the release.
   */
  private async commitBeforeRelease(states: PartitionState[], epoch: number): Promise<void> {
    const deadline = Date.now() + this.host.settings.sessionTimeoutMs;
    for (let attempt = 0; this.current(epoch); attempt++) {
      const offsets = states
        .map((s) => ({ topic: s.topic, partition: s.partition, offset: s.processed ?? s.start }))
        .filter((o, i) => o.offset !== states[i]!.committed);
      if (offsets.length === 0) return;
      try {
        await this.host.commitOffsets(offsets);
        return;
      } catch (err) {
        const error = err instanceof BrokerError ? err : new BrokerError('BROKER_NOT_AVAILABLE', String(err), { cause: err });
        if (error.code === 'ILLEGAL_GENERATION' && attempt < 10) continue; // commitOffsets beat already: the generation is current now
        if (error.retriable && Date.now() < deadline) {
          await sleep(backoffMs(attempt, this.host.settings.backoff));
          continue;
        }
        this.logger.warn({ group: this.host.settings.group, partitions: states.map((s) => s.key), err: error.message }, 'could not commit partitions being released; their next owner may process some records again');
        return;
      }
    }
  }

  /** The consumer closes: `onRevoked` for everything it owns, before the final commit and the leave. */
  async beforeClose(): Promise<void> {
    const owned = [...this.host.states.values()].map(tp);
    const hook = this.host.settings.hooks.onRevoked;
    if (hook && owned.length > 0) await this.runHook('onRevoked', hook, owned);
  }

  /** Runs an application hook; its failure is logged and does not stop the rebalance. */
  private async runHook(name: string, hook: (partitions: TopicPartition[]) => void | Promise<void>, partitions: TopicPartition[]): Promise<void> {
    try {
      await hook(partitions);
    } catch (err) {
      this.logger.error({ group: this.host.settings.group, hook: name, partitions: partitions.map(keyOf), err: (err as Error)?.message ?? String(err) }, 'rebalance hook failed');
    }
  }
}
