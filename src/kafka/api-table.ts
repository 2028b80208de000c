/**
 * The dispatch table: per api key, the versions implemented (from the generated codecs, so ApiVersions
 * offers exactly what can be decoded), the generated reader and writer, and the handler.
 */
import type { Reader } from './protocol/reader.js';
import type { Writer } from './protocol/writer.js';

export interface RequestContext {
  clientId: string | null;
  clientHost: string;
  /** aborted when the connection closes (a held fetch or join stops waiting) */
  signal: AbortSignal;
}

export interface ApiEntry<Req = any, Res = any> {
  apiKey: number;
  name: string;
  minVersion: number;
  maxVersion: number;
  flexibleFrom: number | null;
  read(r: Reader, version: number): Req;
  write(w: Writer, version: number, response: Res): void;
  /** the reply, or null for none (a produce with acks=0) */
  handle(context: RequestContext, version: number, request: Req): Promise<Res | null>;
  /** ApiVersions only: the v0 reply to a version it does not have */
  unsupported?: (w: Writer) => void;
}

export type ApiTable = Map<number, ApiEntry>;

interface GeneratedModule {
  API_KEY: number;
  MIN_VERSION: number;
  MAX_VERSION: number;
  FLEXIBLE_FROM: number | null;
}

/** An entry from a generated module, its request reader, response writer and a handler. */
export function entry<Req, Res>(
  name: string,
  generated: GeneratedModule,
  read: (r: Reader, v: number) => Req,
  write: (w: Writer, v: number, value: Res) => void,
  handle: (context: RequestContext, version: number, request: Req) => Promise<Res | null>,
): ApiEntry<Req, Res> {
  return {
    apiKey: generated.API_KEY,
    name,
    minVersion: generated.MIN_VERSION,
    maxVersion: generated.MAX_VERSION,
    flexibleFrom: generated.FLEXIBLE_FROM,
    read,
    write,
    handle,
  };
}
