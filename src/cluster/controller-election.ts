/**
 * Which broker is the controller, decided by etcd's election recipe (etcd3's Election: campaign, resign,
 * observe). Each candidate puts a key under `election/controller/` on its own lease; the oldest key's owner
 * is the controller. When the controller dies its lease expires, its key goes, and the next oldest wins.
 * Nothing here decides leadership by itself.
 *
 * Controller epoch = the create revision of the controller's election key. It only grows (a later key has
 * a later revision), every broker reads the same number, and it doubles as a fence: a write conditioned on
 * `election/controller/<lease>` still having that create revision (etcd-writes.ts `Fence`) is refused by
 * etcd once that controller's key is gone, however late its process notices.
 *
 * Invariants:
 * - `controller` is the oldest key this broker last observed (null when none), with its epoch; while etcd is
 *   unreachable it keeps the last value seen;
 * - `isController` is true only between 'elected' and 'resigned'; it ends when the campaign's lease is
 *   lost, when the observer shows a controller with a higher epoch, or on close(); the campaign then starts
 *   over (a candidate keeps campaigning until close()).
 */
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Campaign, Election, ElectionObserver } from 'etcd3';
import { Serial } from '../log/serial.js';
import { isEtcdTransient, pause, revisionOf, type EtcdConnection } from './etcd-client.js';
import type { Fence } from './etcd-writes.js';
import { ELECTION_NAME, ELECTION_PREFIX } from './keys.js';
import { leaseTtlSeconds } from './broker-registry.js';

export interface ControllerInfo {
  brokerId: number;
  /** create revision of its election key */
  epoch: number;
}

export interface ControllerElectionOptions {
  brokerId: number;
  /** the campaign's lease TTL, as the broker registration's */
  sessionTimeoutMs: number;
  /** false: only observe (default true) */
  candidate?: boolean;
  onProblem?: (message: string, err: unknown) => void;
}

export interface ControllerElectionEvents {
  /** the controller this broker knows of changed (null: none) */
  change: [ControllerInfo | null];
  /** this broker became controller */
  elected: [ControllerInfo];
  /** this broker stopped being controller */
  resigned: [Error | undefined];
}

export class ControllerElection extends EventEmitter<ControllerElectionEvents> {
  private readonly election: Election;
  private campaign: Campaign | null = null;
  private observer: ElectionObserver | null = null;
  private mine: (ControllerInfo & { fence: Fence }) | null = null;
  private closed = false;
  /** settles on close(), so that no loop stays parked on a campaign or observer that will never answer */
  private readonly closing: Promise<Error | undefined>;
  private signalClosed: () => void = () => undefined;
  private stepDown: ((err: Error | undefined) => void) | null = null;
  /** observer reads, one at a time, so an older read never lands after a newer one */
  private readonly refreshes = new Serial();
  private readonly onProblem: (message: string, err: unknown) => void;
  controller: ControllerInfo | null = null;

  constructor(
    private readonly etcd: EtcdConnection,
    private readonly options: ControllerElectionOptions,
  ) {
    super();
    this.election = etcd.cluster.election(ELECTION_NAME, leaseTtlSeconds(options.sessionTimeoutMs));
    this.onProblem = options.onProblem ?? (() => undefined);
    this.closing = new Promise((resolve) => (this.signalClosed = () => resolve(undefined)));
  }

  get isController(): boolean {
    return this.mine !== null;
  }

  /** This broker's controller epoch and fence while it is controller, else null. */
  get ownership(): (ControllerInfo & { fence: Fence }) | null {
    return this.mine;
  }

  /** Starts observing (and campaigning, for a candidate); both go on in the background until close(). */
  start(): void {
    void this.observeLoop();
    if (this.options.candidate ?? true) void this.campaignLoop();
  }

  async close(): Promise<void> {
    this.closed = true;
    this.signalClosed();
    this.stepDown?.(undefined);
    await this.campaign?.resign().catch((err: unknown) => this.onProblem('resigning as controller failed; the lease expires by itself', err));
    await this.observer?.cancel().catch(() => undefined);
  }

  private async campaignLoop(): Promise<void> {
    for (let delayMs = 100; !this.closed; ) {
      // A value of its own per campaign: etcd3's observer announces a new leader only when the value differs,
      // and the same broker winning again (after a lost lease) is a new controller epoch.
      const campaign = this.election.campaign(JSON.stringify({ brokerId: this.options.brokerId, campaign: randomUUID() }));
      this.campaign = campaign;
      const failed = new Promise<Error>((resolve) => campaign.on('error', resolve));
      try {
        await Promise.race([campaign.wait(), failed.then((err) => Promise.reject(err)), this.closing]);
        if (this.closed) break;
        const key = await campaign.getCampaignKey();
        const relativeKey = `${ELECTION_PREFIX}${key.slice(key.lastIndexOf('/') + 1)}`;
        const kv = (await this.etcd.cluster.get(relativeKey).exec()).kvs[0];
        if (!kv) throw new Error('the election key vanished right after the election');
        const epoch = revisionOf(kv.create_revision);
        this.mine = { brokerId: this.options.brokerId, epoch, fence: { key: relativeKey, createRevision: epoch } };
        delayMs = 100;
        this.emit('elected', { brokerId: this.options.brokerId, epoch });
        const reason = await Promise.race([failed, this.closing, new Promise<Error | undefined>((resolve) => (this.stepDown = resolve))]);
        this.stepDown = null;
        this.mine = null;
        this.emit('resigned', reason);
      } catch (err) {
        if (!this.closed && !isEtcdTransient(err)) this.onProblem('campaigning for controller failed; campaigning again', err);
      }
      // Unrevoked (etcd unreachable), the old key would block the next election until its TTL runs out.
      await campaign.resign().catch(() => void this.revokeWhenReachable(campaign));
      if (!this.closed) await pause(delayMs);
      delayMs = Math.min(delayMs * 2, 1_000);
    }
  }

  /**
   * Revokes a campaign's lease as soon as etcd answers. etcd keeps leases across its own restart (with a
   * fresh TTL), so after an outage the old election keys would otherwise delay the next controller by a TTL.
   */
  private async revokeWhenReachable(campaign: Campaign): Promise<void> {
    let leaseId: string;
    try {
      const key = await campaign.getCampaignKey();
      leaseId = key.slice(key.lastIndexOf('/') + 1);
    } catch {
      return; // never granted: nothing holds a key
    }
    for (let delayMs = 100; !this.closed; delayMs = Math.min(delayMs * 2, 1_000)) {
      try {
        await this.etcd.client.leaseClient.leaseRevoke({ ID: leaseId });
        return;
      } catch (err) {
        // Gone already (expired) or not an outage: either way nothing more to do.
        if (!isEtcdTransient(err) || (err as Error).constructor?.name === 'EtcdLeaseInvalidError') return;
      }
      await pause(delayMs);
    }
  }

  private async observeLoop(): Promise<void> {
    for (let delayMs = 100; !this.closed; delayMs = Math.min(delayMs * 2, 1_000)) {
      try {
        const observer = await this.election.observe();
        this.observer = observer;
        if (this.closed) break;
        delayMs = 100;
        const failed = new Promise<Error>((resolve) => observer.on('error', resolve));
        observer.on('change', () => void this.refreshes.run(() => this.refresh()));
        await this.refreshes.run(() => this.refresh());
        await Promise.race([failed, this.closing]);
      } catch (err) {
        if (!isEtcdTransient(err)) this.onProblem('observing the controller election failed; observing again', err);
      }
      await this.observer?.cancel().catch(() => undefined);
      if (!this.closed) await pause(delayMs);
    }
  }

  /** Reads the oldest election key: the controller and its epoch. */
  private async refresh(): Promise<void> {
    try {
      const oldest = (await this.etcd.cluster.getAll().prefix(ELECTION_PREFIX).sort('Create', 'Ascend').limit(1).exec()).kvs[0];
      const next = oldest ? { brokerId: (JSON.parse(oldest.value.toString('utf8')) as { brokerId: number }).brokerId, epoch: revisionOf(oldest.create_revision) } : null;
      if (next?.brokerId === this.controller?.brokerId && next?.epoch === this.controller?.epoch) return;
      this.controller = next;
      if (this.mine && next && next.epoch > this.mine.epoch) this.stepDown?.(new Error(`broker ${next.brokerId} is controller with a higher epoch ${next.epoch}`));
      this.emit('change', next);
    } catch (err) {
      if (!isEtcdTransient(err)) this.onProblem('reading the controller failed', err);
    }
  }
}
