/**
 * The high-watermark checkpoint of a data directory (Kafka's `replication-offset-checkpoint`): every
 * partition's high watermark, written every `intervalMs` and at a clean stop, read at start-up. A replica that
 * restarts starts from it instead of its log end offset, so it never serves records it cannot know were
 * committed (on a single node the in-sync replica set is this broker alone, and the high watermark moves to
 * the log end offset right away). Same text format as the recovery-point checkpoint (checkpoint-file.ts).
 * A missing or unreadable file is reported and treated as empty: partitions start from their log start.
 */
import { join } from 'node:path';
import { readOffsetCheckpoint, writeOffsetCheckpoint } from '../log/checkpoint-file.js';
import type { Clock } from '../log/clock.js';
import type { FileIO } from '../log/file-io.js';
import type { LogEvents } from '../log/log-config.js';
import { HIGH_WATERMARK_FILE, partitionDirName } from '../log/segment-files.js';
import { Serial } from '../log/serial.js';
import type { Partition } from './partition.js';
import { runPeriodically } from './periodic-task.js';

export async function readHighWatermarks(io: FileIO, dataDir: string, events: LogEvents): Promise<Map<string, number>> {
  const { offsets, problem } = await readOffsetCheckpoint(io, join(dataDir, HIGH_WATERMARK_FILE));
  if (problem) events.warn({ problem }, 'high-watermark checkpoint unreadable; partitions start from their log start offset');
  return offsets;
}

export class HighWatermarkCheckpoint {
  private readonly writes = new Serial();
  private stopTimer: () => void = () => undefined;

  constructor(
    private readonly io: FileIO,
    private readonly dataDir: string,
    private readonly partitions: () => Partition[],
    private readonly clock: Clock,
    private readonly events: LogEvents,
    private readonly intervalMs: number,
  ) {}

  start(): void {
    this.stopTimer = runPeriodically(this.clock, this.intervalMs, () => this.write(), (err) => this.events.error({ err }, 'high-watermark checkpoint failed'));
  }

  /** Writes the checkpoint now (one write at a time: they share a temp file name). */
  write(): Promise<void> {
    return this.writes.run(async () => {
      const entries = new Map<string, { tp: Partition['topicPartition']; offset: number }>();
      for (const p of this.partitions()) entries.set(partitionDirName(p.topicPartition), { tp: p.topicPartition, offset: p.highWatermark });
      await writeOffsetCheckpoint(this.io, join(this.dataDir, HIGH_WATERMARK_FILE), entries);
    });
  }

  /** Stops the timer and writes a last checkpoint (clean stop). */
  async stop(): Promise<void> {
    this.stopTimer();
    await this.write();
  }
}
