/**
 * Time as the storage engine sees it. Everything that depends on the wall clock (segment age for rolling,
 * retention, flush intervals, broker-assigned timestamps) asks a Clock, so tests drive it with a manual clock
 * instead of sleeping.
 */
export interface Clock {
  /** Milliseconds since the Unix epoch, like Date.now(). */
  now(): number;
  /** Runs `fn` after `ms` on this clock; returns a function that cancels it. */
  setTimer(ms: number, fn: () => void): () => void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimer(ms, fn) {
    const timer = setTimeout(fn, ms);
    timer.unref();
    return () => clearTimeout(timer);
  },
};
