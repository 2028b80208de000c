/**
 * Producer-state snapshots: `<offset>.snapshot` in the partition directory holds the idempotent-producer
 * state as of that offset, so loading a partition reads only the batch headers after the newest snapshot
 * instead of the whole log. Written at segment roll and at clean close; the two newest are kept.
 *
 * Format: one JSON document `{"version": 1, "offset": N, "crc": C, "producers": [...]}` where C is the
 * CRC-32C of the JSON text of `producers`. A snapshot that does not parse or fails its CRC is ignored (and
 * an older one, or the log itself, is used instead), so snapshots are written without fsync.
 */
import { crc32c } from './crc32c.js';
import type { FileIO } from './file-io.js';
import { tempPathFor, writeFully } from './file-io.js';
import type { LogEvents } from './log-config.js';
import type { LogSegment } from './log-segment.js';
import { ProducerStateMap, type ProducerEntry } from './producer-state.js';
import { lastOffsetOf } from './record-batch.js';
import { parseFileName, snapshotPath } from './segment-files.js';
import { join } from 'node:path';

const VERSION = 1;
const KEEP = 2;

export async function listSnapshotOffsets(io: FileIO, dir: string): Promise<number[]> {
  const names = await io.readdir(dir);
  return names
    .map(parseFileName)
    .filter((p): p is { offset: number; kind: 'snapshot' } => p !== null && p.kind === 'snapshot')
    .map((p) => p.offset)
    .sort((a, b) => a - b);
}

export async function writeSnapshot(io: FileIO, dir: string, offset: number, state: ProducerEntry[]): Promise<void> {
  const producers = JSON.stringify(state);
  const body = `{"version":${VERSION},"offset":${offset},"crc":${crc32c(Buffer.from(producers))},"producers":${producers}}`;
  const path = snapshotPath(dir, offset);
  const tmp = tempPathFor(path);
  const fd = await io.open(tmp, 'create');
  try {
    await writeFully(io, fd, [Buffer.from(body)], 0);
    await io.close(fd);
    await io.rename(tmp, path);
  } catch (err) {
    // On a full disk a half-written temp file would hold space until the next start removed it.
    await io.close(fd).catch(() => undefined);
    await io.unlink(tmp).catch(() => undefined);
    throw err;
  }
  const older = (await listSnapshotOffsets(io, dir)).filter((o) => o < offset);
  for (const old of older.slice(0, Math.max(0, older.length - (KEEP - 1)))) {
    await io.unlink(snapshotPath(dir, old)).catch(() => undefined);
  }
}

/** The newest valid snapshot at or below `maxOffset`, or null. */
export async function readLatestSnapshot(
  io: FileIO,
  dir: string,
  maxOffset: number,
): Promise<{ offset: number; state: ProducerStateMap; skipped: string[] } | null> {
  const skipped: string[] = [];
  const offsets = (await listSnapshotOffsets(io, dir)).filter((o) => o <= maxOffset).reverse();
  for (const offset of offsets) {
    try {
      const doc = JSON.parse((await io.readFile(snapshotPath(dir, offset))).toString('utf8')) as {
        version: number;
        offset: number;
        crc: number;
        producers: ProducerEntry[];
      };
      if (doc.version !== VERSION || doc.offset !== offset) throw new Error('wrong version or offset');
      if (crc32c(Buffer.from(JSON.stringify(doc.producers))) !== doc.crc) throw new Error('CRC mismatch');
      return { offset, state: ProducerStateMap.fromJSON(doc.producers), skipped };
    } catch (err) {
      skipped.push(`${join(dir, String(offset))}.snapshot: ${(err as Error).message}`);
    }
  }
  return skipped.length ? { offset: -1, state: new ProducerStateMap(), skipped } : null;
}

/** Removes snapshots taken above `offset` (after truncation or recovery cut the log below them). */
export async function deleteSnapshotsAbove(io: FileIO, dir: string, offset: number): Promise<void> {
  for (const o of await listSnapshotOffsets(io, dir)) {
    if (o > offset) await io.unlink(snapshotPath(dir, o)).catch(() => undefined);
  }
}

/**
 * Producer state as of `endOffset`: the newest snapshot at or below it, then the batch headers after it.
 */
export async function rebuildProducerState(
  io: FileIO,
  dir: string,
  segments: LogSegment[],
  endOffset: number,
  events: LogEvents,
): Promise<ProducerStateMap> {
  const snapshot = await readLatestSnapshot(io, dir, endOffset);
  if (snapshot?.skipped.length) events.warn({ skipped: snapshot.skipped }, 'ignored unreadable producer snapshots; reading the log instead');
  const state = snapshot && snapshot.offset >= 0 ? snapshot.state : new ProducerStateMap();
  const from = snapshot && snapshot.offset >= 0 ? snapshot.offset : 0;
  for (const segment of segments) {
    if (segment.nextOffset <= from) continue;
    const position = from > segment.baseOffset ? (await segment.findBatch(from))?.position ?? segment.size : 0;
    await segment.forEachBatchHeader(position, (header) => {
      if (header.baseOffset >= endOffset) return false;
      if (lastOffsetOf(header) >= from) state.update(header);
      return true;
    });
  }
  return state;
}
