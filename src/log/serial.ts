/**
 * A FIFO async mutex: `run(fn)` waits for every earlier `run` to settle, then runs `fn`. Used to keep
 * appends, rolls, truncation and deletion of one partition log strictly one at a time.
 */
export class Serial {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.tail.then(fn, fn);
    this.tail = result.catch(() => undefined);
    return result;
  }
}
