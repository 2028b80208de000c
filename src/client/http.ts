/**
 * The one HTTP client of sluice/client: an undici keep-alive pool for one broker URL, JSON and record-batch
 * bodies, errors turned into BrokerError (from the response body, or a transport error naming the URL).
 * Every request carries the client id (header `sluice-client-id`) and reports to a health observer whether
 * the broker answered. No retries here: the producer, consumer and admin decide what may be retried.
 */
import { Pool } from 'undici';
import { parseBrokerAddress } from './broker-address.js';
import { errorFromResponse, invalidOption, transportError } from './errors.js';
import { sleep, withRetries, type BackoffOptions } from './retry.js';
import type { BrokerError } from './errors.js';

export const CLIENT_ID_HEADER = 'sluice-client-id';

export const RECORD_BATCH_MEDIA_TYPE = 'application/vnd.sluice.record-batch';

export type QueryValue = string | number | boolean | undefined;

export interface RequestOptions {
  query?: Record<string, QueryValue>;
  /** A JSON body (sent with Content-Type application/json). */
  json?: unknown;
  /** Raw record batches (sent with the record-batch media type). */
  batches?: Buffer;
  accept?: string;
  signal?: AbortSignal;
  /** Headers and body must arrive within this long (default: the client's requestTimeoutMs). */
  timeoutMs?: number;
}

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** How to reach a broker that has TLS or authentication on (admin, producer and consumer options). */
export interface ConnectionOptions {
  /** bearer token sent with every request (`Authorization: Bearer ...`) */
  token?: string;
  /** PEM CA certificate(s) to trust for an https:// broker (else the system's CAs) */
  ca?: string | Buffer;
  /** PEM client certificate and key, for a broker that asks for one (mutual TLS) */
  cert?: string | Buffer;
  key?: string | Buffer;
}

/** Checks and keeps only the connection options of a larger options object. */
export function connectionOf(options: ConnectionOptions): ConnectionOptions {
  const out: ConnectionOptions = {};
  if (options.token !== undefined) {
    if (typeof options.token !== 'string' || !/^[A-Za-z0-9._~+/=-]{1,1024}$/.test(options.token)) throw invalidOption('token must be a bearer token (base64url text)');
    out.token = options.token;
  }
  for (const key of ['ca', 'cert', 'key'] as const) {
    const value = options[key];
    if (value === undefined) continue;
    if (typeof value !== 'string' && !Buffer.isBuffer(value)) throw invalidOption(`${key} must be PEM text or a Buffer`);
    out[key] = value;
  }
  if ((out.cert === undefined) !== (out.key === undefined)) throw invalidOption('cert and key go together');
  return out;
}

/** How long the client waits at most on one THROTTLED answer before sending again. */
const MAX_THROTTLE_WAIT_MS = 30_000;

export interface HttpClientOptions extends ConnectionOptions {
  /** Most sockets to the broker at once (null: no limit, needed by consumers that long-poll many partitions). */
  connections?: number | null;
  requestTimeoutMs?: number;
  /** sent with every request (header `sluice-client-id`) */
  clientId?: string;
  /** told whether each request reached the broker */
  health?: { reached(): void; failed(err: BrokerError): void };
}

/**
 * The broker's URL, checked: an http or https URL, or host:port (plain http, as kcat and rpk take it). `name`
 * is how the caller's user gave it (an option, a flag).
 */
export function parseBrokerUrl(broker: string, name = 'broker'): URL {
  if (typeof broker !== 'string') throw invalidOption(`${name} must be host:port or a URL such as http://127.0.0.1:8080`);
  return parseBrokerAddress(broker, name);
}

export class HttpClient {
  readonly baseUrl: string;
  private readonly pool: Pool;
  private readonly basePath: string;
  private readonly requestTimeoutMs: number;
  private readonly clientId: string | undefined;
  private readonly health: HttpClientOptions['health'];
  private readonly authorization: string | undefined;
  private closed = false;

  constructor(broker: string, options: HttpClientOptions = {}) {
    const url = parseBrokerUrl(broker);
    this.basePath = url.pathname.replace(/\/+$/, '');
    this.baseUrl = url.origin + this.basePath;
    this.requestTimeoutMs = options.requestTimeoutMs ?? 30_000;
    this.clientId = options.clientId;
    this.health = options.health;
    const security = connectionOf(options);
    this.authorization = security.token === undefined ? undefined : `Bearer ${security.token}`;
    const tls = { ...(security.ca ? { ca: security.ca } : {}), ...(security.cert ? { cert: security.cert, key: security.key } : {}) };
    this.pool = new Pool(url.origin, { connections: options.connections ?? null, keepAliveTimeout: 30_000, pipelining: 1, ...(Object.keys(tls).length > 0 ? { connect: tls } : {}) });
  }

  /** Sends a request and returns the parsed JSON reply (undefined for 204); a non-2xx status throws. */
  async json<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const response = await this.request(method, path, { accept: 'application/json', ...options });
    if (response.status === 204 || response.body.length === 0) return undefined as T;
    return JSON.parse(response.body.toString('utf8')) as T;
  }

  /** A GET of JSON, retried on retriable errors until `deadlineMs` (reads are safe to repeat). */
  getWithRetries<T>(path: string, deadlineMs: number, backoff: BackoffOptions, query?: Record<string, QueryValue>): Promise<T> {
    return withRetries(() => this.json<T>('GET', path, { query }), deadlineMs, backoff, undefined, `GET ${path}`);
  }

  /**
   * Sends a request and returns status, headers and body; a non-2xx status throws its BrokerError. A
   * THROTTLED answer (over a quota: nothing of the request was applied) is not a failure: the request is sent
   * again after the broker's Sluice-Throttle-Ms (or Retry-After), until the signal aborts.
   */
  async request(method: string, path: string, options: RequestOptions = {}): Promise<RawResponse> {
    for (;;) {
      try {
        return await this.requestOnce(method, path, options);
      } catch (err) {
        const e = err as BrokerError;
        if (e?.code !== 'THROTTLED' || options.signal?.aborted || this.closed) throw err;
        await sleep(throttleWaitMs(e), options.signal);
        if (options.signal?.aborted) throw err;
      }
    }
  }

  private async requestOnce(method: string, path: string, options: RequestOptions): Promise<RawResponse> {
    const target = path + queryString(options.query);
    const url = this.baseUrl + target;
    const timeoutMs = options.timeoutMs ?? this.requestTimeoutMs;
    const headers: Record<string, string> = {};
    if (this.clientId) headers[CLIENT_ID_HEADER] = this.clientId;
    if (this.authorization) headers.authorization = this.authorization;
    let body: Buffer | string | undefined;
    if (options.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(options.json);
    } else if (options.batches) {
      headers['content-type'] = RECORD_BATCH_MEDIA_TYPE;
      body = options.batches;
    }
    if (options.accept) headers.accept = options.accept;
    let status: number;
    let responseHeaders: RawResponse['headers'];
    let responseBody: Buffer;
    try {
      const response = await this.pool.request({
        method: method as 'GET',
        path: this.basePath + target,
        headers,
        body,
        signal: options.signal,
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
      });
      status = response.statusCode;
      responseHeaders = response.headers;
      responseBody = Buffer.from(await response.body.arrayBuffer());
    } catch (err) {
      if (options.signal?.aborted) throw err;
      const error = transportError(err, url, timeoutMs);
      this.health?.failed(error);
      throw error;
    }
    if (status >= 200 && status < 300) {
      this.health?.reached();
      return { status, headers: responseHeaders, body: responseBody };
    }
    let parsed: unknown = null;
    try {
      parsed = JSON.parse(responseBody.toString('utf8'));
    } catch {
      // not a sluice error body (a proxy's page, say): the status alone decides
    }
    const error = errorFromResponse(status, parsed, url);
    if (error.code === 'THROTTLED') {
      const ms = Number(responseHeaders['sluice-throttle-ms'] ?? Number(responseHeaders['retry-after'] ?? 1) * 1000);
      (error.details as Record<string, unknown>).throttleMs = Number.isFinite(ms) ? ms : 1000;
      this.health?.reached();
      throw error;
    }
    this.health?.failed(error); // a broker shutting down (503) counts as unreachable, any other answer as reached
    throw error;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.close();
  }
}

function throttleWaitMs(err: BrokerError): number {
  const ms = Number(err.details?.throttleMs ?? 1000);
  return Math.min(MAX_THROTTLE_WAIT_MS, Math.max(1, Number.isFinite(ms) ? ms : 1000));
}

function queryString(query: Record<string, QueryValue> | undefined): string {
  if (!query) return '';
  const parts: string[] = [];
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined) parts.push(`${encodeURIComponent(key)}=${encodeURIComponent(String(value))}`);
  }
  return parts.length === 0 ? '' : `?${parts.join('&')}`;
}

/** One path segment (topic, group or member id). */
export function segment(value: string | number): string {
  return encodeURIComponent(String(value));
}
