/**
 * What a benchmark number depends on, collected once per run and stored with every suite's results: CPU,
 * cores, memory, Node, OS, the CRC-32C implementation that is live (the native one is ~15× the JS fallback
 * and falls back silently), the file system of the data directory (fdatasync cost differs by orders of
 * magnitude between tmpfs, ext4 and a network disk), the fsync policies the suite used, and the load average
 * at the start (a benchmark sharing the machine with other work measures that work too).
 */
import { execFileSync } from 'node:child_process';
import { statfs } from 'node:fs/promises';
import * as os from 'node:os';
import { crcImplementation } from '../../src/log/crc32c.js';

export interface Environment {
  cpuModel: string;
  cores: number;
  memoryBytes: number;
  node: string;
  os: string;
  crcImplementation: string;
  dataDir: string;
  fileSystem: string;
  /** fsync policies measured, with how `interval` flushes */
  fsyncPolicy: string;
  gitCommit: string;
  date: string;
  /** 1-minute load average when the suite started: well above 0 means something else was using the CPU */
  loadAverage?: number;
}

/** statfs(2) f_type magic numbers of the file systems a benchmark is likely to meet. */
const FILE_SYSTEMS: Record<number, string> = {
  0xef53: 'ext4',
  0x58465342: 'xfs',
  0x9123683e: 'btrfs',
  0x01021994: 'tmpfs',
  0x794c7630: 'overlayfs',
  0x2fc12fc1: 'zfs',
  0x6969: 'nfs',
  0x65735546: 'fuse',
};

async function fileSystemOf(dir: string): Promise<string> {
  try {
    const { type } = await statfs(dir);
    return FILE_SYSTEMS[type] ?? `unknown (0x${type.toString(16)})`;
  } catch {
    return 'unknown';
  }
}

function gitCommit(): string {
  try {
    const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    return dirty ? `${commit} + uncommitted changes` : commit;
  } catch {
    return 'unknown';
  }
}

export async function collectEnvironment(dataDir: string, fsyncPolicy: string): Promise<Environment> {
  const cpus = os.cpus();
  return {
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    cores: os.availableParallelism(),
    memoryBytes: os.totalmem(),
    node: process.version,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    crcImplementation,
    dataDir,
    fileSystem: await fileSystemOf(dataDir),
    fsyncPolicy,
    gitCommit: gitCommit(),
    date: new Date().toISOString(),
    loadAverage: os.loadavg()[0],
  };
}

/** The environment as aligned `label: value` lines (printed before a run starts). */
export function describeEnvironment(env: Environment): string[] {
  const rows: [string, string][] = [
    ['CPU', `${env.cpuModel} (${env.cores} cores)`],
    ['Memory', `${(env.memoryBytes / 2 ** 30).toFixed(1)} GiB`],
    ['Node', env.node],
    ['OS', env.os],
    ['CRC-32C', env.crcImplementation],
    ['Data dir', `${env.dataDir} (${env.fileSystem})`],
    ['fsync policy', env.fsyncPolicy],
    ['Commit', env.gitCommit],
    ['Date', env.date],
    ...(env.loadAverage !== undefined ? ([['Load average', `${env.loadAverage.toFixed(2)} (1 min, at start; other work on the machine skews every number)`]] as [string, string][]) : []),
  ];
  return rows.map(([label, value]) => `${`${label}:`.padEnd(14)}${value}`);
}
