/**
 * A FIFO async mutex: `run(fn)` waits for every earlier `run` to settle, then runs `fn`. Used to keep
 * appends, rolls, truncation and deletion of one partition log strictly one at a time.
 */
export class Serial {
  private tail: Promise<unknown> = Promise.resolve();
  private pending = 0;

  /** true when nothing is running or waiting */
  get idle(): boolean {
    return this.pending === 0;
  }

  run<T>(fn: () => Promise<T>): Promise<T> {
    this.pending++;
    const result = this.tail.then(fn, fn).finally(() => this.pending--);
    this.tail = result.catch(() => undefined);
    return result;
  }
}
