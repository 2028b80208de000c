/**
 * What the producer needs to know about a topic (partition count, largest batch), fetched once with
 * GET /topics/:topic and kept for `maxAgeMs`. Concurrent lookups of one topic share one request.
 */
import { segment } from './http.js';
import type { Brokers } from './brokers.js';
import type { BackoffOptions } from './retry.js';
import type { TopicDescription } from './types.js';

export interface TopicInfo {
  partitions: number;
  maxMessageBytes: number;
  loadedAt: number;
}

export class TopicMetadata {
  private readonly known = new Map<string, TopicInfo>();
  private readonly loading = new Map<string, Promise<TopicInfo>>();

  constructor(
    private readonly http: Brokers,
    private readonly backoff: BackoffOptions,
    private readonly maxAgeMs = 300_000,
  ) {}

  /** The cached entry while it is fresh. */
  cached(topic: string): TopicInfo | undefined {
    const info = this.known.get(topic);
    return info && Date.now() - info.loadedAt < this.maxAgeMs ? info : undefined;
  }

  /** Loads (or reuses) the topic's metadata, retrying retriable errors until `deadlineMs`. */
  get(topic: string, deadlineMs: number): Promise<TopicInfo> {
    const fresh = this.cached(topic);
    if (fresh) return Promise.resolve(fresh);
    let load = this.loading.get(topic);
    if (!load) {
      load = this.http
        .getWithRetries<TopicDescription>(`/topics/${segment(topic)}`, deadlineMs, this.backoff)
        .then(async (description) => {
          await this.http.learnTopic(description);
          const info = {
            partitions: description.partitions.length,
            maxMessageBytes: Number(description.config.maxMessageBytes ?? 1_048_588),
            loadedAt: Date.now(),
          };
          this.known.set(topic, info);
          return info;
        })
        .finally(() => this.loading.delete(topic));
      this.loading.set(topic, load);
    }
    return load;
  }

  invalidate(topic: string): void {
    this.known.delete(topic);
  }
}
