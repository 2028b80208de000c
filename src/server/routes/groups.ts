/**
 * Consumer groups: membership (join, heartbeats that release partitions and may be held as long polls,
 * leave), offset commits and fetches with lag, and administration. A member's client id comes from the join
 * body or the `sluice-client-id` header, its host from the connection.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { BrokerError } from '../../common/errors.js';
import { ASSIGNORS, type AssignedPartition, type AssignorName } from '../../groups/assignors.js';
import { validateTopicName } from '../../topics/topic-manager.js';
import type { Services } from './common.js';

const GROUP_ID = /^[a-zA-Z0-9._-]{1,249}$/;

function groupParam(params: unknown): string {
  const group = (params as { group?: unknown }).group;
  if (typeof group !== 'string' || !GROUP_ID.test(group)) {
    throw new BrokerError('INVALID_REQUEST', `invalid group id ${JSON.stringify(group)}: use 1-249 of [a-zA-Z0-9._-]`);
  }
  return group;
}

function memberParam(params: unknown): string {
  const memberId = (params as { memberId?: unknown }).memberId;
  if (typeof memberId !== 'string' || memberId.length === 0 || memberId.length > 64) throw new BrokerError('INVALID_REQUEST', 'invalid member id');
  return memberId;
}

/** The header every sluice/client request carries (also the join body's `clientId`). */
export const CLIENT_ID_HEADER = 'sluice-client-id';
const CLIENT_ID_MAX = 255;
const MAX_HEARTBEAT_WAIT_MS = 30_000;

function clientIdOf(request: FastifyRequest): string | undefined {
  const value = request.headers[CLIENT_ID_HEADER];
  return typeof value === 'string' && value.length > 0 ? value.slice(0, CLIENT_ID_MAX) : undefined;
}

const partitionList = {
  type: 'array',
  maxItems: 10_000,
  items: {
    type: 'object',
    required: ['topic', 'partition'],
    additionalProperties: false,
    properties: { topic: { type: 'string' }, partition: { type: 'integer', minimum: 0 } },
  },
} as const;

const groupParams = { type: 'object', properties: { group: { type: 'string' } } } as const;
const memberParams = { type: 'object', properties: { group: { type: 'string' }, memberId: { type: 'string' } } } as const;

export function groupRoutes(app: FastifyInstance, s: Services): void {
  app.post(
    '/groups/:group/members',
    {
      schema: {
        summary: 'Join a consumer group; the reply carries the member id, generation and what the member owns, must release and will get',
        tags: ['groups'],
        params: groupParams,
        body: {
          type: 'object',
          required: ['topics'],
          additionalProperties: false,
          properties: {
            topics: { type: 'array', items: { type: 'string' }, minItems: 1, maxItems: 1000 },
            sessionTimeoutMs: { type: 'integer' },
            assignor: { type: 'string', enum: ASSIGNORS },
            clientId: { type: 'string', maxLength: CLIENT_ID_MAX },
            owned: partitionList,
          },
        },
      },
    },
    async (request, reply) => {
      const group = groupParam(request.params);
      const body = request.body as { topics: string[]; sessionTimeoutMs?: number; assignor?: AssignorName; clientId?: string; owned?: AssignedPartition[] };
      body.topics.forEach(validateTopicName);
      body.owned?.forEach((p) => validateTopicName(p.topic));
      const view = await s.groups.join(group, { ...body, clientId: body.clientId ?? clientIdOf(request), host: request.ip });
      return reply.code(201).send({ memberId: view.memberId, generation: view.generation, assignments: view.assignments, revoke: view.revoke, pending: view.pending });
    },
  );

  app.post(
    '/groups/:group/members/:memberId/heartbeat',
    {
      // A heartbeat without a body is a plain one (nothing released, no waiting).
      preValidation: (request, _reply, done) => {
        request.body ??= {};
        done();
      },
      schema: {
        summary: 'Keep a membership alive and report released partitions; returns the generation and the member\'s view, at once or held until it changes',
        tags: ['groups'],
        params: memberParams,
        body: {
          type: 'object',
          additionalProperties: false,
          properties: { released: partitionList, maxWaitMs: { type: 'integer', minimum: 0, maximum: MAX_HEARTBEAT_WAIT_MS } },
        },
      },
    },
    async (request) => {
      const body = request.body as { released?: AssignedPartition[]; maxWaitMs?: number };
      body.released?.forEach((p) => validateTopicName(p.topic));
      const view = await s.groups.heartbeat(groupParam(request.params), memberParam(request.params), body);
      return { generation: view.generation, assignments: view.assignments, revoke: view.revoke, pending: view.pending };
    },
  );

  app.delete(
    '/groups/:group/members/:memberId',
    { schema: { summary: 'Leave the group (its partitions are reassigned at once)', tags: ['groups'], params: memberParams } },
    async (request, reply) => {
      await s.groups.leave(groupParam(request.params), memberParam(request.params));
      return reply.code(204).send();
    },
  );

  app.post(
    '/groups/:group/offsets',
    {
      schema: {
        summary: 'Commit offsets (as a member of the current generation, or for a group without live members)',
        tags: ['groups'],
        params: groupParams,
        body: {
          type: 'object',
          required: ['offsets'],
          additionalProperties: false,
          properties: {
            memberId: { type: 'string' },
            generation: { type: 'integer' },
            offsets: {
              type: 'array',
              minItems: 1,
              maxItems: 10_000,
              items: {
                type: 'object',
                required: ['topic', 'partition', 'offset'],
                additionalProperties: false,
                properties: { topic: { type: 'string' }, partition: { type: 'integer', minimum: 0 }, offset: { type: 'integer', minimum: 0 }, metadata: { type: 'string' } },
              },
            },
          },
        },
      },
    },
    async (request) => {
      const group = groupParam(request.params);
      const body = request.body as { memberId?: string; generation?: number; offsets: { topic: string; partition: number; offset: number; metadata?: string }[] };
      if ((body.memberId === undefined) !== (body.generation === undefined)) {
        throw new BrokerError('INVALID_REQUEST', 'memberId and generation go together');
      }
      body.offsets.forEach((o) => validateTopicName(o.topic));
      await s.groups.commit(group, body);
      return { offsets: body.offsets.map((o) => ({ topic: o.topic, partition: o.partition, offset: o.offset })) };
    },
  );

  app.get('/groups/:group/offsets', { schema: { summary: 'Committed offsets with high watermark and lag', tags: ['groups'], params: groupParams } }, async (request) => ({
    offsets: s.groups.offsets(groupParam(request.params)),
  }));

  app.get('/groups', { schema: { summary: 'List consumer groups', tags: ['groups'] } }, async () => ({ groups: s.groups.list() }));

  app.get('/groups/:group', { schema: { summary: 'Describe a group: state, generation, members and assignments', tags: ['groups'], params: groupParams } }, async (request) =>
    s.groups.describe(groupParam(request.params)),
  );

  app.post(
    '/groups/:group/offsets/reset',
    {
      schema: {
        summary: 'Reset a topic\'s offsets of an empty group to earliest, latest, an offset or a timestamp',
        tags: ['groups'],
        params: groupParams,
        body: {
          type: 'object',
          required: ['topic', 'to'],
          additionalProperties: false,
          properties: {
            topic: { type: 'string' },
            to: {
              oneOf: [
                { type: 'string', enum: ['earliest', 'latest'] },
                { type: 'object', required: ['offset'], additionalProperties: false, properties: { offset: { type: 'integer', minimum: 0 } } },
                { type: 'object', required: ['timestamp'], additionalProperties: false, properties: { timestamp: { type: 'integer', minimum: 0 } } },
              ],
            },
          },
        },
      },
    },
    async (request) => {
      const group = groupParam(request.params);
      const body = request.body as { topic: string; to: 'earliest' | 'latest' | { offset: number } | { timestamp: number } };
      const topic = validateTopicName(body.topic);
      const to = body.to;
      const offsets = await s.groups.resetOffsets(group, topic, async (partition) => {
        if (to === 'earliest' || to === 'latest') return (await s.replicas.listOffset(topic, partition, to)).offset;
        if ('timestamp' in to) return (await s.replicas.listOffset(topic, partition, to.timestamp)).offset;
        const p = s.topics.partition(topic, partition);
        return Math.min(Math.max(to.offset, p.logStartOffset), p.highWatermark);
      });
      return { offsets };
    },
  );

  app.delete('/groups/:group', { schema: { summary: 'Delete an empty group and its offsets', tags: ['groups'], params: groupParams } }, async (request, reply) => {
    await s.groups.deleteGroup(groupParam(request.params));
    return reply.code(204).send();
  });
}
