/**
 * Who is calling: the principals of the auth file, looked up by bearer token (hash compare in constant time)
 * or by the CN of a verified client certificate (mutual TLS). Reloadable: `reload()` reads the file again and
 * swaps the principals in one assignment, so a request sees either the old set or the new one; a file that
 * fails to parse leaves the old set in place (and the error is returned for the log).
 *
 * With no auth file, authentication is off: every caller is ANONYMOUS, which may do everything.
 * This is also the entry point for other front doors (the Kafka listener's SASL maps onto `authenticate`).
 */
import { CLUSTER_NAME, authorize, authorizeAny, type AccessCheck, type Principal } from './acl.js';
import { readAuthFile, type AuthPrincipal } from './auth-file.js';
import { matchToken } from './tokens.js';

export const ANONYMOUS: Principal = Object.freeze({
  name: 'ANONYMOUS',
  acls: [{ resource: 'cluster', name: CLUSTER_NAME, pattern: 'literal', operations: ['admin'] }],
  quotas: {},
}) as Principal;

interface Loaded {
  principals: AuthPrincipal[];
  hashes: Buffer[];
  withToken: AuthPrincipal[];
  byName: Map<string, AuthPrincipal>;
}

function index(principals: AuthPrincipal[]): Loaded {
  const withToken = principals.filter((p) => p.tokenSha256 !== null);
  return { principals, withToken, hashes: withToken.map((p) => Buffer.from(p.tokenSha256!, 'hex')), byName: new Map(principals.map((p) => [p.name, p])) };
}

export class Authenticator {
  private loaded: Loaded;

  /** `authFile` null: authentication off. Throws AuthFileError when the file is unusable at start. */
  constructor(readonly authFile: string | null) {
    this.loaded = index(authFile === null ? [] : readAuthFile(authFile));
  }

  get enabled(): boolean {
    return this.authFile !== null;
  }

  get principals(): readonly AuthPrincipal[] {
    return this.loaded.principals;
  }

  /** Reads the auth file again; on error keeps the current principals and throws. */
  reload(): { principals: number } {
    if (this.authFile === null) return { principals: 0 };
    this.loaded = index(readAuthFile(this.authFile));
    return { principals: this.loaded.principals.length };
  }

  /** The principal a bearer token belongs to; null for an unknown token. ANONYMOUS when auth is off. */
  authenticate(token: string): Principal | null {
    if (!this.enabled) return ANONYMOUS;
    const { withToken, hashes } = this.loaded;
    const i = matchToken(token, hashes);
    return i === -1 ? null : withToken[i]!;
  }

  /** The principal named by a verified client certificate's CN; null when the file has none of that name. */
  byCertificate(commonName: string): Principal | null {
    if (!this.enabled) return ANONYMOUS;
    return this.loaded.byName.get(commonName) ?? null;
  }

  authorize(principal: Principal, check: AccessCheck): boolean {
    return check.anyName ? authorizeAny(principal, check.resource, check.operation) : authorize(principal, check.resource, check.name, check.operation);
  }
}
