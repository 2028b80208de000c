/**
 * Faults inside the broker reach clients as the contract's errors without internals: a bug (an exception a
 * route did not expect) is 500 UNKNOWN_SERVER_ERROR, not retriable, with a fixed message; a storage error
 * names the partition, never a file path; paths, raw messages and stacks are in the broker's log only. The
 * client does not retry UNKNOWN_SERVER_ERROR and the CLI prints it.
 */
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { errorFromResponse } from '../../src/client/errors.js';
import { runCli, type CliIO } from '../../src/cli/program.js';
import { nodeFileIO, type FileIO } from '../../src/log/file-io.js';
import { storageError } from '../../src/common/errors.js';
import { loadBrokerConfig } from '../../src/server/broker-config.js';
import { startBroker, type RunningBroker } from '../../src/server/broker.js';
import { FaultyFileIO } from '../helpers/faulty-file-io.js';
import { useTempDirs } from '../helpers/temp-dir.js';

const tempDir = useTempDirs();
let broker: RunningBroker | null = null;
afterEach(async () => {
  await broker?.close();
  broker = null;
});

/** A broker whose log lines (error level and up) are kept in `logged`. */
async function start(options: { io?: FileIO; listen?: boolean } = {}) {
  const logged: Record<string, any>[] = [];
  const dataDir = tempDir();
  const logger = pino({ level: 'error' }, { write: (line: string) => logged.push(JSON.parse(line)) });
  const config = loadBrokerConfig({ overrides: { dataDir, port: 0, logLevel: 'error' } });
  broker = await startBroker(config, { logger, listen: options.listen ?? false, ...(options.io ? { io: options.io } : {}) });
  return { broker, logged, dataDir };
}

function post(b: RunningBroker, url: string, body: unknown) {
  return b.app.inject({ method: 'POST', url, headers: { 'content-type': 'application/json' }, payload: JSON.stringify(body) });
}

describe('unexpected exceptions', () => {
  it('a route that throws a TypeError answers 500 UNKNOWN_SERVER_ERROR, not retriable, with no internals; the log has the stack', async () => {
    const { broker: b, logged } = await start();
    await post(b, '/topics', { name: 't' });
    b.services.topics.describe = () => {
      throw new TypeError("Cannot read properties of undefined (reading 'partitions') in /srv/sluice/secret.ts");
    };
    const response = await b.app.inject({ method: 'GET', url: '/topics/t' });
    expect(response.statusCode).toBe(500);
    const { error } = response.json() as { error: { code: string; message: string; retriable: boolean } };
    expect(error).toMatchObject({ code: 'UNKNOWN_SERVER_ERROR', retriable: false });
    expect(error.message).toMatch(/^the broker failed to handle the request \(request req-\w+\); the details are in its log$/);
    expect(response.body).not.toMatch(/secret|partitions|TypeError|\/srv/);
    const line = logged.find((l) => l.code === 'UNKNOWN_SERVER_ERROR');
    expect(line?.err?.stack).toMatch(/TypeError: Cannot read properties[\s\S]*server-errors\.test\.ts/);
    expect(line).toMatchObject({ level: 50, url: '/topics/t', method: 'GET' });
    expect(line?.reqId).toBe(error.message.match(/request (req-\w+)/)![1]);
  });

  it('a file layer failing without an errno (a bug, not an I/O error) is UNKNOWN_SERVER_ERROR too', async () => {
    let broken = false;
    const io: FileIO = {
      ...nodeFileIO,
      writev: (fd, buffers, position) => {
        if (broken) throw new RangeError('offset out of bounds at /var/lib/sluice/t-0/00000000000000000000.log');
        return nodeFileIO.writev(fd, buffers, position);
      },
    };
    const { broker: b, dataDir } = await start({ io });
    await post(b, '/topics', { name: 't' });
    expect((await post(b, '/topics/t/records', { records: [{ value: 'first' }] })).statusCode).toBe(200); // the epoch file is written
    broken = true;
    const response = await post(b, '/topics/t/records', { records: [{ value: 'x' }] });
    expect(response.statusCode).toBe(500);
    expect(response.json().error).toMatchObject({ code: 'UNKNOWN_SERVER_ERROR', retriable: false });
    expect(response.json().error.message).toBe('writing segment 0 of partition t-0 failed: internal error');
    expect(response.body).not.toContain('/var/lib');
    expect(response.body).not.toContain(dataDir);
    broken = false;
    expect((await post(b, '/topics/t/records', { records: [{ value: 'y' }] })).statusCode).toBe(200);
  });
});

describe('storage errors', () => {
  it('name the partition and the errno; the file path is only in the log', async () => {
    const io = new FaultyFileIO();
    const { broker: b, logged, dataDir } = await start({ io });
    await post(b, '/topics', { name: 'd', partitions: 2 });
    io.inject({ op: 'writev', pathIncludes: '.log', errno: 'ENOSPC' });
    const full = await post(b, '/topics/d/records', { records: [{ value: 'lost', partition: 1 }] });
    expect(full.statusCode).toBe(507);
    expect(full.json().error).toEqual({
      code: 'KAFKA_STORAGE_ERROR',
      errno: 'ENOSPC',
      retriable: true,
      message: 'writing segment 0 of partition d-1 failed (ENOSPC: injected write failure)',
    });
    expect(full.body).not.toContain(dataDir);
    const line = logged.find((l) => l.code === 'KAFKA_STORAGE_ERROR');
    expect(line?.err?.context?.path).toBe(`${dataDir}/d-1/00000000000000000000.log`);
  });

  it('storageError keeps a Node error message\'s path out of the reply but in the cause', () => {
    const cause = Object.assign(new Error("ENOENT: no such file or directory, open '/data/t-0/00000000000000000000.index'"), { code: 'ENOENT' });
    const err = storageError('reading segment 0 of partition t-0', cause, '/data/t-0/00000000000000000000.index');
    expect(err.message).toBe('reading segment 0 of partition t-0 failed (ENOENT: no such file or directory)');
    expect(err).toMatchObject({ code: 'KAFKA_STORAGE_ERROR', details: { errno: 'ENOENT' }, context: { path: '/data/t-0/00000000000000000000.index' }, cause });
    expect(storageError('x', Object.assign(new Error('EIO: /a/b went away'), { code: 'EIO' })).message).toBe('x failed (EIO)');
  });
});

describe('clients', () => {
  it('the client does not retry UNKNOWN_SERVER_ERROR and the CLI prints it', async () => {
    expect(errorFromResponse(500, { error: { code: 'UNKNOWN_SERVER_ERROR', message: 'm', retriable: false } }, 'u')).toMatchObject({ code: 'UNKNOWN_SERVER_ERROR', retriable: false });
    const { broker: b } = await start({ listen: true });
    await post(b, '/topics', { name: 't' });
    let calls = 0;
    b.services.topics.describe = () => {
      calls++;
      throw new TypeError('boom');
    };
    const stderr: string[] = [];
    const io: CliIO = { stdout: () => undefined, stderr: (line) => stderr.push(line), write: async () => true, stdin: process.stdin, stdinIsTTY: false };
    const started = Date.now();
    expect(await runCli(['topics', 'describe', 't', '--broker', b.url!], io)).toBe(1);
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(calls).toBe(1);
    expect(stderr.join('\n')).toMatch(/^sluice: UNKNOWN_SERVER_ERROR: the broker failed to handle the request \(request req-\w+\); the details are in its log$/);
  });
});
