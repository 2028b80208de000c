/** The pure parts of src/security: ACL matching, the auth file's strict parsing, tokens, the token bucket. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { authorize, authorizeAny, type AclEntry, type Principal } from '../../src/security/acl.js';
import { AuthFileError, parseAuthFile } from '../../src/security/auth-file.js';
import { Authenticator } from '../../src/security/authenticator.js';
import { TokenBucket } from '../../src/security/token-bucket.js';
import { bearerToken, matchToken, newToken, sha256Hex } from '../../src/security/tokens.js';
import { QuotaManager } from '../../src/security/quotas.js';

const who = (acls: AclEntry[]): Principal => ({ name: 'p', acls, quotas: {} });

describe('authorize', () => {
  it('denies by default', () => {
    expect(authorize(who([]), 'topic', 'orders', 'read')).toBe(false);
  });

  it('literal, prefix and * names', () => {
    const p = who([
      { resource: 'topic', name: 'orders', pattern: 'literal', operations: ['read'] },
      { resource: 'topic', name: 'billing-', pattern: 'prefix', operations: ['write'] },
      { resource: 'group', name: '*', pattern: 'literal', operations: ['read'] },
    ]);
    expect(authorize(p, 'topic', 'orders', 'read')).toBe(true);
    expect(authorize(p, 'topic', 'orders-2', 'read')).toBe(false);
    expect(authorize(p, 'topic', 'billing-eu', 'write')).toBe(true);
    expect(authorize(p, 'topic', 'billing', 'write')).toBe(false);
    expect(authorize(p, 'topic', 'billing-eu', 'read')).toBe(false);
    expect(authorize(p, 'group', 'anything', 'read')).toBe(true);
    expect(authorize(p, 'topic', 'anything', 'read')).toBe(false); // * is per resource type
  });

  it('implied describe, cluster create for topics, cluster admin for everything', () => {
    expect(authorize(who([{ resource: 'topic', name: 't', pattern: 'literal', operations: ['write'] }]), 'topic', 't', 'describe')).toBe(true);
    expect(authorize(who([{ resource: 'topic', name: 't', pattern: 'literal', operations: ['describe'] }]), 'topic', 't', 'read')).toBe(false);
    expect(authorize(who([{ resource: 'cluster', name: 'sluice', pattern: 'literal', operations: ['create'] }]), 'topic', 'x', 'create')).toBe(true);
    const admin = who([{ resource: 'cluster', name: 'sluice', pattern: 'literal', operations: ['admin'] }]);
    for (const op of ['read', 'write', 'delete', 'alter'] as const) expect(authorize(admin, 'group', 'g', op)).toBe(true);
    expect(authorizeAny(who([{ resource: 'topic', name: 'a', pattern: 'literal', operations: ['write'] }]), 'topic', 'write')).toBe(true);
    expect(authorizeAny(who([{ resource: 'topic', name: 'a', pattern: 'literal', operations: ['read'] }]), 'topic', 'write')).toBe(false);
  });

  it('a prefix ACL allows exactly the names starting with it (property)', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 8 }), fc.string({ maxLength: 12 }), (prefix, name) => {
        const p = who([{ resource: 'topic', name: prefix, pattern: 'prefix', operations: ['read'] }]);
        expect(authorize(p, 'topic', name, 'read')).toBe(prefix === '*' || name.startsWith(prefix));
      }),
    );
  });
});

describe('the auth file', () => {
  const hash = 'a'.repeat(64);
  it('parses the contract\'s example', () => {
    const [p] = parseAuthFile(
      JSON.stringify({
        principals: [
          {
            name: 'billing',
            tokenSha256: hash.toUpperCase(),
            acls: [{ resource: 'topic', name: 'orders', pattern: 'literal', operations: ['read', 'write', 'describe'] }],
            quotas: { produceBytesPerSec: 10_485_760, fetchBytesPerSec: null, requestsPerSec: null },
          },
        ],
      }),
    );
    expect(p).toMatchObject({ name: 'billing', tokenSha256: hash, quotas: { produceBytesPerSec: 10_485_760, fetchBytesPerSec: null } });
  });

  it.each([
    ['not json', '{'],
    ['no principals', '{}'],
    ['unknown key', JSON.stringify({ principals: [{ name: 'a', tokenSha256: hash, acl: [] }] })],
    ['bad hash', JSON.stringify({ principals: [{ name: 'a', tokenSha256: 'abc' }] })],
    ['duplicate name', JSON.stringify({ principals: [{ name: 'a' }, { name: 'a' }] })],
    ['duplicate hash', JSON.stringify({ principals: [{ name: 'a', tokenSha256: hash }, { name: 'b', tokenSha256: hash }] })],
    ['unknown operation', JSON.stringify({ principals: [{ name: 'a', acls: [{ resource: 'topic', name: 't', operations: ['eat'] }] }] })],
    ['unknown resource', JSON.stringify({ principals: [{ name: 'a', acls: [{ resource: 'table', name: 't', operations: ['read'] }] }] })],
    ['admin on a topic', JSON.stringify({ principals: [{ name: 'a', acls: [{ resource: 'topic', name: 't', operations: ['admin'] }] }] })],
    ['bad quota', JSON.stringify({ principals: [{ name: 'a', quotas: { requestsPerSec: -1 } }] })],
  ])('refuses %s', (_what, text) => {
    expect(() => parseAuthFile(text)).toThrow(AuthFileError);
  });
});

describe('tokens', () => {
  it('new tokens carry 256 bits, base64url, and hash to what the file stores', () => {
    const { token, tokenSha256 } = newToken();
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(sha256Hex(token)).toBe(tokenSha256);
    expect(newToken().token).not.toBe(token);
  });

  it('matches a token against the stored hashes; a wrong one matches none', () => {
    const tokens = [newToken(), newToken(), newToken()];
    const hashes = tokens.map((t) => Buffer.from(t.tokenSha256, 'hex'));
    expect(matchToken(tokens[1]!.token, hashes)).toBe(1);
    expect(matchToken(newToken().token, hashes)).toBe(-1);
  });

  it('reads bearer headers', () => {
    expect(bearerToken(undefined)).toBe(null);
    expect(bearerToken('Bearer abc.DEF_-')).toBe('abc.DEF_-');
    expect(bearerToken('Basic YTpi')).toBe('');
    expect(bearerToken('Bearer ')).toBe('');
  });

  it('without an auth file every caller is the anonymous admin', () => {
    const auth = new Authenticator(null);
    expect(auth.authenticate('whatever')!.name).toBe('ANONYMOUS');
  });
});

describe('token bucket and quotas', () => {
  it('lets a request through when not in debt, then makes the next wait the debt out', () => {
    const bucket = new TokenBucket(1_000, 0);
    expect(bucket.delayMs(0)).toBe(0);
    bucket.charge(3_000, 0); // one large request: 2,000 in debt
    expect(bucket.delayMs(0)).toBe(2_000);
    expect(bucket.delayMs(1_500)).toBe(500);
    expect(bucket.delayMs(2_000)).toBe(0);
    expect(bucket.isFull(3_000)).toBe(true);
  });

  it('takes the principal\'s own limit, else the default; null is no limit', () => {
    let now = 0;
    const quotas = new QuotaManager({ produceBytesPerSec: 100, fetchBytesPerSec: null, requestsPerSec: null }, () => now);
    quotas.charge('a', 'produceBytesPerSec', 150);
    expect(quotas.delayMs('a', 'produceBytesPerSec')).toBe(500);
    quotas.charge('b', 'produceBytesPerSec', 150, { produceBytesPerSec: null });
    expect(quotas.delayMs('b', 'produceBytesPerSec', { produceBytesPerSec: null })).toBe(0);
    expect(quotas.delayMs('a', 'fetchBytesPerSec')).toBe(0);
    now = 500;
    expect(quotas.delayMs('a', 'produceBytesPerSec')).toBe(0);
  });
});
