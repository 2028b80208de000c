/**
 * Bearer tokens: random secrets handed to clients, of which the broker stores only the SHA-256. A token is 32
 * random bytes in base64url (256 bits of entropy); the lookup hashes the presented token and compares it with
 * every stored hash in constant time (crypto.timingSafeEqual), so neither the reply nor its timing tells how
 * much of a guess was right.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

export const TOKEN_BYTES = 32;

export function sha256Hex(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** A new random token and the hash to put into the auth file. */
export function newToken(): { token: string; tokenSha256: string } {
  const token = randomBytes(TOKEN_BYTES).toString('base64url');
  return { token, tokenSha256: sha256Hex(token) };
}

/** Finds which of `hashes` (32-byte digests) `token` hashes to; every candidate is compared, in constant time. */
export function matchToken(token: string, hashes: readonly Buffer[]): number {
  const digest = createHash('sha256').update(token, 'utf8').digest();
  let found = -1;
  for (let i = 0; i < hashes.length; i++) {
    if (timingSafeEqual(digest, hashes[i]!) && found === -1) found = i;
  }
  return found;
}

/**
 * The token of an `Authorization: Bearer TOKEN` header: null when there is no header, '' when it is not a
 * bearer token (which no principal matches).
 */
export function bearerToken(header: string | undefined): string | null {
  if (header === undefined) return null;
  const match = /^Bearer[ ]+([A-Za-z0-9._~+/=-]{1,1024})[ ]*$/i.exec(header);
  return match ? match[1]! : '';
}
