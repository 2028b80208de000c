/**
 * A FileIO that forwards to the real one and fails chosen calls, like Redpanda's failure probes: tests say
 * which operation on which file fails how (ENOSPC, EIO, a short write), once or until cleared.
 */
import type { FileIO } from '../../src/log/file-io.js';
import { nodeFileIO } from '../../src/log/file-io.js';

export type FaultOp = 'writev' | 'datasync' | 'truncate' | 'open' | 'rename' | 'read';

export interface Fault {
  op: FaultOp;
  /** the fault applies to files whose path contains this */
  pathIncludes?: string;
  errno?: 'ENOSPC' | 'EIO';
  /** for writev: write only this many bytes, then report success (a short write) */
  shortWrite?: number;
  /** fire this many times, then disarm (default: until removed) */
  times?: number;
  /** succeed after this many milliseconds (a slow disk); with `errno` too, fail after them */
  delayMs?: number;
}

export class FaultyFileIO implements FileIO {
  private readonly paths = new Map<number, string>();
  private faults: Fault[] = [];
  readonly calls: Record<string, number> = {};
  /** Renames (by target) and directory syncs, in the order they were made. */
  readonly metadataOps: string[] = [];

  constructor(private readonly real: FileIO = nodeFileIO) {}

  inject(fault: Fault): void {
    this.faults.push({ ...fault });
  }

  clear(): void {
    this.faults = [];
  }

  private trip(op: FaultOp, path: string | undefined): Fault | null {
    this.calls[op] = (this.calls[op] ?? 0) + 1;
    const fault = this.faults.find((f) => f.op === op && (!f.pathIncludes || (path ?? '').includes(f.pathIncludes)));
    if (!fault) return null;
    if (fault.times !== undefined && --fault.times <= 0) this.faults = this.faults.filter((f) => f !== fault);
    return fault;
  }

  private async slowOrFail(fault: Fault | null, op: string): Promise<void> {
    if (!fault) return;
    if (fault.delayMs !== undefined) {
      await new Promise((r) => setTimeout(r, fault.delayMs));
      if (fault.errno === undefined) return;
    }
    this.fail(fault, op);
  }

  private fail(fault: Fault, op: string): never {
    const code = fault.errno ?? 'EIO';
    throw Object.assign(new Error(`${code}: injected ${op} failure`), { code });
  }

  async open(path: string, mode: Parameters<FileIO['open']>[1]): Promise<number> {
    const fault = this.trip('open', path);
    if (fault) this.fail(fault, 'open');
    const fd = await this.real.open(path, mode);
    this.paths.set(fd, path);
    return fd;
  }
  async close(fd: number): Promise<void> {
    this.paths.delete(fd);
    await this.real.close(fd);
  }
  async writev(fd: number, buffers: readonly Buffer[], position: number): Promise<number> {
    const fault = this.trip('writev', this.paths.get(fd));
    if (fault?.shortWrite !== undefined) {
      const all = Buffer.concat(buffers as Buffer[]);
      return this.real.writev(fd, [all.subarray(0, Math.min(fault.shortWrite, all.length))], position);
    }
    if (fault) {
      // A real ENOSPC usually lands part of the data first: write half, then fail.
      const all = Buffer.concat(buffers as Buffer[]);
      await this.real.writev(fd, [all.subarray(0, all.length >> 1)], position);
      this.fail(fault, 'write');
    }
    return this.real.writev(fd, buffers, position);
  }
  async read(fd: number, into: Buffer, offset: number, length: number, position: number): Promise<number> {
    const fault = this.trip('read', this.paths.get(fd));
    if (fault) this.fail(fault, 'read');
    return this.real.read(fd, into, offset, length, position);
  }
  async datasync(fd: number): Promise<void> {
    await this.slowOrFail(this.trip('datasync', this.paths.get(fd)), 'fdatasync');
    await this.real.datasync(fd);
  }
  async truncate(fd: number, length: number): Promise<void> {
    const fault = this.trip('truncate', this.paths.get(fd));
    if (fault) this.fail(fault, 'ftruncate');
    await this.real.truncate(fd, length);
  }
  size(fd: number): Promise<number> {
    return this.real.size(fd);
  }
  readFile(path: string): Promise<Buffer> {
    return this.real.readFile(path);
  }
  readdir(dir: string): Promise<string[]> {
    return this.real.readdir(dir);
  }
  fileSize(path: string): Promise<number | null> {
    return this.real.fileSize(path);
  }
  createdAtMs(path: string): Promise<number> {
    return this.real.createdAtMs(path);
  }
  isDirectory(path: string): Promise<boolean> {
    return this.real.isDirectory(path);
  }
  mkdir(dir: string): Promise<void> {
    return this.real.mkdir(dir);
  }
  async rename(from: string, to: string): Promise<void> {
    const fault = this.trip('rename', from);
    if (fault) this.fail(fault, 'rename');
    await this.real.rename(from, to);
    this.metadataOps.push(`rename ${to}`);
  }
  unlink(path: string): Promise<void> {
    return this.real.unlink(path);
  }
  removeTree(dir: string): Promise<void> {
    return this.real.removeTree(dir);
  }
  syncDirectory(dir: string): Promise<void> {
    this.metadataOps.push(`syncDirectory ${dir}`);
    return this.real.syncDirectory(dir);
  }
}
