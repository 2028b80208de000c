/**
 * The baseline of the HTTP suite: a plain fastify 5 server with no broker behind it, run as its own process
 * exactly as the broker is (compiled JS, loopback, same client), so the ratio broker ÷ plain isolates what
 * the broker adds on top of HTTP and JSON in Node:
 *
 *   POST /topics/:topic/records                      parses the JSON body (fastify's parser, same bodyLimit as
 *                                                    the broker's maxRequestBytes) and replies {"records": n}
 *   GET  /topics/:topic/partitions/:p/records        builds and serializes the same JSON fetch reply the broker
 *                                                    sends for those offsets (same values, same shape), from
 *                                                    memory
 *   POST /files {"paths": [...]}                     opens files for the next route
 *   GET  /files/:index?position=P&length=L           fs.read of those bytes (callback API, a fresh buffer, as
 *                                                    the storage engine reads) sent as a record-batch body
 *   GET  /health
 *
 *   node dist/bench/http/plain-server.js --port PORT --record-bytes 1024 --records 1000
 */
import * as fs from 'node:fs';
import { parseArgs } from 'node:util';
import Fastify from 'fastify';
import { RECORD_BATCH_MEDIA_TYPE, RECORD_TIMESTAMP, recordValues, type FetchedRecord, type JsonFetchReply } from './payloads.js';

const MAX_REQUEST_BYTES = 16 * 1024 * 1024;

const { values: args } = parseArgs({
  options: {
    port: { type: 'string' },
    'record-bytes': { type: 'string', default: '1024' },
    records: { type: 'string', default: '1000' },
  },
  strict: true,
});
const port = Number(args.port);
if (!Number.isInteger(port) || port <= 0) throw new Error('--port PORT is required');

// The values the broker stores in the JSON consume case: batch after batch of the same values, so the
// record at offset o holds values[o % values.length].
const values = recordValues(Number(args.records), Number(args['record-bytes']));

function read(fd: number, length: number, position: number): Promise<Buffer> {
  const into = Buffer.allocUnsafe(length);
  return new Promise((resolve, reject) =>
    fs.read(fd, into, 0, length, position, (err, n) => (err ? reject(err) : resolve(n === length ? into : into.subarray(0, n)))),
  );
}

const app = Fastify({ logger: false, bodyLimit: MAX_REQUEST_BYTES });
let fds: number[] = [];

app.get('/health', async () => ({ status: 'ok' }));

app.post('/topics/:topic/records', async (request) => {
  const body = request.body as { records: unknown[] };
  return { records: body.records.length };
});

app.get('/topics/:topic/partitions/:partition/records', async (request) => {
  const query = request.query as { offset?: string; maxRecords?: string };
  const offset = Number(query.offset ?? 0);
  const maxRecords = Number(query.maxRecords ?? 10_000);
  const records = new Array<FetchedRecord>(maxRecords);
  for (let i = 0; i < maxRecords; i++) {
    records[i] = { offset: offset + i, timestamp: RECORD_TIMESTAMP, key: null, value: values[(offset + i) % values.length]!, headers: {} };
  }
  const reply: JsonFetchReply = { records, nextOffset: offset + maxRecords, highWatermark: offset + maxRecords, logStartOffset: 0 };
  return reply;
});

app.post('/files', async (request) => {
  const { paths } = request.body as { paths: string[] };
  for (const fd of fds) fs.closeSync(fd);
  fds = paths.map((path) => fs.openSync(path, 'r'));
  return { files: fds.length };
});

app.get('/files/:index', async (request, reply) => {
  const fd = fds[Number((request.params as { index: string }).index)];
  const query = request.query as { position: string; length: string };
  if (fd === undefined) return reply.code(404).send({ error: 'no such file' });
  const bytes = await read(fd, Number(query.length), Number(query.position));
  return reply.type(RECORD_BATCH_MEDIA_TYPE).send(bytes);
});

await app.listen({ host: '127.0.0.1', port });

const stop = () => {
  app.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
