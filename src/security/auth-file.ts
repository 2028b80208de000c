/**
 * The auth file (`--auth-file`): the principals, the SHA-256 of each one's token, their ACLs and quotas.
 *
 *   {"principals": [{"name": "billing", "tokenSha256": "<64 hex>",
 *                    "acls": [{"resource": "topic", "name": "orders", "pattern": "literal", "operations": ["read"]}],
 *                    "quotas": {"produceBytesPerSec": 10485760, "fetchBytesPerSec": null, "requestsPerSec": null}}]}
 *
 * A principal without `tokenSha256` can only be reached through a client certificate whose CN is its name
 * (mutual TLS). Parsing is strict: an unknown key, a bad hash, a duplicate name or hash, an unknown resource,
 * operation or pattern is an error naming where it is, so a typo never silently grants or denies.
 */
import { readFileSync } from 'node:fs';
import { OPERATIONS, PATTERNS, RESOURCES, type AclEntry, type Operation, type Principal, type Quotas } from './acl.js';

export interface AuthPrincipal extends Principal {
  /** lower-case hex SHA-256 of the token; null for a certificate-only principal */
  tokenSha256: string | null;
}

export class AuthFileError extends Error {}

const QUOTA_KEYS = ['produceBytesPerSec', 'fetchBytesPerSec', 'requestsPerSec'] as const;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function onlyKeys(value: Record<string, unknown>, allowed: readonly string[], where: string): void {
  for (const key of Object.keys(value)) if (!allowed.includes(key)) throw new AuthFileError(`${where}: unknown key ${JSON.stringify(key)}`);
}

function parseAcl(raw: unknown, where: string): AclEntry {
  if (!isObject(raw)) throw new AuthFileError(`${where}: must be an object`);
  onlyKeys(raw, ['resource', 'name', 'pattern', 'operations'], where);
  const { resource, name, pattern = 'literal', operations } = raw;
  if (!RESOURCES.includes(resource as never)) throw new AuthFileError(`${where}: resource must be one of ${RESOURCES.join(', ')}`);
  if (typeof name !== 'string' || name.length === 0 || name.length > 249) throw new AuthFileError(`${where}: name must be a non-empty string (or "*")`);
  if (!PATTERNS.includes(pattern as never)) throw new AuthFileError(`${where}: pattern must be one of ${PATTERNS.join(', ')}`);
  if (!Array.isArray(operations) || operations.length === 0) throw new AuthFileError(`${where}: operations must be a non-empty list`);
  for (const op of operations) {
    if (!OPERATIONS.includes(op as never)) throw new AuthFileError(`${where}: unknown operation ${JSON.stringify(op)} (one of ${OPERATIONS.join(', ')})`);
    if (op === 'admin' && resource !== 'cluster') throw new AuthFileError(`${where}: admin applies to the cluster resource only`);
  }
  return { resource: resource as AclEntry['resource'], name, pattern: pattern as AclEntry['pattern'], operations: operations as Operation[] };
}

function parseQuotas(raw: unknown, where: string): Quotas {
  if (raw === undefined) return {};
  if (!isObject(raw)) throw new AuthFileError(`${where}: must be an object`);
  onlyKeys(raw, QUOTA_KEYS, where);
  const quotas: Quotas = {};
  for (const key of QUOTA_KEYS) {
    const value = raw[key];
    if (value === undefined) continue;
    if (value !== null && (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1)) {
      throw new AuthFileError(`${where}.${key}: must be a positive integer or null`);
    }
    quotas[key] = value;
  }
  return quotas;
}

/** Parses the file's JSON text; throws AuthFileError naming the first problem. */
export function parseAuthFile(text: string): AuthPrincipal[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new AuthFileError(`not JSON: ${(err as Error).message}`);
  }
  if (!isObject(parsed) || !Array.isArray(parsed.principals)) throw new AuthFileError('must be an object with a "principals" list');
  onlyKeys(parsed, ['principals'], 'the file');
  const names = new Set<string>();
  const hashes = new Set<string>();
  return parsed.principals.map((raw, i) => {
    const where = `principals[${i}]`;
    if (!isObject(raw)) throw new AuthFileError(`${where}: must be an object`);
    onlyKeys(raw, ['name', 'tokenSha256', 'acls', 'quotas'], where);
    const { name, tokenSha256 = null, acls = [] } = raw;
    if (typeof name !== 'string' || !/^[A-Za-z0-9._@=, -]{1,255}$/.test(name)) throw new AuthFileError(`${where}.name: 1-255 of letters, digits, . _ @ = , - and space`);
    if (names.has(name)) throw new AuthFileError(`${where}: the name ${JSON.stringify(name)} appears twice`);
    names.add(name);
    if (tokenSha256 !== null && (typeof tokenSha256 !== 'string' || !/^[0-9a-fA-F]{64}$/.test(tokenSha256))) {
      throw new AuthFileError(`${where}.tokenSha256: must be 64 hex digits (sluice auth new-token prints it)`);
    }
    const hash = tokenSha256 === null ? null : tokenSha256.toLowerCase();
    if (hash !== null && hashes.has(hash)) throw new AuthFileError(`${where}: the same token hash appears twice`);
    if (hash !== null) hashes.add(hash);
    if (!Array.isArray(acls)) throw new AuthFileError(`${where}.acls: must be a list`);
    return { name, tokenSha256: hash, acls: acls.map((a, j) => parseAcl(a, `${where}.acls[${j}]`)), quotas: parseQuotas(raw.quotas, `${where}.quotas`) };
  });
}

export function readAuthFile(path: string): AuthPrincipal[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new AuthFileError(`cannot read the auth file: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  try {
    return parseAuthFile(text);
  } catch (err) {
    throw new AuthFileError(`auth file ${path}: ${(err as Error).message}`);
  }
}
