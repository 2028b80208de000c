/**
 * The baselines every storage number is compared with: node:fs on a raw file descriptor, no engine in
 * between. The callback API is used (as src/log/file-io.ts does), so a baseline pays the same libuv
 * thread-pool hop as the engine and the ratio shows the engine's own cost, not sync-versus-async I/O; a broker
 * cannot block its event loop with writeSync.
 */
import * as fs from 'node:fs';

function call<T>(start: (done: (err: NodeJS.ErrnoException | null, value?: T) => void) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => start((err, value) => (err ? reject(err) : resolve(value as T))));
}

export const raw = {
  open: (path: string, flags: string) => call<number>((done) => fs.open(path, flags, 0o644, done)),
  close: (fd: number) => call<void>((done) => fs.close(fd, done)),
  fdatasync: (fd: number) => call<void>((done) => fs.fdatasync(fd, done)),
  size: (fd: number) => call<number>((done) => fs.fstat(fd, (err, stat) => done(err, stat?.size))),

  /** Writes all of `data` at `position` (regular files do not write short; checked anyway). */
  async write(fd: number, data: Buffer, position: number): Promise<void> {
    const written = await call<number>((done) => fs.write(fd, data, 0, data.length, position, (err, n) => done(err, n)));
    if (written !== data.length) throw new Error(`short write: ${written} of ${data.length} bytes`);
  },

  /** Reads up to `length` bytes at `position` into a fresh buffer (as the engine's reads do). */
  async read(fd: number, length: number, position: number): Promise<Buffer> {
    const into = Buffer.allocUnsafe(length);
    const n = await call<number>((done) => fs.read(fd, into, 0, length, position, (err, bytes) => done(err, bytes)));
    return n === length ? into : into.subarray(0, n);
  },
};

/**
 * An append-only file written the raw way, mirroring one fsync policy:
 * - `never`: write each batch;
 * - `always`: write each batch, then fdatasync before the next;
 * - `interval`: write each batch; every `flushIntervalMs` start an fdatasync in the background (as the
 *   engine's flusher does), never more than one at a time.
 */
export class RawAppender {
  private position = 0;
  private lastSync = performance.now();
  private syncing: Promise<void> | null = null;

  private constructor(
    private readonly fd: number,
    private readonly policy: 'always' | 'interval' | 'never',
    private readonly flushIntervalMs: number,
  ) {}

  static async create(path: string, policy: 'always' | 'interval' | 'never', flushIntervalMs: number): Promise<RawAppender> {
    return new RawAppender(await raw.open(path, 'wx+'), policy, flushIntervalMs);
  }

  async append(batch: Buffer): Promise<number> {
    await raw.write(this.fd, batch, this.position);
    this.position += batch.length;
    if (this.policy === 'always') await raw.fdatasync(this.fd);
    else if (this.policy === 'interval' && !this.syncing && performance.now() - this.lastSync >= this.flushIntervalMs) {
      this.lastSync = performance.now();
      this.syncing = raw.fdatasync(this.fd).finally(() => (this.syncing = null));
    }
    return batch.length;
  }

  async close(): Promise<void> {
    await this.syncing;
    await raw.close(this.fd);
  }
}

/**
 * Group commit done the raw way, the floor for a durable append under concurrent writers: appends that
 * arrive while a write + fdatasync is running wait for it, then all of them go out in one writev followed by
 * one fdatasync, and resolve together.
 */
export class RawGroupCommitAppender {
  private position = 0;
  private pending: { data: Buffer; done: (err: Error | null) => void }[] = [];
  private running = false;

  private constructor(private readonly fd: number) {}

  static async create(path: string): Promise<RawGroupCommitAppender> {
    return new RawGroupCommitAppender(await raw.open(path, 'wx+'));
  }

  /** Resolves once `data` is written and covered by an fdatasync. */
  append(data: Buffer): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ data, done: (err) => (err ? reject(err) : resolve()) });
      if (!this.running) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.running = true;
    while (this.pending.length > 0) {
      const group = this.pending;
      this.pending = [];
      try {
        const buffers = group.map((p) => p.data);
        const length = buffers.reduce((n, b) => n + b.length, 0);
        const written = await call<number>((done) => fs.writev(this.fd, buffers, this.position, (err, n) => done(err, n)));
        if (written !== length) throw new Error(`short write: ${written} of ${length} bytes`);
        this.position += length;
        await raw.fdatasync(this.fd);
        for (const p of group) p.done(null);
      } catch (err) {
        for (const p of group) p.done(err as Error);
      }
    }
    this.running = false;
  }

  async close(): Promise<void> {
    await raw.close(this.fd);
  }
}
