/**
 * CreateTopics, DeleteTopics and DescribeConfigs over the topic manager (the same one POST/DELETE /topics and
 * GET /topics/:topic use). Replica assignments chosen by the client are not supported (the broker places
 * replicas); numPartitions / replicationFactor -1 take the defaults. Deleting a topic also forgets the
 * groups' offsets of it, as the HTTP delete does.
 */
import { CreateTopics, DeleteTopics, DescribeConfigs } from '../generated/index.js';
import { BrokerError } from '../../common/errors.js';
import { expected, KafkaErrors } from '../errors.js';
import { KAFKA_TOPIC_CONFIGS, kafkaValueOf, overridesFromKafka } from '../topic-configs.js';
import type { KafkaServices } from '../services.js';

const TOPIC_RESOURCE = 2;
const BROKER_RESOURCE = 4;
/** configSource: 1 dynamic topic config, 5 static broker config (the broker's default for topics) */
const TOPIC_CONFIG_SOURCE = 1;
const DEFAULT_CONFIG_SOURCE = 5;
const CONFIG_TYPES = { string: 2, int: 3, long: 5 } as const;

export function createTopicsHandler(s: KafkaServices) {
  return async (_ctx: unknown, _version: number, request: CreateTopics.CreateTopicsRequest): Promise<CreateTopics.CreateTopicsResponse> => {
    const topics: CreateTopics.CreatableTopicResult[] = [];
    for (const t of request.topics) {
      const result: CreateTopics.CreatableTopicResult = {
        name: t.name,
        topicId: Buffer.alloc(16),
        errorCode: KafkaErrors.NONE,
        errorMessage: null,
        numPartitions: -1,
        replicationFactor: -1,
        configs: [],
      };
      try {
        if (t.assignments.length > 0) throw new BrokerError('INVALID_REQUEST', 'manual replica assignments are not supported: the broker places replicas');
        const config = overridesFromKafka(t.configs);
        const create = {
          name: t.name,
          ...(t.numPartitions === -1 ? {} : { partitions: t.numPartitions }),
          ...(t.replicationFactor === -1 ? {} : { replicationFactor: t.replicationFactor }),
          config,
        };
        if (request.validateOnly) {
          if (s.topics.list().some((x) => x.name === t.name)) throw new BrokerError('TOPIC_ALREADY_EXISTS', `topic ${t.name} exists already`);
        } else {
          const created = await s.topics.create(create);
          result.numPartitions = created.partitions.length;
          result.replicationFactor = created.partitions[0]?.replicas.length ?? 1;
        }
      } catch (err) {
        Object.assign(result, errorOf(err));
      }
      topics.push(result);
    }
    return { throttleTimeMs: 0, topics };
  };
}

export function deleteTopicsHandler(s: KafkaServices) {
  return async (_ctx: unknown, _version: number, request: DeleteTopics.DeleteTopicsRequest): Promise<DeleteTopics.DeleteTopicsResponse> => {
    const responses: DeleteTopics.DeletableTopicResult[] = [];
    for (const name of request.topicNames) {
      try {
        await s.topics.delete(name);
        await s.groups.forgetTopic(name);
        responses.push({ name, errorCode: KafkaErrors.NONE, errorMessage: null });
      } catch (err) {
        responses.push({ name, ...errorOf(err) });
      }
    }
    return { throttleTimeMs: 0, responses };
  };
}

export function describeConfigsHandler(s: KafkaServices) {
  return async (_ctx: unknown, _version: number, request: DescribeConfigs.DescribeConfigsRequest): Promise<DescribeConfigs.DescribeConfigsResponse> => ({
    throttleTimeMs: 0,
    results: request.resources.map((resource) => {
      const result: DescribeConfigs.DescribeConfigsResult = {
        errorCode: KafkaErrors.NONE,
        errorMessage: null,
        resourceType: resource.resourceType,
        resourceName: resource.resourceName,
        configs: [],
      };
      try {
        if (resource.resourceType === BROKER_RESOURCE) return result;
        if (resource.resourceType !== TOPIC_RESOURCE) throw new BrokerError('INVALID_REQUEST', `resource type ${resource.resourceType} is not supported (2: topic, 4: broker)`);
        const meta = s.topics.topic(resource.resourceName);
        const config = s.topics.configOf(meta);
        const keys = resource.configurationKeys === null ? null : new Set(resource.configurationKeys);
        result.configs = KAFKA_TOPIC_CONFIGS.filter((c) => keys === null || keys.has(c.kafka)).map((c) => {
          const overridden = Object.prototype.hasOwnProperty.call(meta.config, c.key);
          return {
            name: c.kafka,
            value: kafkaValueOf(config, c.key),
            readOnly: false,
            isDefault: !overridden,
            configSource: overridden ? TOPIC_CONFIG_SOURCE : DEFAULT_CONFIG_SOURCE,
            isSensitive: false,
            synonyms: [],
            configType: CONFIG_TYPES[c.type],
            documentation: request.includeDocumentation ? c.doc : null,
          };
        });
      } catch (err) {
        Object.assign(result, errorOf(err));
      }
      return result;
    }),
  });
}

function errorOf(err: unknown): { errorCode: number; errorMessage: string } {
  const { code, message } = expected(err);
  return { errorCode: code, errorMessage: message };
}
