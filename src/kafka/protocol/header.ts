/**
 * Request and response headers.
 *
 * Request header v1 (non-flexible request versions) and v2 (flexible ones):
 *   int16 apiKey, int16 apiVersion, int32 correlationId, nullable string clientId (always int16 length, even
 *   in v2), then in v2 only a tagged-field section.
 * Response header v0: int32 correlationId; v1 (flexible response versions) adds a tagged-field section.
 * ApiVersions responses always use header v0, so that a client can read the reply to a version it guessed.
 */
import type { Reader } from './reader.js';
import type { Writer } from './writer.js';

export interface RequestHeader {
  apiKey: number;
  apiVersion: number;
  correlationId: number;
  clientId: string | null;
}

/** The fixed part of the header (v1); the tagged fields of v2 are read by readHeaderTags once the API is known. */
export function readRequestHeader(r: Reader): RequestHeader {
  const apiKey = r.int16();
  const apiVersion = r.int16();
  const correlationId = r.int32();
  const clientId = r.nullableString(false);
  return { apiKey, apiVersion, correlationId, clientId };
}

export function readHeaderTags(r: Reader): void {
  r.taggedFields(() => false);
}

export function writeResponseHeader(w: Writer, correlationId: number, flexible: boolean): void {
  w.int32(correlationId);
  if (flexible) w.uvarint(0);
}
