/**
 * Cooperative yielding for long CPU-bound walks on the event loop (checking or decoding millions of records):
 * the walker counts the work it does with `spend(units)` and, when that says a slice is used up, awaits
 * `turn()`, which lets the event loop run (timers, I/O, other requests) before the walk goes on. Work is
 * counted rather than timed, so slices do not depend on a clock; a unit is about one record (~100 ns), and a
 * slice of 16,384 units is a few milliseconds.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';

export const UNITS_PER_SLICE = 16_384;

export class Pacer {
  private sinceTurn = 0;

  constructor(private readonly unitsPerSlice = UNITS_PER_SLICE) {}

  /** Units left in the current slice (at least 1). */
  get budget(): number {
    return Math.max(1, this.unitsPerSlice - this.sinceTurn);
  }

  /** Counts `units` of work; true when the slice is used up and the caller should await `turn()`. */
  spend(units: number): boolean {
    this.sinceTurn += units;
    return this.sinceTurn >= this.unitsPerSlice;
  }

  /** Gives the event loop a turn and starts a new slice. */
  async turn(): Promise<void> {
    await nextTurn();
    this.restart();
  }

  /** Starts a new slice without yielding (the caller awaited something that gave the event loop a turn). */
  restart(): void {
    this.sinceTurn = 0;
  }
}
