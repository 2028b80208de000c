/**
 * The leader-epoch cache of one partition (Kafka's LeaderEpochFileCache, KIP-101/279): for every leader epoch
 * that wrote to the log, the first offset it wrote. A follower whose log may have diverged asks the leader
 * for the end offset of its latest epoch (`endOffsetFor`) and truncates to it, instead of trusting the high
 * watermark alone.
 *
 * Invariants: entries are strictly increasing in both epoch and start offset; every start offset is below
 * the log end offset of the log it describes (truncateFromEnd keeps that) and the first entry may start
 * below the log start offset (truncateFromStart moves it up to it).
 *
 * File `leader-epoch-checkpoint` in the partition directory, text as Kafka's:
 *
 *   0            version
 *   2            number of entries
 *   0 0          epoch, start offset
 *   3 1200
 *
 * Replaced atomically on every change (changes are rare: a leader change, a truncation, retention). It is
 * derived data: a missing or unreadable file is rebuilt from the batch headers of the log (loader), whose
 * `partitionLeaderEpoch` field every appended batch carries.
 */
import { join } from 'node:path';
import { writeFileAtomic, type FileIO } from './file-io.js';
import type { LogEvents } from './log-config.js';
import type { LogSegment } from './log-segment.js';
import type { RecordBatchHeader } from './record-batch.js';

export const LEADER_EPOCH_FILE = 'leader-epoch-checkpoint';
const VERSION = '0';

export interface EpochEntry {
  epoch: number;
  startOffset: number;
}

/** What `endOffsetFor` answers when the epoch is older than anything the cache knows (Kafka: UNDEFINED). */
export const UNDEFINED_EPOCH_OFFSET = { epoch: -1, endOffset: -1 } as const;

export class LeaderEpochCache {
  private entries: EpochEntry[];

  constructor(
    private readonly io: FileIO,
    readonly dir: string,
    entries: EpochEntry[] = [],
  ) {
    this.entries = [...entries];
  }

  get path(): string {
    return join(this.dir, LEADER_EPOCH_FILE);
  }

  /** The newest epoch, or -1 when no batch was ever written with an epoch. */
  get latestEpoch(): number {
    return this.entries.at(-1)?.epoch ?? -1;
  }

  all(): readonly EpochEntry[] {
    return this.entries;
  }

  /** A copy to change and flush before it replaces this one (the file is written before the data). */
  copy(): LeaderEpochCache {
    return new LeaderEpochCache(this.io, this.dir, this.entries);
  }

  /**
   * Records that `epoch` writes from `startOffset` on (called before a batch of a new epoch is appended, and
   * while rebuilding). An epoch at or below the latest is ignored: it is known already.
   */
  assign(epoch: number, startOffset: number): boolean {
    if (epoch < 0) return false;
    const last = this.entries.at(-1);
    if (last && epoch <= last.epoch) return false;
    // A start offset at or below an older epoch's would break the ordering: the newer epoch wins there
    // (what a leader change after a truncation produces).
    while (this.entries.length > 0 && this.entries.at(-1)!.startOffset >= startOffset) this.entries.pop();
    this.entries.push({ epoch, startOffset });
    return true;
  }

  /**
   * For a follower at `epoch`: the largest epoch <= `epoch` this log knows, and the offset where it ended
   * (the next epoch's start offset, or `logEndOffset` for the latest). UNDEFINED when `epoch` is older than
   * every entry.
   */
  endOffsetFor(epoch: number, logEndOffset: number): { epoch: number; endOffset: number } {
    let index = -1;
    for (let i = this.entries.length - 1; i >= 0; i--) {
      if (this.entries[i]!.epoch <= epoch) {
        index = i;
        break;
      }
    }
    if (index < 0) return UNDEFINED_EPOCH_OFFSET;
    const next = this.entries[index + 1];
    return { epoch: this.entries[index]!.epoch, endOffset: next ? next.startOffset : logEndOffset };
  }

  /** The log was cut to `endOffset`: epochs that start at or after it are gone. */
  truncateFromEnd(endOffset: number): boolean {
    const before = this.entries.length;
    this.entries = this.entries.filter((e) => e.startOffset < endOffset);
    return this.entries.length !== before;
  }

  /**
   * Segments before `startOffset` were deleted: epochs that ended before it are dropped, and the one that
   * covers it starts there now.
   */
  truncateFromStart(startOffset: number): boolean {
    let changed = false;
    while (this.entries.length > 1 && this.entries[1]!.startOffset <= startOffset) {
      this.entries.shift();
      changed = true;
    }
    const first = this.entries[0];
    if (first && first.startOffset < startOffset) {
      this.entries[0] = { epoch: first.epoch, startOffset };
      changed = true;
    }
    return changed;
  }

  /**
   * Writes the file (write-temp, rename; with `durable`, fdatasync and directory fsync too). Under fsync
   * `interval` and `never` the file is not synced, like the data; a file that lost its newest entries in a
   * crash is caught at load, where the last batch's epoch must be known (else the cache is rebuilt).
   */
  async flush(durable = true): Promise<void> {
    const lines = [VERSION, String(this.entries.length), ...this.entries.map((e) => `${e.epoch} ${e.startOffset}`)];
    await writeFileAtomic(this.io, this.path, Buffer.from(lines.join('\n') + '\n'), { durable });
  }
}

/**
 * Reads `dir`'s checkpoint file. Returns null when it is missing or does not parse (the caller rebuilds the
 * cache from the log), with the reason in `problem`.
 */
export async function readLeaderEpochFile(io: FileIO, dir: string): Promise<{ entries: EpochEntry[] | null; problem: string | null }> {
  const path = join(dir, LEADER_EPOCH_FILE);
  if ((await io.fileSize(path)) === null) return { entries: null, problem: null };
  const lines = (await io.readFile(path)).toString('utf8').split('\n').filter((l) => l.length > 0);
  if (lines[0] !== VERSION) return { entries: null, problem: `unknown version line ${JSON.stringify(lines[0])}` };
  const count = Number(lines[1]);
  if (!Number.isInteger(count) || count !== lines.length - 2) return { entries: null, problem: `expected ${lines[1]} entries, found ${lines.length - 2}` };
  const entries: EpochEntry[] = [];
  for (const line of lines.slice(2)) {
    const [epoch, startOffset] = line.split(' ').map(Number);
    const previous = entries.at(-1);
    if (!Number.isInteger(epoch) || !Number.isSafeInteger(startOffset) || epoch! < 0 || startOffset! < 0) {
      return { entries: null, problem: `bad entry ${JSON.stringify(line)}` };
    }
    if (previous && (epoch! <= previous.epoch || startOffset! <= previous.startOffset)) {
      return { entries: null, problem: `entry ${JSON.stringify(line)} does not follow the one before` };
    }
    entries.push({ epoch: epoch!, startOffset: startOffset! });
  }
  return { entries, problem: null };
}

/**
 * The cache of a loaded log: from its file, or rebuilt from the batch headers when the file is missing or
 * unreadable (then written), and cut to the log's range [log start, log end).
 */
export async function loadLeaderEpochCache(io: FileIO, dir: string, segments: readonly LogSegment[], events: LogEvents, name: string): Promise<LeaderEpochCache> {
  const { entries, problem } = await readLeaderEpochFile(io, dir);
  let cache: LeaderEpochCache;
  let changed = false;
  const last = await lastBatchHeader(segments);
  const stale = entries !== null && last !== null && last.partitionLeaderEpoch >= 0 && !entries.some((e) => e.epoch === last.partitionLeaderEpoch);
  if (entries && !stale) {
    cache = new LeaderEpochCache(io, dir, entries);
  } else {
    if (problem || stale) {
      events.warn({ partition: name, problem: problem ?? `the last batch's epoch ${last!.partitionLeaderEpoch} is not in it` }, 'leader-epoch checkpoint unreadable or behind the log; rebuilding it from the log');
    }
    cache = new LeaderEpochCache(io, dir);
    for (const segment of segments) {
      await segment.forEachBatchHeader(0, (header) => {
        cache.assign(header.partitionLeaderEpoch, header.baseOffset);
      });
    }
    changed = cache.all().length > 0 || problem !== null || stale;
  }
  const logStart = segments[0]!.baseOffset;
  const logEnd = segments[segments.length - 1]!.nextOffset;
  changed = cache.truncateFromEnd(logEnd) || changed;
  changed = cache.truncateFromStart(logStart) || changed;
  if (changed) await cache.flush();
  return cache;
}

/** The header of the log's last batch (the newest non-empty segment's), or null for an empty log. */
async function lastBatchHeader(segments: readonly LogSegment[]): Promise<RecordBatchHeader | null> {
  for (let i = segments.length - 1; i >= 0; i--) {
    const segment = segments[i]!;
    if (segment.isEmpty) continue;
    await segment.ensureIndexesLoaded();
    let last: RecordBatchHeader | null = null;
    await segment.forEachBatchHeader(segment.offsetIndex.lookup(segment.nextOffset), (header) => {
      last = header;
    });
    return last;
  }
  return null;
}
