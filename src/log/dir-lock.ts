/**
 * One broker per data directory. `<dataDir>/.lock` holds the pid of the process that owns the directory;
 * a second process finds the owner alive and refuses to start, instead of both appending to the same
 * segments. A lock left by a process that died (kill -9, power loss) is taken over.
 */
import { join } from 'node:path';
import { BrokerError, storageError } from '../common/errors.js';
import { writeFully, type FileIO } from './file-io.js';

export const LOCK_FILE = '.lock';

/** Directories this process holds. A lock file with our own pid for a directory not in here was left by an
 * abandoned manager (tests simulate crashes that way) and is taken over. */
const heldHere = new Set<string>();

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Takes the lock; returns the release function (its synchronous part frees the directory for this process). */
export async function lockDataDir(io: FileIO, dataDir: string): Promise<() => Promise<void>> {
  const path = join(dataDir, LOCK_FILE);
  if (heldHere.has(path)) {
    throw new BrokerError('KAFKA_STORAGE_ERROR', `data directory ${dataDir} is already open in this process`);
  }
  for (let attempt = 0; attempt < 2; attempt++) {
    let fd: number;
    try {
      fd = await io.open(path, 'create');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw storageError(`locking ${dataDir}`, err);
      const owner = Number((await io.readFile(path).catch(() => Buffer.alloc(0))).toString().trim());
      if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && isAlive(owner)) {
        throw new BrokerError('KAFKA_STORAGE_ERROR', `data directory ${dataDir} is in use by process ${owner} (${path}); one broker per data directory`, {
          details: { lockedBy: owner },
        });
      }
      await io.unlink(path).catch(() => undefined);
      continue;
    }
    try {
      await writeFully(io, fd, [Buffer.from(`${process.pid}\n`)], 0);
      await io.datasync(fd);
    } finally {
      await io.close(fd);
    }
    heldHere.add(path);
    return () => {
      heldHere.delete(path);
      return io.unlink(path).catch(() => undefined);
    };
  }
  throw new BrokerError('KAFKA_STORAGE_ERROR', `could not lock data directory ${dataDir}`);
}
