/**
 * Heartbeats held as long polls, so a member learns of a change (partitions to release, partitions it now
 * owns, a new generation) as soon as it happens rather than at its next heartbeat.
 *
 * A heartbeat that asks to wait (`maxWaitMs` > 0) is answered at once when the member's view differs from
 * the last one sent to it, else when the view changes (`changed`), when its wait ends (on the Clock), when the
 * same member sends another heartbeat (it supersedes this one), or when the broker closes. A member that
 * is removed meanwhile gets UNKNOWN_MEMBER_ID. The view sent is remembered per member; a client that lost a
 * reply asks without waiting next time, so it never waits on a view it did not see.
 */
import type { Clock } from '../log/clock.js';
import type { MemberView } from './consumer-group.js';
import { partitionKey } from '../common/topic-names.js';

interface Held {
  group: string;
  resolve: (view: MemberView) => void;
  reject: (err: unknown) => void;
  /** the member's current view (throws UNKNOWN_MEMBER_ID when it is gone) */
  current: () => MemberView;
  cancelTimer: () => void;
}

export function viewKey(view: MemberView): string {
  const list = (ps: { topic: string; partition: number }[]) => ps.map((p) => partitionKey(p.topic, p.partition)).join('\u0001');
  return `${view.generation}\u0002${list(view.assignments)}\u0002${list(view.revoke)}\u0002${list(view.pending)}`;
}

export class HeartbeatWaits {
  /** group \0 member -> the heartbeat held for it */
  private readonly held = new Map<string, Held>();
  /** group \0 member -> key of the view last sent */
  private readonly lastSent = new Map<string, string>();

  constructor(private readonly clock: Clock) {}

  get waiting(): number {
    return this.held.size;
  }

  /** Records a view sent in a reply other than a heartbeat's (the join reply). */
  sent(group: string, memberId: string, view: MemberView): void {
    this.lastSent.set(`${group}\u0000${memberId}`, viewKey(view));
  }

  /** The reply to a heartbeat: now, or once something changed for the member or `maxWaitMs` passed. */
  wait(group: string, memberId: string, maxWaitMs: number, current: () => MemberView): Promise<MemberView> {
    const id = `${group}\u0000${memberId}`;
    this.answer(id); // a newer heartbeat supersedes a held one
    const view = current();
    if (maxWaitMs <= 0 || this.lastSent.get(id) !== viewKey(view)) {
      this.lastSent.set(id, viewKey(view));
      return Promise.resolve(view);
    }
    return new Promise<MemberView>((resolve, reject) => {
      const held: Held = { group, resolve, reject, current, cancelTimer: () => undefined };
      held.cancelTimer = this.clock.setTimer(maxWaitMs, () => this.answer(id));
      this.held.set(id, held);
    });
  }

  /** Something changed in `group`: answers the held heartbeats whose view changed. */
  changed(group: string): void {
    for (const [id, held] of [...this.held]) {
      if (held.group !== group) continue;
      let key: string | null = null;
      try {
        key = viewKey(held.current());
      } catch {
        // the member is gone: answer() reports it
      }
      if (key === null || key !== this.lastSent.get(id)) this.answer(id);
    }
  }

  /** The member left or was removed. */
  forget(group: string, memberId: string): void {
    const id = `${group}\u0000${memberId}`;
    this.answer(id);
    this.lastSent.delete(id);
  }

  /** Answers every held heartbeat (the broker is closing). */
  close(): void {
    for (const id of [...this.held.keys()]) this.answer(id);
  }

  private answer(id: string): void {
    const held = this.held.get(id);
    if (!held) return;
    this.held.delete(id);
    held.cancelTimer();
    try {
      const view = held.current();
      this.lastSent.set(id, viewKey(view));
      held.resolve(view);
    } catch (err) {
      this.lastSent.delete(id);
      held.reject(err);
    }
  }
}
