/**
 * The request bodies the broker reads: JSON (UTF-8, the only charset accepted) and raw record batches.
 * Any other Content-Type is refused by fastify before a route runs (415 UNSUPPORTED_MEDIA_TYPE).
 *
 * JSON is parsed with plain JSON.parse, not fastify's default secure-json-parse: that one refuses any object
 * with a `__proto__` key, which is a legal record header name. JSON.parse makes such a key an ordinary own
 * property (it defines properties, it does not assign them, so no prototype changes); code that reads
 * bodies iterates own keys (Object.entries) and builds objects with Object.fromEntries, never Object.assign
 * or `target[key] = value` over request keys.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { BrokerError } from '../common/errors.js';
import { RECORD_BATCH_MEDIA_TYPE } from './routes/common.js';
import { REPLICA_REQUEST_MEDIA_TYPE } from '../replication/replica-protocol.js';

/** The charset parameter of a Content-Type header (lower case, quotes removed); null when there is none. */
export function charsetOf(contentType: string): string | null {
  for (const param of contentType.split(';').slice(1)) {
    const eq = param.indexOf('=');
    if (eq < 0 || param.slice(0, eq).trim().toLowerCase() !== 'charset') continue;
    return param.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1').toLowerCase();
  }
  return null;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

export function parseJsonBody(request: FastifyRequest, body: Buffer): unknown {
  const charset = charsetOf(request.headers['content-type'] ?? '');
  if (charset !== null && charset !== 'utf-8' && charset !== 'utf8') {
    throw new BrokerError('UNSUPPORTED_MEDIA_TYPE', `JSON bodies must be UTF-8, not charset=${charset}`, { details: { charset } });
  }
  if (body.length === 0) throw new BrokerError('INVALID_REQUEST', 'the body is empty; expected a JSON document');
  let text: string;
  try {
    text = utf8.decode(body);
  } catch {
    throw new BrokerError('INVALID_REQUEST', 'the body is not valid UTF-8');
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new BrokerError('INVALID_REQUEST', `the body is not valid JSON: ${(err as Error).message}`);
  }
}

export function registerBodyParsers(app: FastifyInstance, maxRequestBytes: number): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'buffer', bodyLimit: maxRequestBytes }, (request, body, done) => {
    try {
      done(null, parseJsonBody(request, body as Buffer));
    } catch (err) {
      done(err as Error, undefined);
    }
  });
  app.addContentTypeParser(RECORD_BATCH_MEDIA_TYPE, { parseAs: 'buffer', bodyLimit: maxRequestBytes }, (_request, body, done) => {
    done(null, body);
  });
  // Followers' requests to their leader (src/replication/replica-protocol.ts).
  app.addContentTypeParser(REPLICA_REQUEST_MEDIA_TYPE, { parseAs: 'buffer', bodyLimit: maxRequestBytes }, (_request, body, done) => {
    done(null, body);
  });
}
