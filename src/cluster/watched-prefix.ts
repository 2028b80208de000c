/**
 * A local copy of every key under one etcd prefix, kept current by a watch: what lets a broker answer
 * metadata reads from memory (no round trip to etcd per request) and learn of changes as events.
 *
 * Invariants:
 * - the copy is the prefix as of `revision`: a snapshot read at some revision R, then every watch event
 *   after R applied in order, each at most once (an event whose mod revision is not above the entry's is
 *   ignored), so `revision` only grows;
 * - every change to the copy is announced exactly once as a 'change' event, after the copy changed;
 * - the watch starts at the snapshot's revision + 1, so nothing between the read and the watch is missed.
 *   etcd3 re-attaches a dropped watch by itself from the last revision it saw; when etcd refuses that (the
 *   revision was compacted) or the watch fails otherwise, the copy is re-read and the differences are
 *   announced as changes, as if they had been watched.
 *
 * While etcd is unreachable the copy is stale but stays readable (`connected` is false); reads never fail.
 */
import { EventEmitter } from 'node:events';
import type { IKeyValue, Namespace, Watcher } from 'etcd3';
import { isEtcdTransient, pause, revisionOf } from './etcd-client.js';

export interface WatchedEntry {
  value: string;
  modRevision: number;
  createRevision: number;
  /** the lease the key is attached to ('0': none) */
  lease: string;
}

export interface PrefixChange {
  /** relative to the prefix */
  key: string;
  /** undefined: deleted */
  entry: WatchedEntry | undefined;
  previous: WatchedEntry | undefined;
}

export interface WatchedPrefixEvents {
  change: [PrefixChange];
  connected: [];
  disconnected: [Error];
}

function entryOf(kv: IKeyValue): WatchedEntry {
  return { value: kv.value.toString('utf8'), modRevision: revisionOf(kv.mod_revision), createRevision: revisionOf(kv.create_revision), lease: kv.lease };
}

export class WatchedPrefix extends EventEmitter<WatchedPrefixEvents> {
  private readonly entries = new Map<string, WatchedEntry>();
  private watcher: Watcher | null = null;
  private closed = false;
  private revisionSeen = 0;
  private waiters: { revision: number; resolve: () => void }[] = [];
  /** false while the watch is cut off from etcd (the copy may be stale) */
  connected = false;

  private constructor(
    private readonly ns: Namespace,
    readonly prefix: string,
    private readonly onProblem: (message: string, err: unknown) => void,
  ) {
    super();
  }

  /** Reads the prefix and starts watching it; rejects if etcd cannot be read (the caller decides to retry). */
  static async open(parent: Namespace, prefix: string, onProblem: (message: string, err: unknown) => void = () => undefined): Promise<WatchedPrefix> {
    const watched = new WatchedPrefix(parent.namespace(prefix), prefix, onProblem);
    await watched.sync();
    return watched;
  }

  /** The revision the copy is current to. */
  get revision(): number {
    return this.revisionSeen;
  }

  get(key: string): WatchedEntry | undefined {
    return this.entries.get(key);
  }

  /** Every entry, in no particular order. */
  all(): IterableIterator<[string, WatchedEntry]> {
    return this.entries.entries();
  }

  get size(): number {
    return this.entries.size;
  }

  /** Resolves once the copy includes every change up to `revision` (e.g. a write's own); rejects after `timeoutMs`. */
  waitForRevision(revision: number, timeoutMs: number): Promise<void> {
    if (this.revisionSeen >= revision) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const waiter = { revision, resolve: () => (clearTimeout(timer), resolve()) };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new Error(`the watch of ${this.prefix} did not reach revision ${revision} within ${timeoutMs} ms`));
      }, timeoutMs);
      timer.unref();
      this.waiters.push(waiter);
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    const watcher = this.watcher;
    this.watcher = null;
    await watcher?.cancel().catch(() => undefined);
  }

  /** Re-reads the whole prefix, announces the differences, and (re)starts the watch after the read. */
  private async sync(): Promise<void> {
    const snapshot = await this.ns.getAll().exec();
    const revision = revisionOf(snapshot.header.revision);
    const seen = new Set<string>();
    for (const kv of snapshot.kvs) {
      const key = kv.key.toString('utf8');
      seen.add(key);
      this.apply(key, entryOf(kv));
    }
    for (const [key, previous] of [...this.entries]) {
      if (!seen.has(key)) {
        this.entries.delete(key);
        this.emit('change', { key, entry: undefined, previous });
      }
    }
    this.advance(revision);
    if (this.closed) return;
    const watcher = this.ns.watch().prefix('').startRevision(String(revision + 1)).watcher();
    this.watcher = watcher;
    watcher.on('put', (kv) => this.apply(kv.key.toString('utf8'), entryOf(kv)));
    watcher.on('delete', (kv) => this.remove(kv.key.toString('utf8'), revisionOf(kv.mod_revision)));
    watcher.on('data', (res) => this.advance(revisionOf(res.header.revision)));
    watcher.on('connected', () => {
      this.connected = true;
      this.emit('connected');
    });
    watcher.on('disconnected', (err) => {
      this.connected = false;
      this.emit('disconnected', err);
    });
    watcher.on('error', (err) => void this.restart(watcher, err));
  }

  /** The watch failed for good (e.g. its revision was compacted): read everything again, until it works. */
  private async restart(failed: Watcher, err: Error): Promise<void> {
    if (this.closed || this.watcher !== failed) return;
    this.watcher = null;
    this.connected = false;
    this.onProblem(`the watch of ${this.prefix} failed; reading it again`, err);
    await failed.cancel().catch(() => undefined);
    for (let delayMs = 100; !this.closed; delayMs = Math.min(delayMs * 2, 1_000)) {
      try {
        await this.sync();
        return;
      } catch (retryErr) {
        if (!isEtcdTransient(retryErr)) this.onProblem(`reading ${this.prefix} failed`, retryErr);
        await pause(delayMs);
      }
    }
  }

  private apply(key: string, entry: WatchedEntry): void {
    const previous = this.entries.get(key);
    if (previous && previous.modRevision >= entry.modRevision) return;
    this.entries.set(key, entry);
    this.emit('change', { key, entry, previous });
  }

  private remove(key: string, revision: number): void {
    const previous = this.entries.get(key);
    if (!previous || previous.modRevision >= revision) return;
    this.entries.delete(key);
    this.emit('change', { key, entry: undefined, previous });
  }

  private advance(revision: number): void {
    if (revision <= this.revisionSeen) return;
    this.revisionSeen = revision;
    const due = this.waiters.filter((w) => w.revision <= revision);
    if (due.length === 0) return;
    this.waiters = this.waiters.filter((w) => w.revision > revision);
    for (const waiter of due) waiter.resolve();
  }
}
