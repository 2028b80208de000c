/** Topic administration: create, list, describe, alter and reset config, delete. */
import type { FastifyInstance } from 'fastify';
import { INTERNAL_TOPIC_PREFIX } from '../../common/topic-names.js';
import { topicParam, type Services } from './common.js';

const topicParams = { type: 'object', properties: { topic: { type: 'string' } }, required: ['topic'] } as const;

export function topicRoutes(app: FastifyInstance, s: Services): void {
  app.post(
    '/topics',
    {
      schema: {
        summary: 'Create a topic',
        tags: ['topics'],
        body: {
          type: 'object',
          required: ['name'],
          additionalProperties: false,
          properties: {
            name: { type: 'string' },
            partitions: { type: 'integer' },
            replicationFactor: { type: 'integer' },
            config: { type: 'object' },
          },
        },
      },
    },
    async (request, reply) => {
      const body = request.body as { name: string; partitions?: number; replicationFactor?: number; config?: unknown };
      const description = await s.topics.create(body);
      return reply.code(201).send(description);
    },
  );

  app.get(
    '/topics',
    {
      schema: {
        summary: 'List topics (the broker\'s internal ones, such as __consumer_offsets, with ?internal=true)',
        tags: ['topics'],
        querystring: { type: 'object', properties: { internal: { type: 'string', enum: ['true', 'false'] } } },
      },
    },
    async (request) => {
      const internal = (request.query as { internal?: string }).internal === 'true';
      return {
        topics: s.topics
          .list()
          .filter((t) => internal || !t.name.startsWith(INTERNAL_TOPIC_PREFIX))
          .map((t) => ({ name: t.name, partitions: t.partitions, replicationFactor: t.replicationFactor })),
      };
    },
  );

  app.get('/topics/:topic', { schema: { summary: 'Describe a topic: effective config and partitions', tags: ['topics'], params: topicParams } }, async (request) =>
    s.topics.describe(topicParam(request.params)),
  );

  app.patch(
    '/topics/:topic/config',
    {
      schema: {
        summary: 'Change topic config keys (null: unlimited, for the keys that allow it); returns the effective config',
        tags: ['topics'],
        params: topicParams,
        body: { type: 'object' },
      },
    },
    async (request) => s.topics.alterConfig(topicParam(request.params), request.body),
  );

  app.delete(
    '/topics/:topic/config/:key',
    {
      schema: {
        summary: 'Reset one topic config key to the broker default; returns the effective config',
        tags: ['topics'],
        params: { type: 'object', properties: { topic: { type: 'string' }, key: { type: 'string' } }, required: ['topic', 'key'] },
      },
    },
    async (request) => s.topics.resetConfig(topicParam(request.params), (request.params as { key: string }).key),
  );

  app.delete('/topics/:topic', { schema: { summary: 'Delete a topic and its data', tags: ['topics'], params: topicParams } }, async (request, reply) => {
    const name = topicParam(request.params);
    await s.topics.delete(name);
    await s.groups.forgetTopic(name);
    return reply.code(204).send();
  });
}
