/**
 * Quotas: one token bucket per (client, kind) for produce bytes, fetch bytes and requests. A client is a
 * principal (auth on) or a client address (auth off). The limits come from the principal's `quotas` in the
 * auth file, else from the broker's defaults (--quota-*); null is no limit. Buckets of idle clients are full
 * and are dropped when there are many, so the map stays bounded by the clients active in the last second.
 */
import type { Quotas } from './acl.js';
import { TokenBucket } from './token-bucket.js';

export const QUOTA_KINDS = ['produceBytesPerSec', 'fetchBytesPerSec', 'requestsPerSec'] as const;
export type QuotaKind = (typeof QUOTA_KINDS)[number];

export type QuotaLimits = Record<QuotaKind, number | null>;

const PRUNE_ABOVE = 10_000;

export class QuotaManager {
  private readonly buckets = new Map<string, TokenBucket>();

  constructor(
    private defaults: QuotaLimits,
    private readonly now: () => number,
  ) {}

  setDefaults(defaults: QuotaLimits): void {
    this.defaults = defaults;
  }

  get enabled(): boolean {
    return QUOTA_KINDS.some((k) => this.defaults[k] !== null);
  }

  private limitOf(kind: QuotaKind, own: Quotas | undefined): number | null {
    const value = own?.[kind];
    return value === undefined ? this.defaults[kind] : value;
  }

  private bucket(client: string, kind: QuotaKind, own: Quotas | undefined): TokenBucket | null {
    const rate = this.limitOf(kind, own);
    if (rate === null) return null;
    const key = `${kind}\u0000${client}`;
    let bucket = this.buckets.get(key);
    if (!bucket || bucket.ratePerSec !== rate) {
      if (this.buckets.size >= PRUNE_ABOVE) this.prune();
      bucket = new TokenBucket(rate, this.now());
      this.buckets.set(key, bucket);
    }
    return bucket;
  }

  /** 0 when `client` may send a request of this kind now, else the ms to wait. */
  delayMs(client: string, kind: QuotaKind, own?: Quotas): number {
    // Byte quotas let a request through whenever the bucket is not in debt; a request quota needs a whole token.
    return this.bucket(client, kind, own)?.delayMs(this.now(), kind === 'requestsPerSec' ? 1 : 0) ?? 0;
  }

  charge(client: string, kind: QuotaKind, amount: number, own?: Quotas): void {
    this.bucket(client, kind, own)?.charge(amount, this.now());
  }

  private prune(): void {
    const now = this.now();
    for (const [key, bucket] of this.buckets) if (bucket.isFull(now)) this.buckets.delete(key);
  }

  get size(): number {
    return this.buckets.size;
  }
}
