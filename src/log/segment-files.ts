/**
 * The one place that knows file names in a partition directory.
 *
 *   00000000000000001234.log         segment data, named by its base offset (20 digits, zero-padded)
 *   00000000000000001234.index       sparse offset index of that segment
 *   00000000000000001234.timeindex   sparse time index of that segment
 *   00000000000000001234.snapshot    producer-state snapshot taken at offset 1234
 *   <any of the above>.deleted       scheduled for deletion (retention, truncation)
 *   <any of the above>.corrupted     quarantined by recovery: bytes after a corrupt batch, kept for an operator
 *   <any>.tmp                        half-written replacement file (write-temp, fsync, rename)
 *
 * Partition directories are `<topic>-<partition>`; topic names may contain '-', so the partition is the part
 * after the last '-'.
 */
import { join } from 'node:path';

export const LOG_SUFFIX = '.log';
export const INDEX_SUFFIX = '.index';
export const TIME_INDEX_SUFFIX = '.timeindex';
export const SNAPSHOT_SUFFIX = '.snapshot';
export const DELETED_SUFFIX = '.deleted';
export const CORRUPTED_SUFFIX = '.corrupted';
export const TEMP_SUFFIX = '.tmp';

export const RECOVERY_POINT_FILE = 'recovery-point-offset-checkpoint';
/** the replication layer's high-watermark checkpoint (src/replication/high-watermark-checkpoint.ts) */
export const HIGH_WATERMARK_FILE = 'replication-offset-checkpoint';
export const CLEAN_SHUTDOWN_FILE = 'clean-shutdown';

const OFFSET_DIGITS = 20;
const NAMED_FILE = /^(\d{20})\.(log|index|timeindex|snapshot)$/;

export function offsetToName(offset: number): string {
  return String(offset).padStart(OFFSET_DIGITS, '0');
}

export type SegmentFileKind = 'log' | 'index' | 'timeindex' | 'snapshot';

/** Parses `00000000000000001234.log` and friends; null for anything else. */
export function parseFileName(name: string): { offset: number; kind: SegmentFileKind } | null {
  const match = NAMED_FILE.exec(name);
  if (!match) return null;
  const offset = Number(match[1]);
  if (!Number.isSafeInteger(offset)) return null;
  return { offset, kind: match[2] as SegmentFileKind };
}

export function segmentPaths(dir: string, baseOffset: number) {
  const stem = join(dir, offsetToName(baseOffset));
  return {
    log: stem + LOG_SUFFIX,
    index: stem + INDEX_SUFFIX,
    timeIndex: stem + TIME_INDEX_SUFFIX,
  };
}

export function snapshotPath(dir: string, offset: number): string {
  return join(dir, offsetToName(offset) + SNAPSHOT_SUFFIX);
}

export interface TopicPartition {
  topic: string;
  partition: number;
}

export function partitionDirName(tp: TopicPartition): string {
  return `${tp.topic}-${tp.partition}`;
}

const TOPIC_NAME = /^[a-zA-Z0-9._-]{1,249}$/;

export function isValidTopicName(name: string): boolean {
  return TOPIC_NAME.test(name) && name !== '.' && name !== '..';
}

/** Parses `orders-3`; null when the name is not a partition directory. */
export function parsePartitionDirName(name: string): TopicPartition | null {
  const dash = name.lastIndexOf('-');
  if (dash <= 0) return null;
  const topic = name.slice(0, dash);
  const digits = name.slice(dash + 1);
  if (!/^\d{1,9}$/.test(digits) || !isValidTopicName(topic)) return null;
  return { topic, partition: Number(digits) };
}
