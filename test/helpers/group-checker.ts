/**
 * Records what worker processes (group-worker.ts) report and checks it: every (partition, offset, member,
 * time) processed and every ownership interval (onAssigned .. onRevoked, a graceful close, or a kill).
 *
 *   overlaps()    pairs of intervals where two members owned one partition at the same time
 *   outside()     records a member processed while it did not own the partition
 *   duplicates()  records processed more than once, with who processed them first and when
 */
import type { ChildProcess } from 'node:child_process';
import { startWorker, type WorkerConfig, type WorkerMessage } from './group-worker.js';

export interface Processed {
  member: string;
  partition: number;
  offset: number;
  time: number;
}

interface Interval {
  member: string;
  partition: number;
  start: number;
  end: number | null;
  /** ended by onLost (the membership was lost) rather than a release */
  lost?: boolean;
}

export class GroupChecker {
  readonly records: Processed[] = [];
  readonly intervals: Interval[] = [];
  readonly started = new Map<string, number>();
  readonly errors: string[] = [];
  private readonly children = new Map<string, ChildProcess>();
  private readonly closed = new Map<string, Promise<void>>();

  start(config: WorkerConfig): void {
    let closedResolve!: () => void;
    this.closed.set(config.name, new Promise<void>((resolve) => (closedResolve = resolve)));
    const child = startWorker(config, (m: WorkerMessage) => {
      const member = config.name;
      if (m.type === 'record') this.records.push({ member, partition: m.partition, offset: m.offset, time: m.time });
      else if (m.type === 'assigned') for (const partition of m.partitions) this.intervals.push({ member, partition, start: m.time, end: null });
      else if (m.type === 'revoked' || m.type === 'lost') this.end(member, m.partitions, m.time, m.type === 'lost');
      else if (m.type === 'started') this.started.set(member, m.time);
      else if (m.type === 'closed') this.end(member, null, m.time);
      else if (m.type === 'error') this.errors.push(`${member}: ${m.message}`);
    });
    child.on('exit', () => closedResolve());
    this.children.set(config.name, child);
  }

  /** Graceful stop: the worker commits, runs onRevoked and leaves. */
  async stop(name: string): Promise<void> {
    this.children.get(name)!.send('stop');
    await this.closed.get(name);
  }

  /** kill -9; its ownership ends now. Returns the time. */
  async kill(name: string): Promise<number> {
    const child = this.children.get(name)!;
    const exited = this.closed.get(name)!;
    child.kill('SIGKILL');
    const time = Date.now();
    this.end(name, null, time);
    await exited;
    return time;
  }

  killAll(): void {
    for (const child of this.children.values()) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }

  private end(member: string, partitions: number[] | null, time: number, lost = false): void {
    for (const i of this.intervals) {
      if (i.member === member && i.end === null && (partitions === null || partitions.includes(i.partition))) {
        i.end = time;
        i.lost = lost;
      }
    }
  }

  /** Partitions a member owns now (per its hooks). */
  owned(member: string): number[] {
    return this.intervals.filter((i) => i.member === member && i.end === null).map((i) => i.partition).sort((a, b) => a - b);
  }

  processedBy(member: string, since = 0): number {
    return this.records.filter((r) => r.member === member && r.time >= since).length;
  }

  distinct(): number {
    return new Set(this.records.map((r) => `${r.partition}/${r.offset}`)).size;
  }

  overlaps(): string[] {
    const out: string[] = [];
    for (const a of this.intervals) {
      for (const b of this.intervals) {
        if (a === b || a.partition !== b.partition || a.member === b.member || a.start > b.start) continue;
        if ((a.end ?? Infinity) > b.start) out.push(`partition ${a.partition}: ${a.member} [${a.start}, ${a.end}] and ${b.member} from ${b.start}`);
      }
    }
    return out;
  }

  outside(): Processed[] {
    return this.records.filter(
      (r) => !this.intervals.some((i) => i.member === r.member && i.partition === r.partition && i.start <= r.time && r.time <= (i.end ?? Infinity)),
    );
  }

  /**
   * Records processed outside the member's ownership, except the ones it finished after it lost the
   * partition with its membership (the batch in hand when a heartbeat found the broker had forgotten it)
   * before anyone else owned the partition: nobody else was working on it then.
   */
  outsideExceptAfterLoss(): Processed[] {
    return this.outside().filter((r) => {
      const lostBefore = this.intervals
        .filter((i) => i.member === r.member && i.partition === r.partition && i.lost && i.end !== null && i.end <= r.time)
        .sort((a, b) => b.end! - a.end!)[0];
      if (!lostBefore) return true;
      return this.intervals.some((i) => i.partition === r.partition && i.member !== r.member && i.start >= lostBefore.end! && i.start <= r.time);
    });
  }

  duplicates(): { partition: number; offset: number; first: Processed; times: number }[] {
    const byKey = new Map<string, Processed[]>();
    for (const r of this.records) {
      const key = `${r.partition}/${r.offset}`;
      const list = byKey.get(key) ?? [];
      list.push(r);
      byKey.set(key, list);
    }
    return [...byKey.values()].filter((l) => l.length > 1).map((l) => l.sort((a, b) => a.time - b.time)).map((l) => ({ partition: l[0]!.partition, offset: l[0]!.offset, first: l[0]!, times: l.length }));
  }

  /** For each member's first assignment: ms from its start to it. */
  startToAssigned(member: string): number | null {
    const first = this.intervals.find((i) => i.member === member);
    const started = this.started.get(member);
    return first && started !== undefined ? first.start - started : null;
  }

  /** For each planned handover (an interval ended by a revoke, the next owner's start): the gap in ms. */
  handoverGaps(after = 0, before = Infinity): number[] {
    const gaps: number[] = [];
    for (const i of this.intervals) {
      if (i.start < after || i.start > before) continue;
      const previous = this.intervals.filter((p) => p.partition === i.partition && p.member !== i.member && p.end !== null && p.end <= i.start).sort((x, y) => y.end! - x.end!)[0];
      if (previous && previous.end! >= after) gaps.push(i.start - previous.end!);
    }
    return gaps;
  }
}
