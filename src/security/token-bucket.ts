/**
 * A token bucket that may go into debt, as Kafka's quotas do: a request is let through whenever the bucket is
 * not in debt, then charged in full (so one request larger than a second's worth still passes, once), and a
 * bucket in debt tells how long until it is out of it. Capacity is one second's worth of the rate.
 * Time comes from the caller (the broker's Clock), so the arithmetic is tested without sleeping.
 */
export class TokenBucket {
  private tokens: number;
  private lastMs: number;

  constructor(
    readonly ratePerSec: number,
    nowMs: number,
  ) {
    this.tokens = ratePerSec;
    this.lastMs = nowMs;
  }

  private refill(nowMs: number): void {
    const elapsed = Math.max(0, nowMs - this.lastMs);
    this.lastMs = nowMs;
    this.tokens = Math.min(this.ratePerSec, this.tokens + (elapsed * this.ratePerSec) / 1000);
  }

  /**
   * 0 when a request may go now, else how many ms until the bucket holds `needed` tokens (0: until the debt is
   * paid; 1 for a count of requests, which never goes into debt).
   */
  delayMs(nowMs: number, needed = 0): number {
    this.refill(nowMs);
    return this.tokens >= needed ? 0 : Math.ceil(((needed - this.tokens) * 1000) / this.ratePerSec);
  }

  /** Takes `amount` tokens (the bucket may go into debt). */
  charge(amount: number, nowMs: number): void {
    this.refill(nowMs);
    this.tokens -= amount;
  }

  /** Whether the bucket is full (then it can be forgotten and made anew: nothing is lost). */
  isFull(nowMs: number): boolean {
    this.refill(nowMs);
    return this.tokens >= this.ratePerSec;
  }
}
