/**
 * Receipts: the opaque strings that name one lease of one record. A receipt carries where the record is
 * (topic, partition, offset) and which lease it names (the share-partition's incarnation, a random number
 * drawn each time its state is loaded, and a lease id counting up within it), sealed with a MAC over those
 * fields and the group under the secret kept in the share-state log (so the secret moves with the state):
 *
 *   receipt = topic "~" partition "~" offset "~" incarnation(base 36) "~" leaseId(base 36) "~" mac
 *   mac     = base64url(SHA-256(fields "\0" group "\0" secret))[0..22)
 *
 * Topic names cannot contain "~", so the fields split unambiguously. The key goes last in the hashed text,
 * which SHA-256's length extension cannot exploit; one hash per receipt costs far less than an HMAC object.
 *
 * A receipt whose seal does not verify (made up, altered, or issued for another group) was never issued:
 * INVALID_RECEIPT. One that verifies but names a lease that is over (timed out, released, acked, leased
 * again, or a restart since, which draws a new incarnation) is RECEIPT_EXPIRED.
 */
import { hash, timingSafeEqual } from 'node:crypto';

export interface ReceiptFields {
  topic: string;
  partition: number;
  offset: number;
  incarnation: number;
  leaseId: number;
}

const MAC_CHARS = 22; // 132 bits of the SHA-256
const MAX_RECEIPT_CHARS = 1_024;

function seal(secret: string, group: string, fields: string): string {
  return hash('sha256', `${fields}\u0000${group}\u0000${secret}`, 'base64url').slice(0, MAC_CHARS);
}

/** `secret` as text (hex): it is hashed with every receipt. */
export function encodeReceipt(secret: string, group: string, f: ReceiptFields): string {
  const fields = `${f.topic}~${f.partition}~${f.offset}~${f.incarnation.toString(36)}~${f.leaseId.toString(36)}`;
  return `${fields}~${seal(secret, group, fields)}`;
}

export type ParsedReceipt = ReceiptFields & { fields: string; mac: string };

/** The fields of a receipt without checking its seal; null if it is not a receipt at all. */
export function parseReceipt(receipt: unknown): ParsedReceipt | null {
  if (typeof receipt !== 'string' || receipt.length > MAX_RECEIPT_CHARS) return null;
  const parts = receipt.split('~');
  if (parts.length !== 6) return null;
  const [topic, partition, offset, incarnation, leaseId, mac] = parts as [string, string, string, string, string, string];
  if (mac.length !== MAC_CHARS || !/^\d{1,10}$/.test(partition) || !/^\d{1,16}$/.test(offset) || !/^[0-9a-z]{1,11}$/.test(incarnation) || !/^[0-9a-z]{1,11}$/.test(leaseId)) return null;
  return {
    topic,
    partition: Number(partition),
    offset: Number(offset),
    incarnation: parseInt(incarnation, 36),
    leaseId: parseInt(leaseId, 36),
    fields: receipt.slice(0, receipt.length - MAC_CHARS - 1),
    mac,
  };
}

/** Whether the parsed receipt's seal is the one `secret` gives for `group`. */
export function verifyReceipt(secret: string, group: string, parsed: { fields: string; mac: string }): boolean {
  const expected = Buffer.from(seal(secret, group, parsed.fields));
  const given = Buffer.from(parsed.mac);
  return expected.length === given.length && timingSafeEqual(expected, given);
}
