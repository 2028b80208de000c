/**
 * The fastify application: content types, limits, error mapping, request logging, metrics, OpenAPI, and the
 * routes. Built from already-started services; knows nothing about start-up or shutdown order.
 */
import fastifySwagger from '@fastify/swagger';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { BrokerError } from '../common/errors.js';
import { VERSION } from './version.js';
import { ERROR_TABLE, errorCodeOf, errorHandler, sendError } from './errors.js';
import { registerBodyParsers } from './body-parsers.js';
import { clientErrorHandler } from './client-errors.js';
import { requestedWaitMs } from './metrics.js';
import { completeOpenApi } from './openapi.js';
import type { Services } from './routes/common.js';
import { fetchRoutes } from './routes/fetch.js';
import { groupRoutes } from './routes/groups.js';
import { multiFetchRoutes } from './routes/multi-fetch.js';
import { opsRoutes } from './routes/ops.js';
import { produceRoutes } from './routes/produce.js';
import { topicRoutes } from './routes/topics.js';
import { replicaRoutes } from './routes/replica.js';
import { registerSecurity } from './security-hooks.js';
import { listenerOptions } from './tls.js';
import { shareGroupRoutes } from './routes/share-groups.js';
import { registerClusterRouting } from './cluster-routing.js';

export async function buildApp(services: Services, logger: Logger): Promise<FastifyInstance> {
  const { config } = services;
  const app = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: config.maxRequestBytes,
    // Node's defaults (60 s for headers, none at all under fastify for the whole request) let slow-loris
    // clients hold sockets for minutes. The request timeout counts only until the request has arrived, so a
    // long-polling fetch that waits up to maxFetchWaitMs for data is not cut by it. Expiry is checked every
    // second (Node: every 30 s).
    // HTTPS instead when tlsCert/tlsKey are set (tls.ts).
    ...listenerOptions(config, { maxHeaderSize: config.maxHeaderBytes, headersTimeout: config.requestHeadersTimeoutMs, requestTimeout: config.requestTimeoutMs, connectionsCheckingInterval: 1_000 }),
    requestTimeout: config.requestTimeoutMs,
    clientErrorHandler: clientErrorHandler(config, logger as FastifyBaseLogger),
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, useDefaults: false, allErrors: false } },
    // Requests arriving during a graceful shutdown get the contract's error body (onRequest hook below).
    return503OnClosing: false,
    // Topic names may be 249 characters long; fastify's default limit for a path parameter is 100.
    routerOptions: { maxParamLength: 512 },
    // Errors fastify raises before routing (a malformed URL, a bad header) get the contract's body too.
    frameworkErrors: (error, _request, reply) => {
      void sendError(reply, new BrokerError('INVALID_REQUEST', error.message));
    },
    forceCloseConnections: 'idle',
  });

  registerBodyParsers(app, config.maxRequestBytes);
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler((request, reply) =>
    sendError(reply, new BrokerError('NOT_FOUND', `no route ${request.method} ${request.url.split('?')[0]}`)),
  );

  app.addHook('onRequest', (_request, reply, done) => {
    if (!services.lifecycle.closing) return done();
    reply.header('connection', 'close');
    void sendError(reply, new BrokerError('BROKER_NOT_AVAILABLE', 'the broker is shutting down'));
  });

  // During a graceful shutdown, a reply to an in-flight request also ends its keep-alive connection, so the
  // server can close once the last reply is out.
  app.addHook('onSend', (_request, reply, payload, done) => {
    if (services.lifecycle.closing) reply.header('connection', 'close');
    done(null, payload);
  });

  app.addHook('onResponse', (request, reply, done) => {
    const route = request.routeOptions.url ?? 'unknown';
    const { metrics } = services;
    metrics.requests.inc({ route, method: request.method, status: String(reply.statusCode) });
    const code = errorCodeOf(reply);
    if (code) metrics.errors.inc({ code, route });
    const histogram = requestedWaitMs(request.query, request.body) > 0 ? metrics.longPolls : metrics.latency;
    histogram.observe({ route, method: request.method }, reply.elapsedTime / 1000);
    const clientId = request.headers['sluice-client-id'];
    request.log.debug({ method: request.method, url: request.url, status: reply.statusCode, ms: reply.elapsedTime, ...(clientId ? { clientId } : {}) }, 'request');
    done();
  });

  // Authentication, ACLs, quotas, audit (before the routes: it sees each one registered).
  app.decorate('security', registerSecurity(app, config, logger as FastifyBaseLogger, () => services.clock.now()));

  await app.register(fastifySwagger, {
    openapi: {
      info: {
        title: 'sluice HTTP API',
        version: VERSION,
        description: `Produce, fetch and administer a sluice broker. Errors: ${ERROR_TABLE.map((e) => e.code).join(', ')}.`,
      },
    },
    transformObject: completeOpenApi, // every status and body of every route (openapi.ts)
  });

  if (services.cluster) registerClusterRouting(app, services.cluster);
  topicRoutes(app, services);
  produceRoutes(app, services);
  fetchRoutes(app, services);
  multiFetchRoutes(app, services);
  groupRoutes(app, services);
  shareGroupRoutes(app, services);
  opsRoutes(app, services);
  replicaRoutes(app, services);
  await app.ready();
  return app;
}
