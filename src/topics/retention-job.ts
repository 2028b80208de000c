/**
 * The broker's retention job: every `retentionCheckIntervalMs` on the injected clock (and on demand), each
 * partition of each user topic applies its topic's `retentionMs` and `retentionBytes` (read at the pass, so a
 * PATCH takes effect at the next one) through PartitionLog.applyRetention. The internal offsets topic is left
 * alone: it is compacted by the group coordinator instead.
 *
 * A pass never blocks produce or fetch for long: each partition holds its log's serial section only while it
 * plans and renames, fetches do not take it at all, and the pass yields to the event loop between partitions.
 * Passes do not overlap: a request for a pass while one runs gets that pass's result.
 */
import type { Clock } from '../log/clock.js';
import type { LogEvents } from '../log/log-config.js';
import { INTERNAL_TOPIC_PREFIX } from '../common/topic-names.js';
import type { TopicManager } from './topic-manager.js';

export interface RetentionResult {
  deletedSegments: number;
  freedBytes: number;
}

export interface RetentionJobOptions {
  intervalMs: number;
  /** told after every partition that deleted something, and after every pass */
  onDeleted?: (topic: string, partition: number, result: RetentionResult) => void;
  onPass?: (atMs: number, result: RetentionResult) => void;
}

export class RetentionJob {
  private running: Promise<RetentionResult> | null = null;
  private cancel: () => void = () => undefined;
  private closed = false;

  constructor(
    private readonly topics: TopicManager,
    private readonly clock: Clock,
    private readonly events: LogEvents,
    private readonly options: RetentionJobOptions,
  ) {}

  /** Schedules the periodic passes (the next one is timed from the end of the last). */
  start(): void {
    const tick = () => {
      void this.runPass()
        .catch((err) => this.events.error({ err }, 'retention pass failed'))
        .finally(() => {
          if (!this.closed) this.cancel = this.clock.setTimer(this.options.intervalMs, tick);
        });
    };
    this.cancel = this.clock.setTimer(this.options.intervalMs, tick);
  }

  /** Runs a pass now (or joins the one running) and reports what it deleted. */
  runPass(): Promise<RetentionResult> {
    this.running ??= this.pass().finally(() => (this.running = null));
    return this.running;
  }

  close(): void {
    this.closed = true;
    this.cancel();
  }

  private async pass(): Promise<RetentionResult> {
    const total: RetentionResult = { deletedSegments: 0, freedBytes: 0 };
    for (const topic of this.topics.list()) {
      if (topic.name.startsWith(INTERNAL_TOPIC_PREFIX)) continue;
      const { retentionMs, retentionBytes } = this.topics.configOf(topic);
      for (let partition = 0; partition < topic.partitions && !this.closed; partition++) {
        let result: RetentionResult;
        try {
          // a topic deleted during the pass throws UNKNOWN_TOPIC here and is skipped
          result = await this.topics.partition(topic.name, partition).applyRetention({ retentionMs, retentionBytes }, this.clock.now());
        } catch (err) {
          this.events.warn({ topic: topic.name, partition, err }, 'retention skipped a partition');
          continue;
        }
        if (result.deletedSegments > 0) {
          total.deletedSegments += result.deletedSegments;
          total.freedBytes += result.freedBytes;
          this.options.onDeleted?.(topic.name, partition, result);
        }
        await new Promise((resolve) => setImmediate(resolve));
      }
    }
    this.options.onPass?.(this.clock.now(), total);
    return total;
  }
}
