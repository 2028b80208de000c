/**
 * Owns every partition log of a data directory: opens them at start-up (recovering after an unclean
 * stop), creates and deletes them, runs the background flusher (fsync policy `interval`) and the
 * recovery-point checkpoint, and on close writes the clean-shutdown marker.
 *
 * Data directory layout (see docs/storage-format.md):
 *   <dataDir>/<topic>-<partition>/...           one directory per partition (see segment-files.ts)
 *   <dataDir>/recovery-point-offset-checkpoint  per partition: offset below which data is known flushed
 *   <dataDir>/clean-shutdown                    present only after a clean stop; removed at start
 *   <dataDir>/meta/                             broker metadata (not the storage engine's)
 *
 * Start-up removes the clean-shutdown marker (durably) once the partitions are loaded and before any append
 * can happen, so a crash at any later point is recognised as unclean.
 */
import { join } from 'node:path';
import { systemClock, type Clock } from './clock.js';
import { crcImplementation } from './crc32c.js';
import { BrokerError, storageError } from '../common/errors.js';
import { nodeFileIO, writeFileAtomic, type FileIO } from './file-io.js';
import { HandleCache } from './handle-cache.js';
import { readOffsetCheckpoint, writeOffsetCheckpoint } from './checkpoint-file.js';
import { segmentOptionsOf, silentLogEvents, type FsyncPolicy, type LogConfig, type LogEvents } from './log-config.js';
import { loadPartitionState, type PartitionLoadReport } from './log-loader.js';
import { LogSegment } from './log-segment.js';
import { DELETE_DIR_SUFFIX, scanDataDir } from './data-dir.js';
import { DEFAULT_STORAGE_RETRY_BACKOFF_MS, PartitionLog, type PartitionLogDeps } from './partition-log.js';
import { ProducerStateMap } from './producer-state.js';
import { Serial } from './serial.js';
import { lockDataDir } from './dir-lock.js';
import {
  CLEAN_SHUTDOWN_FILE,
  RECOVERY_POINT_FILE,
  partitionDirName,
  type TopicPartition,
} from './segment-files.js';

export interface LogManagerOptions {
  dataDir: string;
  fsyncPolicy?: FsyncPolicy;
  /** how often the `interval` policy fsyncs */
  flushIntervalMs?: number;
  /** how often recovery points are checkpointed */
  recoveryPointCheckpointIntervalMs?: number;
  /** open file descriptors kept by the storage engine */
  maxOpenFiles?: number;
  /** partitions opened at once during start-up */
  openConcurrency?: number;
  clock?: Clock;
  events?: LogEvents;
  io?: FileIO;
  /** idempotent-producer state idle this long is forgotten (Kafka's producer.id.expiration.ms) */
  producerIdExpirationMs?: number;
  /** how often expired producer state is looked for */
  producerIdExpirationCheckIntervalMs?: number;
  /** log settings of a partition (from its topic's config) */
  logConfigFor?: (tp: TopicPartition) => Partial<LogConfig>;
  /** told how long each group fdatasync took (metrics) */
  onSync?: (seconds: number) => void;
  /** after a full disk: how long until the next append may reopen an offline partition or retry finishing rolled segments */
  storageRetryBackoffMs?: number;
}

export interface StartupReport {
  cleanShutdown: boolean;
  /** no partitions and no clean-shutdown marker: a new data directory, nothing to recover */
  newDataDir: boolean;
  partitions: number;
  durationMs: number;
  crcImplementation: string;
  recoveredSegments: number;
  truncatedBytes: number;
  quarantinedBytes: number;
  removedStrayFiles: string[];
  unknownFiles: string[];
  rebuiltIndexes: number;
  /** partitions whose files could not be loaded: offline until a restart loads them or their topic is deleted */
  unloadablePartitions: string[];
  checkpointProblem: string | null;
  partitionReports: PartitionLoadReport[];
}


/** A partition whose directory exists but could not be opened at start-up (see LogManager.offlineError). */
export interface UnloadablePartition {
  tp: TopicPartition;
  dir: string;
}

export class LogManager {
  readonly handles: HandleCache;
  private readonly logs = new Map<string, PartitionLog>();
  private readonly unloadable = new Map<string, UnloadablePartition>();
  private readonly deps: PartitionLogDeps;
  private readonly stopTimers: (() => void)[] = [];
  private unlock: () => Promise<void> = async () => undefined;
  private deletions = 0;
  private closed = false;
  /** checkpoint writes one at a time (the timer's and close()'s share a temp file name) */
  private readonly checkpoints = new Serial();
  report!: StartupReport;

  private constructor(private readonly options: Required<LogManagerOptions>) {
    this.handles = new HandleCache(options.io, options.maxOpenFiles);
    this.deps = {
      handles: this.handles,
      clock: options.clock,
      events: options.events,
      fsyncPolicy: options.fsyncPolicy,
      onSync: options.onSync,
      storageRetryBackoffMs: options.storageRetryBackoffMs,
    };
  }

  static async open(options: LogManagerOptions): Promise<LogManager> {
    const manager = new LogManager({
      fsyncPolicy: 'always',
      flushIntervalMs: 1_000,
      recoveryPointCheckpointIntervalMs: 60_000,
      maxOpenFiles: 512,
      openConcurrency: 16,
      producerIdExpirationMs: 86_400_000,
      producerIdExpirationCheckIntervalMs: 600_000,
      clock: systemClock,
      events: silentLogEvents,
      io: nodeFileIO,
      logConfigFor: () => ({}),
      onSync: () => undefined,
      storageRetryBackoffMs: DEFAULT_STORAGE_RETRY_BACKOFF_MS,
      ...options,
    });
    await manager.load();
    manager.startTimers();
    return manager;
  }

  get dataDir(): string {
    return this.options.dataDir;
  }

  private async load(): Promise<void> {
    const started = Date.now();
    const { io, dataDir, events } = this.options;
    try {
      await io.mkdir(dataDir);
    } catch (err) {
      throw storageError(`creating data directory ${dataDir}`, err);
    }
    this.unlock = await lockDataDir(io, dataDir);
    const markerPath = join(dataDir, CLEAN_SHUTDOWN_FILE);
    const cleanShutdown = (await io.fileSize(markerPath)) !== null;
    const checkpoint = await readOffsetCheckpoint(io, join(dataDir, RECOVERY_POINT_FILE)).catch((err: Error) => ({
      offsets: new Map<string, number>(),
      problem: err.message,
    }));
    if (checkpoint.problem) events.warn({ problem: checkpoint.problem }, 'recovery-point checkpoint unreadable; recovering all segments');

    const { partitions: dirs, unknownFiles, removedStrayFiles } = await scanDataDir(io, dataDir);

    const reports: PartitionLoadReport[] = [];
    let next = 0;
    const worker = async () => {
      while (next < dirs.length) {
        const { name, tp } = dirs[next++]!;
        const dir = join(dataDir, name);
        const config = this.options.logConfigFor(tp);
        try {
          const { state, report } = await loadPartitionState(dir, tp, config, this.deps, {
            cleanShutdown,
            recoveryPoint: checkpoint.offsets.get(name) ?? 0,
          });
          this.logs.set(name, new PartitionLog(dir, tp, config, this.deps, state));
          reports.push(report);
        } catch (err) {
          // One partition never keeps the broker from starting: it stays offline (its files untouched, for an
          // operator) and every other partition is served.
          this.handles.dropUnder(dir);
          this.unloadable.set(name, { tp, dir });
          events.error({ partition: name, err }, 'partition could not be loaded and is offline; the other partitions are served');
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.options.openConcurrency, dirs.length) }, worker));

    if (cleanShutdown) {
      await io.unlink(markerPath);
      await io.syncDirectory(dataDir);
    }
    const sum = (pick: (r: PartitionLoadReport) => number) => reports.reduce((t, r) => t + pick(r), 0);
    this.report = {
      cleanShutdown,
      newDataDir: !cleanShutdown && dirs.length === 0,
      partitions: this.logs.size,
      durationMs: Date.now() - started,
      crcImplementation,
      recoveredSegments: sum((r) => r.recoveredSegments),
      truncatedBytes: sum((r) => r.truncatedBytes),
      quarantinedBytes: sum((r) => r.quarantinedBytes),
      removedStrayFiles: [...removedStrayFiles, ...reports.flatMap((r) => r.removedStrayFiles.map((f) => `${r.partition}/${f}`))],
      unknownFiles: [...unknownFiles, ...reports.flatMap((r) => r.unknownFiles.map((f) => `${r.partition}/${f}`))],
      rebuiltIndexes: sum((r) => r.rebuiltIndexes),
      unloadablePartitions: [...this.unloadable.keys()].sort(),
      checkpointProblem: checkpoint.problem,
      partitionReports: reports,
    };
    const { partitionReports: _omit, ...summary } = this.report;
    if (summary.unknownFiles.length > 0) events.warn({ files: summary.unknownFiles }, 'unknown files in the data directory were left alone');
    if (summary.removedStrayFiles.length > 0) events.info({ files: summary.removedStrayFiles }, 'removed leftover files');
    const state = cleanShutdown ? 'storage opened after a clean shutdown' : dirs.length === 0 ? 'storage opened: a new data directory' : 'storage recovered after an unclean shutdown';
    events.info(summary, state);
  }

  private startTimers(): void {
    const { fsyncPolicy, flushIntervalMs, recoveryPointCheckpointIntervalMs } = this.options;
    if (fsyncPolicy === 'interval') this.repeat(flushIntervalMs, () => this.flushAll(), 'interval flush failed');
    this.repeat(recoveryPointCheckpointIntervalMs, () => this.checkpointRecoveryPoints(), 'recovery-point checkpoint failed');
    this.repeat(this.options.producerIdExpirationCheckIntervalMs, async () => void this.expireProducers(), 'expiring producer state failed');
  }

  /** Forgets idle idempotent producers in every partition; returns how many entries went. */
  expireProducers(): number {
    const now = this.options.clock.now();
    let removed = 0;
    for (const log of this.logs.values()) removed += log.expireProducers(now, this.options.producerIdExpirationMs);
    if (removed > 0) this.options.events.info({ removed, producerIdExpirationMs: this.options.producerIdExpirationMs }, 'forgot idle producers');
    return removed;
  }

  /** Runs `task` every `intervalMs` on the clock (the next run is timed from the end of the last) until close. */
  private repeat(intervalMs: number, task: () => Promise<void>, failure: string): void {
    let cancel: () => void = () => undefined;
    const tick = () => {
      void task()
        .catch((err) => this.options.events.error({ err }, failure))
        .finally(() => {
          if (!this.closed) cancel = this.options.clock.setTimer(intervalMs, tick);
        });
    };
    cancel = this.options.clock.setTimer(intervalMs, tick);
    this.stopTimers.push(() => cancel());
  }

  get(tp: TopicPartition): PartitionLog | undefined {
    return this.logs.get(partitionDirName(tp));
  }

  all(): PartitionLog[] {
    return [...this.logs.values()];
  }

  /** Partitions that failed to load at start-up. */
  unloadablePartitions(): UnloadablePartition[] {
    return [...this.unloadable.values()];
  }

  /**
   * The error to answer for a partition that failed to load at start-up, or null. It names the partition,
   * never a path: the path and the cause are in the error line logged at start-up.
   */
  unloadableError(tp: TopicPartition): BrokerError | null {
    const name = partitionDirName(tp);
    if (!this.unloadable.has(name)) return null;
    return new BrokerError('KAFKA_STORAGE_ERROR', `partition ${name} is offline: its files could not be loaded at start-up`, {
      details: { topic: tp.topic, partition: tp.partition },
    });
  }

  /** Names of every partition that is offline (failed to load, or its log refuses appends after an I/O error). */
  offlinePartitionNames(): string[] {
    const offline = [...this.unloadable.keys()];
    for (const log of this.logs.values()) if (log.offlineReason) offline.push(log.name);
    return offline.sort();
  }

  /** Creates an empty partition log (its directory and first segment). */
  async create(tp: TopicPartition, config: Partial<LogConfig> = {}): Promise<PartitionLog> {
    const name = partitionDirName(tp);
    if (this.logs.has(name) || this.unloadable.has(name)) throw new BrokerError('TOPIC_ALREADY_EXISTS', `partition ${name} exists already`);
    const dir = join(this.options.dataDir, name);
    const io = this.options.io;
    try {
      await io.mkdir(dir);
      const merged = { ...this.options.logConfigFor(tp), ...config };
      const segment = await LogSegment.create(this.handles, dir, 0, segmentOptionsOf(merged));
      await io.syncDirectory(dir);
      await io.syncDirectory(this.options.dataDir);
      const log = new PartitionLog(dir, tp, merged, this.deps, { segments: [segment], recoveryPoint: 0, producerState: new ProducerStateMap() });
      this.logs.set(name, log);
      return log;
    } catch (err) {
      if (err instanceof BrokerError) throw err;
      throw storageError(`creating partition ${name}`, err);
    }
  }

  /**
   * Deletes a partition's data: the log is given up (appends in flight and later calls get `reason`, by
   * default UNKNOWN_PARTITION; topic deletion passes UNKNOWN_TOPIC) and, once it has stopped touching its
   * files, the directory is renamed `<name>.<time>-delete` (atomic, so a crash leaves either the old partition
   * or a directory that start-up removes) and then removed.
   */
  async delete(tp: TopicPartition, reason?: BrokerError): Promise<void> {
    const name = partitionDirName(tp);
    const log = this.logs.get(name);
    const unloadable = this.unloadable.get(name);
    let dir: string;
    if (log) {
      this.logs.delete(name);
      log.abandon(reason ?? new BrokerError('UNKNOWN_PARTITION', `partition ${name} was deleted`));
      await log.quiesce();
      dir = log.dir;
    } else if (unloadable) {
      this.unloadable.delete(name);
      this.handles.dropUnder(unloadable.dir);
      dir = unloadable.dir;
    } else return;
    const io = this.options.io;
    // Short enough for any topic name (249 characters): only a prefix of the name is kept.
    const doomed = join(this.options.dataDir, `${name.slice(0, 200)}.${this.options.clock.now()}.${++this.deletions}${DELETE_DIR_SUFFIX}`);
    await io.rename(dir, doomed);
    await io.syncDirectory(this.options.dataDir);
    await io.removeTree(doomed);
  }

  /**
   * Re-opens a partition (one that went offline after an I/O error, say), running recovery on it in place; a
   * partition offline for a full disk also does this by itself on a later append (PartitionLog.reopen).
   */
  async reopen(tp: TopicPartition): Promise<PartitionLog> {
    const name = partitionDirName(tp);
    const log = this.logs.get(name);
    if (!log) throw new BrokerError('UNKNOWN_PARTITION', `partition ${name} does not exist`);
    await log.reopen();
    return log;
  }

  async flushAll(): Promise<void> {
    await Promise.all(this.all().map((log) => (log.offlineReason ? undefined : log.flush())));
  }

  checkpointRecoveryPoints(): Promise<void> {
    return this.checkpoints.run(async () => {
      const entries = new Map<string, { tp: TopicPartition; offset: number }>();
      for (const [name, log] of this.logs) entries.set(name, { tp: log.topicPartition, offset: log.recoveryPoint });
      await writeOffsetCheckpoint(this.options.io, join(this.options.dataDir, RECOVERY_POINT_FILE), entries);
    });
  }

  /**
   * Clean stop: closes every log (flushing data, indexes and producer snapshots), checkpoints recovery
   * points, then writes the clean-shutdown marker. A partition that is offline (or failed to load) keeps the
   * marker from being written, so the next start recovers.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const stop of this.stopTimers) stop();
    const logs = this.all();
    let next = 0;
    // A partition that failed to load keeps the marker from being written: the next start recovers it.
    let allClean = this.unloadable.size === 0;
    const worker = async () => {
      while (next < logs.length) {
        const log = logs[next++]!;
        try {
          await log.close();
          // Offline, or a rolled segment left unfinished: the next start recovers it.
          if (log.offlineReason || log.recoveryPoint < log.logEndOffset) allClean = false;
        } catch (err) {
          allClean = false;
          this.options.events.error({ partition: log.name, err }, 'closing partition failed');
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.options.openConcurrency, logs.length) }, worker));
    await this.checkpointRecoveryPoints();
    if (allClean) await writeFileAtomic(this.options.io, join(this.options.dataDir, CLEAN_SHUTDOWN_FILE), Buffer.alloc(0));
    await this.handles.closeAll();
    await this.unlock();
  }

  /** Simulates a crash in tests: drops every handle without flushing or writing the marker. */
  abandon(): void {
    this.closed = true;
    for (const stop of this.stopTimers) stop();
    for (const log of this.all()) log.abandon();
    void this.handles.closeAll();
    void this.unlock();
  }
}
