/**
 * What start-up finds at the top of a data directory: the partition directories to load, leftovers it cleans
 * up (half-written `*.tmp` files, `*-delete` directories of deletions a crash interrupted), and anything it
 * does not know, which it leaves alone and reports. The broker's own files and `meta/` are skipped.
 */
import { join } from 'node:path';
import type { FileIO } from './file-io.js';
import { LOCK_FILE } from './dir-lock.js';
import { CLEAN_SHUTDOWN_FILE, HIGH_WATERMARK_FILE, RECOVERY_POINT_FILE, parsePartitionDirName, type TopicPartition } from './segment-files.js';

/** Directories whose name ends so are partitions being deleted (see LogManager.delete). */
export const DELETE_DIR_SUFFIX = '-delete';
const KNOWN_FILES = new Set([CLEAN_SHUTDOWN_FILE, RECOVERY_POINT_FILE, HIGH_WATERMARK_FILE, LOCK_FILE]);
const RESERVED_DIRS = new Set(['meta']);

export interface DataDirScan {
  partitions: { name: string; tp: TopicPartition }[];
  unknownFiles: string[];
  removedStrayFiles: string[];
}

export async function scanDataDir(io: FileIO, dataDir: string): Promise<DataDirScan> {
  const scan: DataDirScan = { partitions: [], unknownFiles: [], removedStrayFiles: [] };
  for (const name of (await io.readdir(dataDir)).sort()) {
    const path = join(dataDir, name);
    if (!(await io.isDirectory(path))) {
      if (KNOWN_FILES.has(name)) continue;
      if (name.endsWith('.tmp')) {
        await io.unlink(path);
        scan.removedStrayFiles.push(name);
      } else scan.unknownFiles.push(name);
      continue;
    }
    if (RESERVED_DIRS.has(name)) continue;
    if (name.endsWith(DELETE_DIR_SUFFIX)) {
      await io.removeTree(path);
      scan.removedStrayFiles.push(name);
      continue;
    }
    const tp = parsePartitionDirName(name);
    if (tp) scan.partitions.push({ name, tp });
    else scan.unknownFiles.push(`${name}/`);
  }
  return scan;
}
