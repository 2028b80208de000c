/**
 * A consumer may start before its topics exist (start-up order should not matter in a deployment): it looks
 * them up with backoff until they appear, warning once per topic, as Kafka's consumer waits for metadata.
 * With `autoCreate` it creates a missing topic instead (with the broker's defaults, or the partitions given).
 */
import { BrokerError } from './errors.js';
import type { Logger } from './events.js';
import { segment } from './http.js';
import type { Brokers } from './brokers.js';
import { backoffMs, sleep, type BackoffOptions } from './retry.js';
import type { TopicDescription } from './types.js';

export type AutoCreateTopics = boolean | { partitions?: number };

export interface TopicWaitOptions {
  autoCreate: AutoCreateTopics;
  backoff: BackoffOptions;
  logger: Logger;
  /** aborts the wait (the consumer closes): resolves with what is known, possibly not every topic */
  signal: AbortSignal;
}

export class TopicWaiter {
  private readonly warned = new Set<string>();

  constructor(
    private readonly http: Brokers,
    private readonly options: TopicWaitOptions,
  ) {}

  /** Every topic's description, once all of them exist (or the signal aborts: then null). */
  async describeAll(topics: readonly string[]): Promise<Map<string, TopicDescription> | null> {
    const out = new Map<string, TopicDescription>();
    for (const topic of topics) {
      const description = await this.describe(topic);
      if (!description) return null;
      out.set(topic, description);
    }
    return out;
  }

  private async describe(topic: string): Promise<TopicDescription | null> {
    const { backoff, signal } = this.options;
    for (let attempt = 0; !signal.aborted; attempt++) {
      try {
        const description = await this.http.json<TopicDescription>('GET', `/topics/${segment(topic)}`);
        if (this.warned.delete(topic)) this.options.logger.info({ topic }, 'topic exists now');
        return description;
      } catch (err) {
        if (!(err instanceof BrokerError)) throw err;
        const wait = backoffMs(attempt, backoff);
        if (err.code === 'UNKNOWN_TOPIC') {
          if (this.options.autoCreate && (await this.create(topic))) continue;
          if (!this.warned.has(topic)) {
            this.warned.add(topic);
            this.options.logger.warn({ topic }, 'topic does not exist yet; waiting for it');
          }
        } else if (err.retriable) {
          backoff.onRetry?.({ operation: `GET /topics/${topic}`, attempt: attempt + 1, delayMs: wait, error: err });
        } else {
          throw err;
        }
        await sleep(wait, signal);
      }
    }
    return null;
  }

  /** Creates the topic; true when it exists now (created here or by someone else meanwhile). */
  private async create(topic: string): Promise<boolean> {
    const partitions = typeof this.options.autoCreate === 'object' ? this.options.autoCreate.partitions : undefined;
    try {
      await this.http.json('POST', '/topics', { json: { name: topic, ...(partitions ? { partitions } : {}) } });
      this.options.logger.info({ topic, partitions: partitions ?? 'broker default' }, 'created the topic (autoCreateTopics)');
      return true;
    } catch (err) {
      if (err instanceof BrokerError && err.code === 'TOPIC_ALREADY_EXISTS') return true;
      if (err instanceof BrokerError && err.retriable) return false;
      throw err;
    }
  }
}
