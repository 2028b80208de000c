/**
 * A task run every `intervalMs` on a Clock, one run at a time: a tick that comes while a run is under way
 * makes it run once more when it ends (so nothing due is skipped, and runs never overlap).
 */
import type { Clock } from '../log/clock.js';

/** Starts the task; returns a function that stops it (a run under way finishes). */
export function runPeriodically(clock: Clock, intervalMs: number, task: () => Promise<void>, onError: (err: unknown) => void): () => void {
  let stopped = false;
  let running = false;
  let again = false;
  let cancel: () => void = () => undefined;
  const run = () => {
    running = true;
    void task()
      .catch(onError)
      .finally(() => {
        running = false;
        if (again && !stopped) {
          again = false;
          run();
        }
      });
  };
  const tick = () => {
    if (!stopped) cancel = clock.setTimer(intervalMs, tick);
    if (running) again = true;
    else run();
  };
  cancel = clock.setTimer(intervalMs, tick);
  return () => {
    stopped = true;
    cancel();
  };
}
