/**
 * The file-I/O seam. Every byte the storage engine reads or writes goes through a FileIO, so tests can wrap
 * the real one and inject ENOSPC, EIO, short writes and failed fsyncs at exact points (see
 * test/helpers/faulty-file-io.ts), and so the engine has one place that knows how a durable write is done.
 *
 * The node implementation works on raw file descriptors with the callback API: for small positional
 * writes and reads this costs noticeably less than fs/promises' FileHandle objects.
 */
import * as fs from 'node:fs';
import { basename, dirname, join } from 'node:path';

export type OpenMode =
  /** read only */
  | 'read'
  /** read and write an existing file */
  | 'readwrite'
  /** create a new file for reading and writing; fails if it exists */
  | 'create';

export interface FileIO {
  open(path: string, mode: OpenMode): Promise<number>;
  close(fd: number): Promise<void>;
  /** Writes the buffers at `position`; may write fewer bytes than asked (a short write). */
  writev(fd: number, buffers: readonly Buffer[], position: number): Promise<number>;
  read(fd: number, into: Buffer, offset: number, length: number, position: number): Promise<number>;
  datasync(fd: number): Promise<void>;
  truncate(fd: number, length: number): Promise<void>;
  size(fd: number): Promise<number>;

  readFile(path: string): Promise<Buffer>;
  readdir(dir: string): Promise<string[]>;
  /** Size of a regular file, null when nothing is there. */
  fileSize(path: string): Promise<number | null>;
  isDirectory(path: string): Promise<boolean>;
  /** When the file was created (statx birth time; its modification time where the file system has none). */
  createdAtMs(path: string): Promise<number>;
  mkdir(dir: string): Promise<void>;
  rename(from: string, to: string): Promise<void>;
  unlink(path: string): Promise<void>;
  /** Removes a directory and everything in it. */
  removeTree(dir: string): Promise<void>;
  /** fsyncs a directory so that creates, renames and unlinks in it are durable. */
  syncDirectory(dir: string): Promise<void>;
}

function promisify<T>(start: (done: (err: NodeJS.ErrnoException | null, value?: T) => void) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    start((err, value) => (err ? reject(err) : resolve(value as T)));
  });
}

const FLAGS: Record<OpenMode, string> = { read: 'r', readwrite: 'r+', create: 'wx+' };

export const nodeFileIO: FileIO = {
  open: (path, mode) => promisify<number>((done) => fs.open(path, FLAGS[mode], 0o644, done)),
  close: (fd) => promisify<void>((done) => fs.close(fd, done)),
  writev: (fd, buffers, position) =>
    promisify<number>((done) => fs.writev(fd, buffers as Buffer[], position, (err, written) => done(err, written))),
  read: (fd, into, offset, length, position) =>
    promisify<number>((done) => fs.read(fd, into, offset, length, position, (err, bytes) => done(err, bytes))),
  datasync: (fd) => promisify<void>((done) => fs.fdatasync(fd, done)),
  truncate: (fd, length) => promisify<void>((done) => fs.ftruncate(fd, length, done)),
  size: (fd) => promisify<number>((done) => fs.fstat(fd, (err, stat) => done(err, stat?.size))),

  readFile: (path) => fs.promises.readFile(path),
  readdir: (dir) => fs.promises.readdir(dir),
  async fileSize(path) {
    try {
      const stat = await fs.promises.stat(path);
      return stat.isFile() ? stat.size : null;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
  },
  async createdAtMs(path) {
    const stat = await fs.promises.stat(path);
    return stat.birthtimeMs > 0 ? stat.birthtimeMs : stat.mtimeMs;
  },
  async isDirectory(path) {
    try {
      return (await fs.promises.stat(path)).isDirectory();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw err;
    }
  },
  mkdir: async (dir) => {
    await fs.promises.mkdir(dir, { recursive: true });
  },
  rename: (from, to) => fs.promises.rename(from, to),
  unlink: (path) => fs.promises.unlink(path),
  removeTree: (dir) => fs.promises.rm(dir, { recursive: true, force: true }),
  async syncDirectory(dir) {
    const fd = await promisify<number>((done) => fs.open(dir, 'r', done));
    try {
      await promisify<void>((done) => fs.fsync(fd, done));
    } finally {
      await promisify<void>((done) => fs.close(fd, done));
    }
  },
};

/** Writes every byte of `buffers` at `position`, continuing after short writes; throws if no progress. */
export async function writeFully(io: FileIO, fd: number, buffers: readonly Buffer[], position: number): Promise<number> {
  let total = 0;
  for (const b of buffers) total += b.length;
  let written = 0;
  let pending = buffers;
  while (written < total) {
    const n = await io.writev(fd, pending, position + written);
    if (n <= 0) throw Object.assign(new Error('write made no progress'), { code: 'EIO' });
    written += n;
    if (written < total) pending = remainingAfter(pending, n);
  }
  return total;
}

function remainingAfter(buffers: readonly Buffer[], skip: number): Buffer[] {
  const out: Buffer[] = [];
  let left = skip;
  for (const b of buffers) {
    if (left >= b.length) {
      left -= b.length;
    } else {
      out.push(left > 0 ? b.subarray(left) : b);
      left = 0;
    }
  }
  return out;
}

/** Reads exactly `length` bytes at `position` unless the file ends first; returns the bytes read. */
export async function readFully(io: FileIO, fd: number, position: number, length: number): Promise<Buffer> {
  const into = Buffer.allocUnsafe(length);
  let done = 0;
  while (done < length) {
    const n = await io.read(fd, into, done, length - done, position + done);
    if (n === 0) break;
    done += n;
  }
  return done === length ? into : into.subarray(0, done);
}

let tempCounter = 0;

/**
 * A temp file name beside `path`, unique in this process (concurrent writers never share one) and short
 * enough for any file name sluice uses (a 249-character topic name plus suffixes stays under 255 bytes).
 * Ends in `.tmp`, which start-up removes.
 */
export function tempPathFor(path: string): string {
  return join(dirname(path), `.${basename(path).slice(0, 200)}.${process.pid}.${++tempCounter}.tmp`);
}

/**
 * Replaces `path` with `data` durably: write a temp file, fdatasync it, rename it over the old one and
 * fsync the directory. A crash leaves either the old file or the new one, plus at most a stray `.tmp`.
 */
export async function writeFileAtomic(io: FileIO, path: string, data: Buffer, options: { durable?: boolean } = {}): Promise<void> {
  const durable = options.durable ?? true;
  const tmp = tempPathFor(path);
  const fd = await io.open(tmp, 'create');
  try {
    await writeFully(io, fd, [data], 0);
    if (durable) await io.datasync(fd);
  } finally {
    await io.close(fd);
  }
  await io.rename(tmp, path);
  if (durable) await io.syncDirectory(dirname(path));
}
