/**
 * The operations parked on one partition until it changes (Kafka's purgatories): waits for the high
 * watermark to reach an offset (acks=all, consumers' long polls) and waits for a condition (followers' long
 * polls: records past their offset, a higher high watermark, a role change). The Partition completes them
 * when its state moves; nothing polls. Each wait returns a cancel function.
 */
interface OffsetWait {
  offset: number;
  fire: () => void;
}

interface ConditionWait {
  ready: () => boolean;
  fire: () => void;
}

export class DelayedOperations {
  private readonly offsetWaits = new Set<OffsetWait>();
  private readonly conditionWaits = new Set<ConditionWait>();

  /** Parks `fire` until `completeUpTo` reaches `offset` (or `wakeAll`). */
  untilOffset(offset: number, fire: () => void): () => void {
    const wait = { offset, fire };
    this.offsetWaits.add(wait);
    return () => this.offsetWaits.delete(wait);
  }

  /** Fires, once, every offset wait at or below `reached`. */
  completeUpTo(reached: number): void {
    for (const wait of [...this.offsetWaits]) {
      if (wait.offset <= reached) {
        this.offsetWaits.delete(wait);
        wait.fire();
      }
    }
  }

  /** Fires `fire` at once when `ready()` holds, else parks it until `checkConditions` finds it does. */
  untilReady(ready: () => boolean, fire: () => void): () => void {
    if (ready()) {
      fire();
      return () => undefined;
    }
    const wait = { ready, fire };
    this.conditionWaits.add(wait);
    return () => this.conditionWaits.delete(wait);
  }

  checkConditions(): void {
    for (const wait of [...this.conditionWaits]) {
      if (wait.ready()) {
        this.conditionWaits.delete(wait);
        wait.fire();
      }
    }
  }

  /** Fires every offset wait whatever its offset (a role change, closing): each looks at the state again. */
  wakeOffsetWaits(): void {
    for (const wait of [...this.offsetWaits]) {
      this.offsetWaits.delete(wait);
      wait.fire();
    }
  }
}
