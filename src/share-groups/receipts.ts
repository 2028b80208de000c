/**
 * Receipts: the opaque strings that name one lease of one record. A receipt carries where the record is
 * (topic, partition, offset) and which lease it names (the share-partition's incarnation, a random number
 * drawn each time its state is loaded, and a lease id counting up within it), sealed with an HMAC over the
 * group and those fields under the secret kept in the share-state log (so the secret moves with the state).
 *
 *   receipt = base64url(topic \0 partition \0 offset \0 incarnation \0 leaseId) "." base64url(hmac)[0..22)
 *
 * A receipt whose seal does not verify (made up, altered, or issued for another group) was never issued:
 * INVALID_RECEIPT. One that verifies but names a lease that is over (timed out, released, the record leased
 * again, or a restart since, which draws a new incarnation) is RECEIPT_EXPIRED.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export interface ReceiptFields {
  topic: string;
  partition: number;
  offset: number;
  incarnation: number;
  leaseId: number;
}

const MAC_CHARS = 22; // 132 bits of the SHA-256 HMAC
const MAX_RECEIPT_CHARS = 1_024;

function seal(secret: Buffer, group: string, payload: string): string {
  return createHmac('sha256', secret).update(group).update('\u0000').update(payload).digest('base64url').slice(0, MAC_CHARS);
}

export function encodeReceipt(secret: Buffer, group: string, f: ReceiptFields): string {
  const payload = Buffer.from(`${f.topic}\u0000${f.partition}\u0000${f.offset}\u0000${f.incarnation}\u0000${f.leaseId}`, 'utf8').toString('base64url');
  return `${payload}.${seal(secret, group, payload)}`;
}

/** The fields of a receipt without checking its seal (to find the secret that must check it); null if malformed. */
export function parseReceipt(receipt: unknown): (ReceiptFields & { payload: string; mac: string }) | null {
  if (typeof receipt !== 'string' || receipt.length > MAX_RECEIPT_CHARS) return null;
  const dot = receipt.indexOf('.');
  if (dot <= 0) return null;
  const payload = receipt.slice(0, dot);
  const mac = receipt.slice(dot + 1);
  if (mac.length !== MAC_CHARS || !/^[A-Za-z0-9_-]+$/.test(payload)) return null;
  const parts = Buffer.from(payload, 'base64url').toString('utf8').split('\u0000');
  if (parts.length !== 5) return null;
  const [topic, ...numbers] = parts as [string, string, string, string, string];
  if (!numbers.every((n) => /^\d{1,16}$/.test(n))) return null;
  const [partition, offset, incarnation, leaseId] = numbers.map(Number) as [number, number, number, number];
  return { topic, partition, offset, incarnation, leaseId, payload, mac };
}

/** Whether the parsed receipt's seal is the one `secret` gives for `group`. */
export function verifyReceipt(secret: Buffer, group: string, parsed: { payload: string; mac: string }): boolean {
  const expected = Buffer.from(seal(secret, group, parsed.payload));
  const given = Buffer.from(parsed.mac);
  return expected.length === given.length && timingSafeEqual(expected, given);
}
