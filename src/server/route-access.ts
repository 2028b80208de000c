/**
 * The one table of who may call what: for each route (method and URL pattern as registered), the ACL checks
 * it needs, whether they read the body, the audited action, and the filter of a listing. The security hooks
 * (security-hooks.ts) apply it to every request; a route missing from this table is refused to everyone but
 * a cluster admin, and test/server/route-access.test.ts fails for it. HEAD routes use their GET's entry.
 */
import { CLUSTER_NAME, type AccessCheck, type Operation } from '../security/acl.js';

export interface AccessRequest {
  params: Record<string, string>;
  body: unknown;
}

export interface AccessRule {
  /** no authentication at all (health checks) */
  public?: true;
  /** the checks; none: any authenticated principal */
  checks?: (r: AccessRequest) => AccessCheck[];
  /** the checks read the body, so they run once it is parsed (preHandler) */
  body?: true;
  /** an audited action (create, delete, alter, reset): one audit line per call */
  audit?: string;
  /** the request body counts against the produce-bytes quota */
  produce?: true;
  /** the reply counts against the fetch-bytes quota */
  fetch?: true;
  /** keeps only what the principal may describe in a listing's reply */
  filter?: (payload: unknown, may: (check: AccessCheck) => boolean) => unknown;
}

const topic = (name: string | undefined, operation: Operation): AccessCheck => ({ resource: 'topic', name: name ?? '', operation });
const group = (name: string | undefined, operation: Operation): AccessCheck => ({ resource: 'group', name: name ?? '', operation });
const cluster = (operation: Operation): AccessCheck => ({ resource: 'cluster', name: CLUSTER_NAME, operation });

/** The distinct topic names of a list of objects with a `topic` (for body checks). */
function topicsOf(list: unknown, operation: Operation): AccessCheck[] {
  if (!Array.isArray(list)) return [];
  const names = new Set<string>();
  for (const item of list) {
    const name = typeof item === 'string' ? item : (item as { topic?: unknown } | null)?.topic;
    if (typeof name === 'string') names.add(name);
  }
  return [...names].map((name) => topic(name, operation));
}

const bodyOf = (r: AccessRequest) => (r.body ?? {}) as Record<string, unknown>;

export const ROUTE_ACCESS: Readonly<Record<string, AccessRule>> = {
  'GET /health': { public: true },
  'GET /openapi.json': {},
  'GET /cluster': { checks: () => [cluster('describe')] },
  'GET /metrics': { checks: () => [cluster('describe')] },
  // Followers copying the leader's log: brokers only (the inter-broker token's principal is a cluster admin).
  'POST /internal/replica/fetch': { checks: () => [cluster('admin')] },
  'POST /internal/replica/epoch-end-offsets': { checks: () => [cluster('admin')] },
  'POST /admin/retention/run': { checks: () => [cluster('alter')], audit: 'retention.run' },

  'POST /topics': { body: true, checks: (r) => [topic(String(bodyOf(r).name ?? ''), 'create')], audit: 'topic.create' },
  'GET /topics': {
    filter: (payload, may) => {
      const p = payload as { topics: { name: string }[] };
      return { ...p, topics: p.topics.filter((t) => may(topic(t.name, 'describe'))) };
    },
  },
  'GET /topics/:topic': { checks: (r) => [topic(r.params.topic, 'describe')] },
  'PATCH /topics/:topic/config': { checks: (r) => [topic(r.params.topic, 'alter')], audit: 'topic.alterConfig' },
  'DELETE /topics/:topic/config/:key': { checks: (r) => [topic(r.params.topic, 'alter')], audit: 'topic.resetConfig' },
  'DELETE /topics/:topic': { checks: (r) => [topic(r.params.topic, 'delete')], audit: 'topic.delete' },

  'POST /topics/:topic/records': { checks: (r) => [topic(r.params.topic, 'write')], produce: true },
  'POST /topics/:topic/partitions/:partition/batches': { checks: (r) => [topic(r.params.topic, 'write')], produce: true },
  'POST /producers': { checks: () => [{ resource: 'topic', name: '*', operation: 'write', anyName: true }] },
  'GET /topics/:topic/partitions/:partition/records': { checks: (r) => [topic(r.params.topic, 'read')], fetch: true },
  'GET /topics/:topic/partitions/:partition/offsets': { checks: (r) => [topic(r.params.topic, 'describe')] },
  'POST /fetch': { body: true, checks: (r) => topicsOf(bodyOf(r).partitions, 'read'), fetch: true },

  'POST /groups/:group/members': { body: true, checks: (r) => [group(r.params.group, 'read'), ...topicsOf(bodyOf(r).topics, 'describe')] },
  'POST /groups/:group/members/:memberId/heartbeat': { checks: (r) => [group(r.params.group, 'read')] },
  'DELETE /groups/:group/members/:memberId': { checks: (r) => [group(r.params.group, 'read')] },
  'POST /groups/:group/offsets': { body: true, checks: (r) => [group(r.params.group, 'read'), ...topicsOf(bodyOf(r).offsets, 'read')] },
  'GET /groups/:group/offsets': {
    checks: (r) => [group(r.params.group, 'describe')],
    filter: (payload, may) => {
      const p = payload as { offsets: { topic: string }[] };
      return { ...p, offsets: p.offsets.filter((o) => may(topic(o.topic, 'describe'))) };
    },
  },
  'GET /groups': {
    filter: (payload, may) => {
      const p = payload as { groups: { group: string }[] };
      return { ...p, groups: p.groups.filter((g) => may(group(g.group, 'describe'))) };
    },
  },
  'GET /groups/:group': { checks: (r) => [group(r.params.group, 'describe')] },
  'POST /groups/:group/offsets/reset': {
    body: true,
    checks: (r) => [group(r.params.group, 'alter'), topic(String(bodyOf(r).topic ?? ''), 'describe')],
    audit: 'group.resetOffsets',
  },
  'DELETE /groups/:group': { checks: (r) => [group(r.params.group, 'delete')], audit: 'group.delete' },

  // Share groups are groups (contract): receiving and acking is reading, configuring is altering; a dead-letter
  // topic named in the config is written by the broker for the group, so setting it needs write on it.
  'PUT /share-groups/:group': {
    body: true,
    checks: (r) => {
      const dlt = bodyOf(r).deadLetterTopic;
      return [group(r.params.group, 'alter'), ...(typeof dlt === 'string' ? [topic(dlt, 'write')] : [])];
    },
    audit: 'shareGroup.configure',
  },
  'POST /share-groups/:group/receive': { body: true, checks: (r) => [group(r.params.group, 'read'), ...topicsOf(bodyOf(r).topics, 'read')] },
  'POST /share-groups/:group/acks': { checks: (r) => [group(r.params.group, 'read')] },
  'POST /share-groups/:group/visibility': { checks: (r) => [group(r.params.group, 'read')] },
  'GET /share-groups': {
    filter: (payload, may) => {
      const p = payload as { groups: { group: string }[] };
      return { ...p, groups: p.groups.filter((g) => may(group(g.group, 'describe'))) };
    },
  },
  'GET /share-groups/:group': { checks: (r) => [group(r.params.group, 'describe')] },
  'DELETE /share-groups/:group': { checks: (r) => [group(r.params.group, 'delete')], audit: 'shareGroup.delete' },
};

/** The table's entry for a registered route (HEAD uses GET's). */
export function accessRuleOf(method: string, url: string): AccessRule | undefined {
  return ROUTE_ACCESS[`${method === 'HEAD' ? 'GET' : method} ${url}`];
}
