/**
 * LogDestination with a scripted write function: a destination that is full (EAGAIN) or failing (ENOSPC,
 * EPIPE, a throw) costs the caller nothing, lines beyond the buffer or in failed writes are counted as
 * dropped, and writing resumes when the destination recovers. The real-process version (a FIFO nobody
 * reads, /dev/full) is logging-process.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { LogDestination, type WriteFn } from '../../src/server/log-destination.js';
import { waitFor } from '../helpers/wait-for.js';

/** A write function whose behaviour the test switches; it records what was written. */
function scripted() {
  const state = { mode: 'ok' as 'ok' | 'EAGAIN' | 'ENOSPC' | 'throw' | 'partial', written: '', calls: 0 };
  const write: WriteFn = (_fd, buffer, offset, length, _position, callback) => {
    state.calls++;
    if (state.mode === 'throw') throw new TypeError('bad fd');
    setImmediate(() => {
      if (state.mode === 'EAGAIN' || state.mode === 'ENOSPC') {
        callback(Object.assign(new Error(state.mode), { code: state.mode }), 0);
        return;
      }
      const n = state.mode === 'partial' ? Math.min(length, 7) : length;
      state.written += buffer.toString('utf8', offset, offset + n);
      callback(null, n);
    });
  };
  return { state, write };
}

const line = (i: number) => `{"msg":"line ${String(i).padStart(4, '0')}"}\n`;

describe('LogDestination', () => {
  it('writes lines in order, batching what arrives during a write, and drains', async () => {
    const { state, write } = scripted();
    const destination = new LogDestination({ write });
    for (let i = 0; i < 100; i++) destination.write(line(i));
    expect(await destination.drain(1_000)).toBe(true);
    expect(state.written).toBe(Array.from({ length: 100 }, (_, i) => line(i)).join(''));
    expect(state.calls).toBeLessThan(10);
    expect(destination.droppedLines).toBe(0);
  });

  it('a full destination (EAGAIN) buffers up to the bound, drops and counts the rest, then catches up', async () => {
    const { state, write } = scripted();
    state.mode = 'EAGAIN';
    const destination = new LogDestination({ write, maxBufferedBytes: 10 * line(0).length, retryDelayMs: 5 });
    const started = performance.now();
    for (let i = 0; i < 1_000; i++) expect(destination.write(line(i))).toBe(true);
    expect(performance.now() - started).toBeLessThan(200);
    expect(destination.droppedLines).toBe(990);
    expect(await destination.drain(50)).toBe(false);
    state.mode = 'ok';
    expect(await destination.drain(1_000)).toBe(true);
    expect(state.written).toBe(Array.from({ length: 10 }, (_, i) => line(i)).join(''));
  });

  it('failed writes (ENOSPC) drop their lines, count them, and never spin; writing resumes after recovery', async () => {
    const { state, write } = scripted();
    state.mode = 'ENOSPC';
    const destination = new LogDestination({ write, retryDelayMs: 20 });
    for (let i = 0; i < 50; i++) destination.write(line(i));
    await waitFor(() => destination.droppedLines === 50, 2_000, 'the failed lines to be counted');
    const calls = state.calls;
    await new Promise((r) => setTimeout(r, 100));
    expect(state.calls - calls).toBeLessThanOrEqual(1);
    state.mode = 'ok';
    destination.write(line(50));
    expect(await destination.drain(1_000)).toBe(true);
    expect(state.written).toBe(line(50));
    expect(destination.droppedLines).toBe(50);
  });

  it('a write function that throws costs a dropped line, not an exception', async () => {
    const { state, write } = scripted();
    state.mode = 'throw';
    const destination = new LogDestination({ write, retryDelayMs: 5 });
    expect(() => destination.write(line(0))).not.toThrow();
    expect(destination.droppedLines).toBe(1);
    state.mode = 'ok';
    destination.write(line(1));
    expect(await destination.drain(1_000)).toBe(true);
    expect(state.written).toBe(line(1));
  });

  it('short writes continue where they stopped', async () => {
    const { state, write } = scripted();
    state.mode = 'partial';
    const destination = new LogDestination({ write });
    for (let i = 0; i < 5; i++) destination.write(line(i));
    expect(await destination.drain(1_000)).toBe(true);
    expect(state.written).toBe([0, 1, 2, 3, 4].map(line).join(''));
  });

  it('formats lines (pino-pretty on a terminal) before buffering; a formatter that throws leaves the line as it is', async () => {
    const { state, write } = scripted();
    const destination = new LogDestination({ write, format: (l) => (l.includes('bad') ? JSON.parse('{') : l.toUpperCase()) });
    destination.write('{"msg":"a"}\n');
    destination.write('{"msg":"bad"}\n');
    expect(await destination.drain(1_000)).toBe(true);
    expect(state.written).toBe('{"MSG":"A"}\n{"msg":"bad"}\n');
  });
});
