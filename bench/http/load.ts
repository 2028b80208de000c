/**
 * The load generator: undici 7 Pools (keep-alive, pipelining 1, one connection per request in flight) over
 * loopback, every reply read to its last byte and its status checked.
 *
 * - Closed loop: N requests in flight, each worker sending its next request when its reply is in
 *   (`concurrentThroughput` from bench/lib/measure.ts).
 * - Open loop (`openLoop`): sends are scheduled at a fixed rate from the start time and never wait for
 *   replies, so a slow reply cannot slow the load down (no coordinated omission). Latency runs from the
 *   moment a request is handed to undici to the last byte of its reply, recorded in an HDR histogram (µs);
 *   how late each send left against its schedule (timer granularity, a busy load generator) is recorded
 *   apart, to show that the load really was the nominal rate.
 */
import { build, type Histogram } from 'hdr-histogram-js';
import { Pool } from 'undici';
import type { IncomingHttpHeaders } from 'undici/types/header.js';

export function openPool(url: string, connections: number): Pool {
  return new Pool(url, { connections, pipelining: 1, keepAliveTimeout: 60_000, keepAliveMaxTimeout: 600_000, headersTimeout: 120_000, bodyTimeout: 120_000 });
}

export interface RequestSpec {
  method: 'GET' | 'POST';
  path: string;
  headers?: Record<string, string>;
  body?: Buffer;
}

export interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  /** body bytes received */
  bytes: number;
  /** the last bytes of the body as text (at least `tailBytes` when the body is that long) */
  tail: string;
}

/** Sends one request and reads the whole reply; throws on a status other than 2xx. */
export async function send(pool: Pool, spec: RequestSpec, tailBytes = 256): Promise<Reply> {
  const { statusCode, headers, body } = await pool.request({ method: spec.method, path: spec.path, headers: spec.headers ?? {}, body: spec.body ?? null });
  let bytes = 0;
  let last: Buffer | null = null;
  let beforeLast: Buffer | null = null;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    bytes += chunk.length;
    beforeLast = last;
    last = chunk;
  }
  let tail = '';
  if (last) {
    const joined = beforeLast && last.length < tailBytes ? Buffer.concat([beforeLast, last]) : last;
    tail = joined.subarray(Math.max(0, joined.length - tailBytes)).toString('latin1');
  }
  if (statusCode < 200 || statusCode >= 300) {
    throw new Error(`${spec.method} ${spec.path} answered ${statusCode}: ${tail.slice(-300)}`);
  }
  return { status: statusCode, headers, bytes, tail };
}

export function latencyHistogram(): Histogram {
  // µs, from 1 µs to 60 s, 3 significant digits
  return build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });
}

export interface OpenLoopResult {
  /** request latency, µs */
  latency: Histogram;
  /** how late sends left against their schedule, µs */
  sendLag: Histogram;
  sent: number;
  seconds: number;
}

/**
 * Calls `fire` `ratePerSec` times a second for `durationMs`, on a schedule fixed at the start: each timer tick
 * sends every request whose time has come. Resolves when the last reply is in; rejects with the first error.
 */
export async function openLoop(ratePerSec: number, durationMs: number, fire: () => Promise<unknown>): Promise<OpenLoopResult> {
  const latency = latencyHistogram();
  const sendLag = latencyHistogram();
  const total = Math.round((ratePerSec * durationMs) / 1000);
  const intervalMs = 1000 / ratePerSec;
  const inFlight = new Set<Promise<void>>();
  let firstError: unknown = null;
  const started = performance.now();
  let sent = 0;
  await new Promise<void>((resolve) => {
    const tick = () => {
      const now = performance.now();
      while (sent < total && started + sent * intervalMs <= now) {
        const sentAt = performance.now();
        sendLag.recordValue(Math.max(1, Math.round((sentAt - (started + sent * intervalMs)) * 1000)));
        const request: Promise<void> = fire().then(
          () => {
            latency.recordValue(Math.max(1, Math.round((performance.now() - sentAt) * 1000)));
            inFlight.delete(request);
          },
          (err: unknown) => {
            firstError ??= err;
            inFlight.delete(request);
          },
        );
        inFlight.add(request);
        sent++;
      }
      if (sent < total && firstError === null) setTimeout(tick, Math.max(0, started + sent * intervalMs - performance.now()));
      else resolve();
    };
    tick();
  });
  await Promise.all(inFlight);
  if (firstError !== null) throw firstError;
  return { latency, sendLag, sent, seconds: (performance.now() - started) / 1000 };
}
