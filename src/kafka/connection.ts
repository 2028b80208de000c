/**
 * One client connection of the Kafka listener: Kafka's framing (int32 size, then the request) and the order
 * of replies.
 *
 * Requests are started in arrival order as soon as their frame is complete (pipelining: a producer with
 * several requests in flight gets them appended in order, each partition's admission queue keeps that order,
 * and their fsyncs share group commits), and replies are written strictly in request order, as Kafka's
 * clients expect (a long-polling fetch holds up the replies behind it, as in Kafka). Past MAX_IN_FLIGHT
 * requests the socket is paused so a client cannot make the broker buffer without bound.
 *
 * A frame larger than maxFrameBytes, a malformed frame, an unknown API or an unsupported version (other than
 * ApiVersions, which answers UNSUPPORTED_VERSION with the versions it has) closes this connection only, as
 * Kafka does; the broker and the other connections go on.
 */
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { Reader, MalformedFrameError } from './protocol/reader.js';
import { Writer } from './protocol/writer.js';
import { readHeaderTags, readRequestHeader, writeResponseHeader, type RequestHeader } from './protocol/header.js';
import type { ApiTable, RequestContext } from './api-table.js';

const MAX_IN_FLIGHT = 32;
const API_VERSIONS_KEY = 18;

export class KafkaConnection {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** replies (or null: none) in request order */
  private readonly outbox: Promise<Buffer[] | null>[] = [];
  private flushing = false;
  private closed = false;
  private readonly abort = new AbortController();
  private readonly context: RequestContext;

  constructor(
    private readonly socket: Socket,
    private readonly apis: ApiTable,
    private readonly maxFrameBytes: number,
    private readonly logger: Logger,
    private readonly onClose: () => void,
  ) {
    this.context = { clientId: null, clientHost: socket.remoteAddress ?? '', signal: this.abort.signal };
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.received(chunk));
    socket.on('error', (err) => this.logger.debug({ err }, 'kafka connection error'));
    socket.on('close', () => this.closedByPeer());
  }

  /** Ends the connection (shutdown): a held fetch stops waiting. */
  close(): void {
    this.fail(null);
  }

  private closedByPeer(): void {
    this.closed = true;
    this.abort.abort();
    this.onClose();
  }

  private fail(reason: string | null, err?: unknown): null {
    if (reason !== null) this.logger.warn({ err, remote: this.context.clientHost, clientId: this.context.clientId }, `kafka connection closed: ${reason}`);
    this.closed = true;
    this.abort.abort();
    this.socket.destroy();
    return null;
  }

  private received(chunk: Buffer): void {
    if (this.closed) return;
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    while (this.pendingBytes >= 4) {
      const head = this.pending[0]!.length >= 4 ? this.pending[0]! : this.join();
      const size = head.readInt32BE(0);
      if (size < 8 || size > this.maxFrameBytes) {
        this.fail(`frame size ${size} outside [8, ${this.maxFrameBytes}]`);
        return;
      }
      if (this.pendingBytes < 4 + size) break;
      const all = this.join();
      const frame = all.subarray(4, 4 + size);
      const rest = all.subarray(4 + size);
      this.pending = rest.length > 0 ? [rest] : [];
      this.pendingBytes = rest.length;
      this.outbox.push(this.handle(frame));
    }
    if (this.outbox.length > MAX_IN_FLIGHT) this.socket.pause();
    void this.flush();
  }

  private join(): Buffer {
    const all = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending, this.pendingBytes);
    this.pending = [all];
    return all;
  }

  private async flush(): Promise<void> {
    if (this.flushing) return;
    this.flushing = true;
    try {
      while (!this.closed && this.outbox.length > 0) {
        const chunks = await this.outbox[0]!;
        this.outbox.shift();
        if (chunks !== null && !this.closed) {
          this.socket.cork();
          for (const chunk of chunks) this.socket.write(chunk);
          this.socket.uncork();
        }
        if (this.outbox.length <= MAX_IN_FLIGHT / 2 && this.socket.isPaused()) this.socket.resume();
      }
    } finally {
      this.flushing = false;
    }
  }

  /** Handles one request; resolves with its reply's buffers, or null for no reply (or a closed connection). */
  private async handle(frame: Buffer): Promise<Buffer[] | null> {
    let header: RequestHeader | null = null;
    try {
      const r = new Reader(frame);
      header = readRequestHeader(r);
      this.context.clientId = header.clientId;
      const api = this.apis.get(header.apiKey);
      if (!api) return this.fail(`unknown api key ${header.apiKey}`);
      const { apiVersion } = header;
      if (apiVersion < api.minVersion || apiVersion > api.maxVersion) {
        if (header.apiKey === API_VERSIONS_KEY) return this.reply(header.correlationId, false, (w) => api.unsupported!(w));
        return this.fail(`${api.name} v${apiVersion} is not supported (v${api.minVersion}-${api.maxVersion})`);
      }
      const flexible = api.flexibleFrom !== null && apiVersion >= api.flexibleFrom;
      if (flexible) readHeaderTags(r);
      const request = api.read(r, apiVersion);
      const response = await api.handle(this.context, apiVersion, request);
      if (response === null || this.closed) return null;
      // ApiVersions answers with header v0 whatever its version.
      return this.reply(header.correlationId, flexible && header.apiKey !== API_VERSIONS_KEY, (w) => api.write(w, apiVersion, response));
    } catch (err) {
      if (err instanceof MalformedFrameError) return this.fail(`malformed ${header ? `request (api ${header.apiKey} v${header.apiVersion})` : 'header'}: ${err.message}`);
      this.logger.error({ err, apiKey: header?.apiKey, apiVersion: header?.apiVersion }, 'kafka request failed');
      return this.fail('internal error', err);
    }
  }

  private reply(correlationId: number, flexibleHeader: boolean, body: (w: Writer) => void): Buffer[] {
    const w = new Writer();
    w.int32(0);
    writeResponseHeader(w, correlationId, flexibleHeader);
    body(w);
    const size = w.length - 4;
    const chunks = w.finish();
    chunks[0]!.writeInt32BE(size, 0);
    return chunks;
  }
}
