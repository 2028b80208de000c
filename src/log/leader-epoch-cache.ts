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

  /** Writes the file (write-temp, fdatasync, rename, directory fsync). */
  async flush(): Promise<void> {
    const lines = [VERSION, String(this.entries.length), ...this.entries.map((e) => `${e.epoch} ${e.startOffset}`)];
    await writeFileAtomic(this.io, this.path, Buffer.from(lines.join('\n') + '\n'));
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
