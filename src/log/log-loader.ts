/**
 * Opens a partition directory: sorts out stray files, loads segments, and after an unclean stop recovers the
 * segments past the recovery point. Kept apart from PartitionLog so the append path stays small; it gives
 * the state a PartitionLog starts from (at start-up, and when an offline partition is reopened).
 *
 * After a clean stop nothing is scanned: inactive segments' indexes are read lazily on first use, and the
 * active segment is read only after its last index entry (to learn the log end offset).
 *
 * After an unclean stop every segment from the one holding the recovery point is validated batch by batch
 * (length, magic, CRC-32C, offsets increasing) and its indexes rebuilt. At the first invalid batch:
 * - a torn tail (incomplete last batch, or zero bytes left by a crash) of the last segment is cut off: it was
 *   never acknowledged under fsync `always`;
 * - anything else is corruption of written data: the bytes from the bad batch on, and all later segments,
 *   are moved aside as `*.corrupted` files (kept for an operator, readable with `sluice dump-log`), never
 *   silently dropped, and the log continues from the last good batch.
 *
 * Stray files: `*.deleted` (deletion was pending) and `*.tmp` (an interrupted atomic replace) are removed,
 * an index without its .log is removed, a missing index is rebuilt, unknown files are left alone and reported.
 */
import { join } from 'node:path';
import type { FileIO } from './file-io.js';
import { writeFully } from './file-io.js';
import { segmentOptionsOf, type LogConfig } from './log-config.js';
import { LogSegment } from './log-segment.js';
import { recoverSegment } from './segment-recovery.js';
import type { LogSegmentsState, PartitionLogDeps } from './local-log.js';
import { LEADER_EPOCH_FILE, loadLeaderEpochCache } from './leader-epoch-cache.js';
import { deleteSnapshotsAbove, rebuildProducerState } from './producer-snapshot.js';
import {
  CORRUPTED_SUFFIX,
  DELETED_SUFFIX,
  TEMP_SUFFIX,
  parseFileName,
  type TopicPartition,
} from './segment-files.js';

export interface PartitionLoadReport {
  partition: string;
  recoveredSegments: number;
  /** bytes cut from a torn tail */
  truncatedBytes: number;
  /** bytes moved aside as *.corrupted */
  quarantinedBytes: number;
  quarantinedFiles: string[];
  removedStrayFiles: string[];
  unknownFiles: string[];
  rebuiltIndexes: number;
}

export interface LoadPartitionOptions {
  cleanShutdown: boolean;
  /** offset below which data and indexes are known flushed; 0 when unknown */
  recoveryPoint: number;
}

/** Loads (and if needed recovers) the files of a partition: the state a PartitionLog starts from. */
export async function loadPartitionState(
  dir: string,
  tp: TopicPartition,
  config: Partial<LogConfig>,
  deps: PartitionLogDeps,
  options: LoadPartitionOptions,
): Promise<{ state: LogSegmentsState; report: PartitionLoadReport }> {
  const io = deps.handles.io;
  const name = `${tp.topic}-${tp.partition}`;
  const report: PartitionLoadReport = {
    partition: name,
    recoveredSegments: 0,
    truncatedBytes: 0,
    quarantinedBytes: 0,
    quarantinedFiles: [],
    removedStrayFiles: [],
    unknownFiles: [],
    rebuiltIndexes: 0,
  };
  const segmentOptions = segmentOptionsOf(config);

  const logs = new Map<number, number>();
  const indexes: { offset: number; name: string }[] = [];
  for (const file of (await io.readdir(dir)).sort()) {
    const parsed = parseFileName(file);
    if (parsed?.kind === 'log') {
      logs.set(parsed.offset, (await io.fileSize(join(dir, file))) ?? 0);
    } else if (parsed?.kind === 'index' || parsed?.kind === 'timeindex') {
      indexes.push({ offset: parsed.offset, name: file });
    } else if (parsed?.kind === 'snapshot' || file === LEADER_EPOCH_FILE) {
      // read by rebuildProducerState and loadLeaderEpochCache
    } else if (file.endsWith(DELETED_SUFFIX) || file.endsWith(TEMP_SUFFIX)) {
      await unlinkIfPresent(io, join(dir, file));
      report.removedStrayFiles.push(file);
    } else if (file.endsWith(CORRUPTED_SUFFIX)) {
      report.quarantinedFiles.push(file);
    } else {
      report.unknownFiles.push(file);
    }
  }
  for (const index of indexes) {
    if (!logs.has(index.offset)) {
      await unlinkIfPresent(io, join(dir, index.name));
      report.removedStrayFiles.push(index.name);
    }
  }

  const bases = [...logs.keys()].sort((a, b) => a - b);
  let segments: LogSegment[];
  if (bases.length === 0) {
    segments = [await LogSegment.create(deps.handles, dir, 0, segmentOptions)];
  } else {
    segments = bases.map((base) => LogSegment.existing(deps.handles, dir, base, logs.get(base)!, segmentOptions));
  }
  segments.forEach((segment, i) => {
    segment.nextOffset = segments[i + 1]?.baseOffset ?? segment.baseOffset;
    segment.onIndexRebuilt = (reason) => {
      report.rebuiltIndexes++;
      deps.events.warn({ partition: name, segment: segment.baseOffset, reason }, 'rebuilt index from the log');
    };
  });
  for (const segment of segments) {
    const hasBoth = indexes.filter((i) => i.offset === segment.baseOffset).length === 2;
    if (!hasBoth && segment !== segments[segments.length - 1]) await segment.ensureIndexesLoaded();
  }

  let recoverFrom = -1;
  if (options.cleanShutdown) {
    const active = segments[segments.length - 1]!;
    const problem = await active.loadTail();
    if (problem) {
      deps.events.warn({ partition: name, problem }, 'active segment does not match a clean shutdown; recovering it');
      recoverFrom = segments.length - 1;
    }
  } else {
    recoverFrom = 0;
    for (let i = 0; i < segments.length; i++) if (segments[i]!.baseOffset <= options.recoveryPoint) recoverFrom = i;
  }

  if (recoverFrom >= 0) segments = await recoverSegments(io, segments, recoverFrom, report, deps, name);

  if (recoverFrom >= 0) await segments[segments.length - 1]!.loadRollingBase();
  const logEndOffset = segments[segments.length - 1]!.nextOffset;
  await deleteSnapshotsAbove(io, dir, logEndOffset);
  const producerState = await rebuildProducerState(io, dir, segments, logEndOffset, deps.events);
  const epochs = await loadLeaderEpochCache(io, dir, segments, deps.events, name);
  const recoveryPoint = recoverFrom >= 0 ? segments[segments.length - 1]!.baseOffset : logEndOffset;
  return { state: { segments, recoveryPoint, producerState, epochs }, report };
}

async function recoverSegments(
  io: FileIO,
  segments: LogSegment[],
  from: number,
  report: PartitionLoadReport,
  deps: PartitionLogDeps,
  name: string,
): Promise<LogSegment[]> {
  for (let i = from; i < segments.length; i++) {
    const segment = segments[i]!;
    const result = await recoverSegment(segment);
    report.recoveredSegments++;
    const isLast = i === segments.length - 1;
    if (result.invalid) {
      const torn = isLast && (result.invalid.kind === 'torn' || (await isZeroFrom(segment, result.validBytes)));
      if (torn) {
        report.truncatedBytes += result.invalidBytes;
        deps.events.warn(
          { partition: name, segment: segment.baseOffset, position: result.validBytes, bytes: result.invalidBytes, reason: result.invalid.reason },
          'truncated a torn write at the log tail',
        );
      } else {
        const saved = await quarantineTail(io, segment, result.validBytes);
        report.quarantinedBytes += result.invalidBytes;
        report.quarantinedFiles.push(saved);
        const later = segments.splice(i + 1);
        for (const s of later) {
          s.dropHandles();
          const target = await freeQuarantineName(io, s.logPath);
          await io.rename(s.logPath, target);
          report.quarantinedFiles.push(target);
          report.quarantinedBytes += s.size;
          for (const p of [s.offsetIndex.path, s.timeIndex.path]) await io.unlink(p).catch(() => undefined);
        }
        deps.events.error(
          {
            partition: name,
            segment: segment.baseOffset,
            position: result.validBytes,
            reason: result.invalid.reason,
            quarantinedBytes: report.quarantinedBytes,
            quarantinedFiles: report.quarantinedFiles,
          },
          'corrupt record batch: the log continues from the last valid batch; later data was moved aside as *.corrupted',
        );
        await io.syncDirectory(segment.dir);
      }
      await segment.truncateFileTo(result.validBytes);
    }
    await segment.writeIndexes();
    await segment.sync();
    if (i < segments.length - 1) await segment.finishIndexes();
  }
  return segments;
}

/** `<file>.corrupted`, or `<file>.<n>.corrupted` when earlier quarantined bytes hold that name already. */
async function freeQuarantineName(io: FileIO, path: string): Promise<string> {
  for (let n = 0; ; n++) {
    const candidate = n === 0 ? path + CORRUPTED_SUFFIX : `${path}.${n}${CORRUPTED_SUFFIX}`;
    if ((await io.fileSize(candidate)) === null) return candidate;
  }
}

async function unlinkIfPresent(io: FileIO, path: string): Promise<void> {
  await io.unlink(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'ENOENT') throw err;
  });
}

/** A crash can leave a file longer than its data, padded with zeros: that is a torn tail, not corruption. */
async function isZeroFrom(segment: LogSegment, position: number): Promise<boolean> {
  const chunk = 1024 * 1024;
  for (let at = position; at < segment.size; at += chunk) {
    const bytes = await segment.read(at, chunk);
    if (bytes.some((b) => b !== 0)) return false;
  }
  return true;
}

/** Copies the segment's bytes from `position` to `<segment>.log.corrupted` before the segment is cut there. */
async function quarantineTail(io: FileIO, segment: LogSegment, position: number): Promise<string> {
  const target = await freeQuarantineName(io, segment.logPath);
  const out = await io.open(target, 'create');
  try {
    const chunk = 1024 * 1024;
    for (let at = position; at < segment.size; at += chunk) {
      const bytes = await segment.read(at, chunk);
      await writeFully(io, out, [bytes], at - position);
    }
    await io.datasync(out);
  } finally {
    await io.close(out);
  }
  return target;
}
