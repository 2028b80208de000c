/**
 * Settings of the storage engine: per-partition log settings (from the topic's config) and the engine-wide
 * ones (fsync policy, open-file budget). The broker's config table (src/server) feeds these; the storage
 * engine itself only validates what it must to stay safe.
 */
export type FsyncPolicy = 'always' | 'interval' | 'never';

export const FSYNC_POLICIES: readonly FsyncPolicy[] = ['always', 'interval', 'never'];

export interface LogConfig {
  /** roll when a segment would grow past this many bytes (min 1,024) */
  segmentBytes: number;
  /** roll when the segment's first batch is older than this */
  segmentMs: number;
  /** bytes between two sparse index entries */
  indexIntervalBytes: number;
  /** largest size of one index file; a full index rolls the segment */
  segmentIndexBytes: number;
  /** largest record batch accepted */
  maxMessageBytes: number;
  /** delay between renaming a deleted segment to .deleted and removing it */
  fileDeleteDelayMs: number;
}

export const DEFAULT_LOG_CONFIG: LogConfig = {
  segmentBytes: 134_217_728,
  segmentMs: 604_800_000,
  indexIntervalBytes: 4_096,
  segmentIndexBytes: 10_485_760,
  maxMessageBytes: 1_048_588,
  fileDeleteDelayMs: 60_000,
};

export const MIN_SEGMENT_BYTES = 1_024;

/** Minimal structured logger (pino's Logger satisfies it), so src/log does not depend on a logging library. */
export interface LogEvents {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export const silentLogEvents: LogEvents = { info() {}, warn() {}, error() {} };

/** The part of a log config a segment needs. */
export function segmentOptionsOf(config: Partial<LogConfig>): { indexIntervalBytes: number; maxIndexBytes: number } {
  const full = { ...DEFAULT_LOG_CONFIG, ...config };
  return { indexIntervalBytes: full.indexIntervalBytes, maxIndexBytes: full.segmentIndexBytes };
}
