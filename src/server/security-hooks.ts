/**
 * Applies src/security to every HTTP request, in one place: authentication (bearer token or client
 * certificate), the route's ACL checks from route-access.ts, quotas (requests, produce bytes, fetch bytes),
 * the bound on concurrent long polls per client, listing filters, and the audit log. Hook order:
 * - onRequest: identify the principal (401), charge a request, refuse a client in fetch debt, run the checks
 *   that need only the URL (403): nothing of the body is read for a refused request;
 * - preHandler: the checks that read the body, the produce-bytes quota, the long-poll bound;
 * - preSerialization: a listing keeps what the principal may describe;
 * - onSend: the reply's bytes are charged to the fetch quota; onResponse: the audit line.
 * SIGHUP (`reload`) rereads the auth file and the TLS files; a broken file keeps the old state.
 */
import type { FastifyBaseLogger, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Server as TlsServer, TLSSocket } from 'node:tls';
import { BrokerError } from '../common/errors.js';
import type { AccessCheck, Principal } from '../security/acl.js';
import { Authenticator } from '../security/authenticator.js';
import { QuotaManager, type QuotaKind, type QuotaLimits } from '../security/quotas.js';
import { bearerToken } from '../security/tokens.js';
import type { BrokerConfig } from './broker-config.js';
import { sendError } from './errors.js';
import { requestedWaitMs } from './metrics.js';
import { accessRuleOf, type AccessRequest, type AccessRule } from './route-access.js';
import { readSecureContext, tlsEnabled } from './tls.js';

declare module 'fastify' {
  interface FastifyInstance {
    security: BrokerSecurity;
  }
}

export interface BrokerSecurity {
  authenticator: Authenticator;
  quotas: QuotaManager;
  /** routes registered without an entry in ROUTE_ACCESS (refused to all but cluster admins) */
  unlistedRoutes: string[];
  /** every registered route as `METHOD url` */
  routes: string[];
  /** rereads the auth file and the TLS files; reports what failed */
  reload(): { authFile: string; tls: string };
}

interface RequestState {
  principal: Principal;
  client: string;
  rule: AccessRule | undefined;
  checks: AccessCheck[];
}

const state = new WeakMap<FastifyRequest, RequestState>();

export function quotaLimitsOf(config: BrokerConfig): QuotaLimits {
  return { produceBytesPerSec: config.quotaProduceBytesPerSec, fetchBytesPerSec: config.quotaFetchBytesPerSec, requestsPerSec: config.quotaRequestsPerSec };
}

const throttled = (kind: string, ms: number) =>
  new BrokerError('THROTTLED', `over the ${kind} quota: retry in ${ms} ms`, { details: { quota: kind, throttleMs: ms } });

function sendThrottled(reply: FastifyReply, err: BrokerError): FastifyReply {
  const ms = Number(err.details?.throttleMs ?? 1000);
  reply.header('retry-after', String(Math.max(1, Math.ceil(ms / 1000)))).header('sluice-throttle-ms', String(ms));
  return sendError(reply, err);
}

export function registerSecurity(app: FastifyInstance, config: BrokerConfig, logger: FastifyBaseLogger, now: () => number): BrokerSecurity {
  const authenticator = new Authenticator(config.authFile);
  if (authenticator.enabled && config.interBrokerToken !== null) {
    const peer = authenticator.authenticate(config.interBrokerToken);
    if (!peer || !authenticator.authorize(peer, { resource: 'cluster', name: 'sluice', operation: 'admin' })) {
      throw new Error('interBrokerToken must be the token of a principal of the auth file with admin on cluster');
    }
  }
  const quotas = new QuotaManager(quotaLimitsOf(config), now);
  const audit = logger.child({ audit: true });
  const longPolls = new Map<string, number>();
  const routes: string[] = [];
  const unlistedRoutes: string[] = [];

  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) {
      const key = `${method} ${route.url}`;
      routes.push(key);
      if (!accessRuleOf(method, route.url)) unlistedRoutes.push(key);
    }
  });

  const writeAudit = (request: FastifyRequest, s: RequestState | undefined, result: string, status: number) => {
    const rule = s?.rule;
    const action = rule?.audit ?? `${request.method} ${request.routeOptions.url ?? request.url.split('?')[0]}`;
    audit.info({ audit: true, principal: s?.principal.name ?? null, action, resource: s?.checks.map((c) => `${c.resource}:${c.name}`) ?? [], result, status, clientAddress: request.ip }, 'audit');
  };

  const identify = (request: FastifyRequest): Principal | null => {
    const token = bearerToken(request.headers.authorization);
    if (token !== null) return authenticator.authenticate(token);
    const socket = request.raw.socket as TLSSocket;
    if (socket.authorized === true && typeof socket.getPeerCertificate === 'function') {
      const cn = socket.getPeerCertificate().subject?.CN;
      if (typeof cn === 'string') return authenticator.byCertificate(cn);
    }
    return authenticator.enabled ? null : authenticator.authenticate('');
  };

  const delayed = (s: RequestState, kind: QuotaKind) => quotas.delayMs(s.client, kind, s.principal.quotas);

  /** Runs the checks; returns the error to send or null. */
  const check = (request: FastifyRequest, s: RequestState): BrokerError | null => {
    if (!s.rule) {
      if (request.routeOptions.url === undefined) return null; // no such route: the 404 handler answers
      const admin = authenticator.authorize(s.principal, { resource: 'cluster', name: 'sluice', operation: 'admin' });
      return admin ? null : new BrokerError('NOT_AUTHORIZED', 'this route has no access rule: only a cluster admin may call it', { details: { resource: 'cluster', name: 'sluice', operation: 'admin' } });
    }
    const checks = s.rule.checks?.({ params: (request.params ?? {}) as AccessRequest['params'], body: request.body }) ?? [];
    s.checks = checks;
    for (const c of checks) {
      if (!authenticator.authorize(s.principal, c)) {
        return new BrokerError('NOT_AUTHORIZED', `${s.principal.name} may not ${c.operation} ${c.anyName ? `any ${c.resource}` : `${c.resource} ${c.name}`}`, { details: { resource: c.resource, name: c.name, operation: c.operation } });
      }
    }
    return null;
  };

  app.addHook('onRequest', (request, reply, done) => {
    const url = request.routeOptions.url;
    const rule = url === undefined ? undefined : accessRuleOf(request.method, url);
    if (rule?.public) return done();
    const principal = identify(request);
    if (principal === null) {
      writeAudit(request, undefined, 'unauthenticated', 401);
      reply.header('www-authenticate', 'Bearer realm="sluice"');
      return void sendError(reply, new BrokerError('UNAUTHENTICATED', 'send Authorization: Bearer TOKEN (a token of the broker\'s auth file)'));
    }
    const s: RequestState = { principal, client: authenticator.enabled ? `p:${principal.name}` : `a:${request.ip}`, rule, checks: [] };
    state.set(request, s);
    const requestDelay = delayed(s, 'requestsPerSec');
    if (requestDelay > 0) return void sendThrottled(reply, throttled('requestsPerSec', requestDelay));
    quotas.charge(s.client, 'requestsPerSec', 1, principal.quotas);
    if (rule?.fetch) {
      const fetchDelay = delayed(s, 'fetchBytesPerSec');
      if (fetchDelay > 0) return void sendThrottled(reply, throttled('fetchBytesPerSec', fetchDelay));
    }
    if (rule?.body) return done();
    const denied = check(request, s);
    if (denied) {
      writeAudit(request, s, 'denied', 403);
      return void sendError(reply, denied);
    }
    done();
  });

  app.addHook('preHandler', (request, reply, done) => {
    const s = state.get(request);
    if (!s) return done();
    if (s.rule?.body) {
      const denied = check(request, s);
      if (denied) {
        writeAudit(request, s, 'denied', 403);
        return void sendError(reply, denied);
      }
    }
    if (s.rule?.produce) {
      const delay = delayed(s, 'produceBytesPerSec');
      if (delay > 0) return void sendThrottled(reply, throttled('produceBytesPerSec', delay));
      const length = Number(request.headers['content-length']);
      const bytes = Number.isFinite(length) ? length : Buffer.isBuffer(request.body) ? request.body.length : JSON.stringify(request.body ?? null).length;
      quotas.charge(s.client, 'produceBytesPerSec', bytes, s.principal.quotas);
    }
    if (requestedWaitMs(request.query, request.body) > 0) {
      // Per principal and address: the consumers of one application on many hosts share a principal.
      const key = `${s.client}|${request.ip}`;
      const open = longPolls.get(key) ?? 0;
      if (open >= config.maxLongPollsPerClient) {
        return void sendThrottled(reply, new BrokerError('THROTTLED', `${open} requests of this client are already waiting for data (maxLongPollsPerClient)`, { details: { quota: 'maxLongPollsPerClient', throttleMs: 1000 } }));
      }
      longPolls.set(key, open + 1);
      reply.raw.once('close', () => {
        const left = (longPolls.get(key) ?? 1) - 1;
        if (left <= 0) longPolls.delete(key);
        else longPolls.set(key, left);
      });
    }
    done();
  });

  app.addHook('preSerialization', (request, reply, payload, done) => {
    const s = state.get(request);
    const filter = s?.rule?.filter;
    if (!s || !filter || reply.statusCode !== 200 || payload === null || typeof payload !== 'object' || !authenticator.enabled) return done(null, payload);
    done(null, filter(payload, (c) => authenticator.authorize(s.principal, c)));
  });

  app.addHook('onSend', (request, reply, payload, done) => {
    const s = state.get(request);
    if (s?.rule?.fetch && reply.statusCode === 200) {
      const bytes = typeof payload === 'string' ? Buffer.byteLength(payload) : Buffer.isBuffer(payload) ? payload.length : 0;
      quotas.charge(s.client, 'fetchBytesPerSec', bytes, s.principal.quotas);
    }
    done(null, payload);
  });

  app.addHook('onResponse', (request, reply, done) => {
    const s = state.get(request);
    if (s?.rule?.audit && reply.statusCode !== 403 && reply.statusCode !== 429) writeAudit(request, s, reply.statusCode < 400 ? 'ok' : 'failed', reply.statusCode);
    done();
  });

  const reload = () => {
    let authFile = 'unchanged';
    let tls = 'unchanged';
    try {
      if (authenticator.enabled) authFile = `reloaded: ${authenticator.reload().principals} principals`;
    } catch (err) {
      authFile = `kept the previous principals: ${(err as Error).message}`;
    }
    try {
      if (tlsEnabled(config)) {
        (app.server as unknown as TlsServer).setSecureContext(readSecureContext(config));
        tls = 'reloaded';
      }
    } catch (err) {
      tls = `kept the previous certificate: ${(err as Error).message}`;
    }
    return { authFile, tls };
  };

  return { authenticator, quotas, routes, unlistedRoutes, reload };
}
