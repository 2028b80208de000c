/**
 * The recovery-point checkpoint: per partition, the offset below which data and indexes are known to be
 * on disk. After an unclean stop only segments at or after it are scanned.
 *
 * Text format, as Kafka's offset checkpoint files:
 *
 *   0                      version
 *   2                      number of entries
 *   orders 0 1234          topic, partition, offset
 *   orders 1 0
 *
 * Replaced atomically (write temp, fdatasync, rename, fsync directory). A file that does not parse is
 * reported and treated as empty: recovery then scans everything, which is slow but safe.
 */
import type { FileIO } from './file-io.js';
import { writeFileAtomic } from './file-io.js';
import { partitionDirName, type TopicPartition } from './segment-files.js';

const VERSION = '0';

export async function writeOffsetCheckpoint(io: FileIO, path: string, entries: Map<string, { tp: TopicPartition; offset: number }>): Promise<void> {
  const lines = [VERSION, String(entries.size)];
  for (const { tp, offset } of entries.values()) lines.push(`${tp.topic} ${tp.partition} ${offset}`);
  await writeFileAtomic(io, path, Buffer.from(lines.join('\n') + '\n'));
}

/** Reads a checkpoint; returns the entries keyed by partition directory name, or a problem description. */
export async function readOffsetCheckpoint(io: FileIO, path: string): Promise<{ offsets: Map<string, number>; problem: string | null }> {
  const offsets = new Map<string, number>();
  if ((await io.fileSize(path)) === null) return { offsets, problem: null };
  const lines = (await io.readFile(path)).toString('utf8').split('\n').filter((l) => l.length > 0);
  if (lines[0] !== VERSION) return { offsets, problem: `unknown version line ${JSON.stringify(lines[0])}` };
  const count = Number(lines[1]);
  if (!Number.isInteger(count) || count !== lines.length - 2) return { offsets, problem: `expected ${lines[1]} entries, found ${lines.length - 2}` };
  for (const line of lines.slice(2)) {
    const [topic, partition, offset] = line.split(' ');
    const p = Number(partition);
    const o = Number(offset);
    if (!topic || !Number.isInteger(p) || !Number.isSafeInteger(o) || o < 0) {
      return { offsets: new Map(), problem: `bad entry ${JSON.stringify(line)}` };
    }
    offsets.set(partitionDirName({ topic, partition: p }), o);
  }
  return { offsets, problem: null };
}
