/**
 * Authorization as a pure function: a principal's ACL entries against (resource, name, operation).
 * Deny by default: only an entry that matches the resource type, the name (literal, prefix, or `*`) and the
 * operation allows. Implied operations, as in Kafka: any of read, write, create, delete, alter on a resource
 * also allows describe of it; create on `cluster` allows creating any topic; admin on `cluster` allows
 * everything.
 */
export const RESOURCES = ['topic', 'group', 'cluster'] as const;
export type Resource = (typeof RESOURCES)[number];

export const OPERATIONS = ['read', 'write', 'create', 'delete', 'alter', 'describe', 'admin'] as const;
export type Operation = (typeof OPERATIONS)[number];

export const PATTERNS = ['literal', 'prefix'] as const;
export type Pattern = (typeof PATTERNS)[number];

export interface AclEntry {
  resource: Resource;
  /** a name, a prefix (pattern `prefix`), or `*` for every name */
  name: string;
  pattern: Pattern;
  operations: readonly Operation[];
}

export interface Quotas {
  /** null: no limit; undefined: the broker's default (--quota-*) */
  produceBytesPerSec?: number | null;
  fetchBytesPerSec?: number | null;
  requestsPerSec?: number | null;
}

export interface Principal {
  name: string;
  acls: readonly AclEntry[];
  quotas: Quotas;
}

/** The one resource name of `cluster` (Kafka's "kafka-cluster"). */
export const CLUSTER_NAME = 'sluice';

/** What an operation on a resource needs: the resource, its name, the operation. */
export interface AccessCheck {
  resource: Resource;
  name: string;
  operation: Operation;
  /** allowed when the operation is allowed on any resource of this type (e.g. write to some topic) */
  anyName?: boolean;
}

const IMPLIES_DESCRIBE: ReadonlySet<Operation> = new Set(['read', 'write', 'create', 'delete', 'alter', 'describe']);

function nameMatches(entry: AclEntry, name: string): boolean {
  if (entry.name === '*') return true;
  return entry.pattern === 'prefix' ? name.startsWith(entry.name) : name === entry.name;
}

function entryAllows(entry: AclEntry, operation: Operation): boolean {
  if (entry.operations.includes(operation)) return true;
  return operation === 'describe' && entry.operations.some((op) => IMPLIES_DESCRIBE.has(op));
}

export function isClusterAdmin(principal: Principal): boolean {
  return principal.acls.some((e) => e.resource === 'cluster' && e.operations.includes('admin'));
}

/** Whether `principal` may do `operation` on the resource `resource`/`name`. */
export function authorize(principal: Principal, resource: Resource, name: string, operation: Operation): boolean {
  if (isClusterAdmin(principal)) return true;
  for (const entry of principal.acls) {
    if (entry.resource === resource && nameMatches(entry, name) && entryAllows(entry, operation)) return true;
    if (resource === 'topic' && operation === 'create' && entry.resource === 'cluster' && entry.operations.includes('create')) return true;
  }
  return false;
}

/** Whether `principal` may do `operation` on at least one resource of this type (e.g. write to some topic). */
export function authorizeAny(principal: Principal, resource: Resource, operation: Operation): boolean {
  if (isClusterAdmin(principal)) return true;
  return principal.acls.some((entry) => entry.resource === resource && entryAllows(entry, operation));
}
