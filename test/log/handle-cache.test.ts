import { readSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { nodeFileIO } from '../../src/log/file-io.js';
import { HandleCache } from '../../src/log/handle-cache.js';
import { useTempDirs } from '../helpers/temp-dir.js';

const tempDir = useTempDirs();

function readByte(fd: number): string {
  const b = Buffer.alloc(1);
  readSync(fd, b, 0, 1, 0);
  return b.toString();
}

describe('handle cache', () => {
  it('keeps at most `capacity` idle descriptors, least recently used out', async () => {
    const dir = tempDir();
    const cache = new HandleCache(nodeFileIO, 2);
    for (const name of 'abcd') writeFileSync(join(dir, name), name);
    for (const name of 'abcd') expect(await cache.use(join(dir, name), 'read', async (fd) => readByte(fd))).toBe(name);
    expect(cache.openCount).toBe(2);
    await cache.use(join(dir, 'c'), 'read', async () => undefined);
    expect(cache.openedTotal).toBe(4);
    await cache.use(join(dir, 'a'), 'read', async () => undefined);
    expect(cache.openedTotal).toBe(5);
    await cache.closeAll();
    expect(cache.openCount).toBe(0);
  });

  it('never closes a descriptor in use, even when every other one is pinned', async () => {
    const dir = tempDir();
    const cache = new HandleCache(nodeFileIO, 1);
    writeFileSync(join(dir, 'a'), 'a');
    writeFileSync(join(dir, 'b'), 'b');
    let release!: () => void;
    const held = cache.use(join(dir, 'a'), 'read', async (fd) => {
      await new Promise<void>((r) => (release = r));
      return readByte(fd);
    });
    await new Promise((r) => setTimeout(r, 5));
    expect(await cache.use(join(dir, 'b'), 'read', async (fd) => readByte(fd))).toBe('b');
    release();
    expect(await held).toBe('a');
    expect(cache.openCount).toBe(1);
    await cache.closeAll();
  });
});
