/**
 * The responses of every route for /openapi.json: each success status with its body, each error status with
 * the one error body (`{"error": {"code", "message", "retriable", ...details}}`), and the binary bodies of the
 * record-batch routes. Route schemas describe requests (fastify validates them); responses are documented here
 * rather than as fastify response schemas, which would also re-serialize replies and drop fields they omit.
 *
 * `completeOpenApi` merges this table into the document @fastify/swagger builds. test/server/openapi.test.ts
 * validates the result with swagger-parser, checks that every route has an entry here, and that every status a
 * route answered with in a run of real requests is documented for it.
 */
import { ERROR_CODES, type ErrorCode } from '../common/errors.js';
import { TOPIC_SETTINGS } from '../replication/topic-config.js';
import { ERROR_STATUS } from './errors.js';

type Schema = Record<string, unknown>;

const BATCH_MEDIA_TYPE = 'application/vnd.sluice.record-batch';
const ref = (name: string): Schema => ({ $ref: `#/components/schemas/${name}` });
const int = { type: 'integer' } as const;
const str = { type: 'string' } as const;
const obj = (properties: Record<string, unknown>, required = Object.keys(properties)): Schema => ({ type: 'object', properties, required });
const arrayOf = (items: Schema): Schema => ({ type: 'array', items });
const nullable = (schema: Schema): Schema => ({ ...schema, nullable: true });

const topicPartition = obj({ topic: str, partition: int });
const topicPartitionOffset = obj({ topic: str, partition: int, offset: int });
const jsonRecord = obj({ offset: int, timestamp: int, key: nullable(str), value: nullable(str), headers: { type: 'object', additionalProperties: nullable(str) } });

export const COMPONENT_SCHEMAS: Record<string, Schema> = {
  ErrorDetail: {
    type: 'object',
    required: ['code', 'message', 'retriable'],
    additionalProperties: true,
    description: 'details depend on the code (logStartOffset and highWatermark for OFFSET_OUT_OF_RANGE, expectedSequence for OUT_OF_ORDER_SEQUENCE, ...)',
    properties: { code: { type: 'string', enum: Object.keys(ERROR_CODES) }, message: str, retriable: { type: 'boolean' } },
  },
  /** The body of every non-2xx response. */
  Error: obj({ error: ref('ErrorDetail') }),
  TopicConfig: {
    type: 'object',
    description: 'every topic config key (docs/http-api.md); null where unlimited',
    additionalProperties: false,
    required: TOPIC_SETTINGS.map((spec) => spec.key),
    properties: Object.fromEntries(
      TOPIC_SETTINGS.map((spec) => [
        spec.key,
        {
          ...(spec.type === 'enum' ? { type: 'string', enum: [...spec.choices] } : { type: 'integer' }),
          ...('nullable' in spec && spec.nullable ? { nullable: true } : {}),
          description: spec.doc,
        },
      ]),
    ),
  },
  PartitionDescription: obj(
    {
      partition: int,
      leader: int,
      leaderEpoch: int,
      replicas: arrayOf(int),
      isr: arrayOf(int),
      logStartOffset: int,
      highWatermark: int,
      logEndOffset: int,
      sizeBytes: int,
      segments: int,
      offline: { type: 'boolean' },
    },
    ['partition', 'leader', 'leaderEpoch', 'replicas', 'isr', 'logStartOffset', 'highWatermark', 'logEndOffset', 'sizeBytes', 'segments'],
  ),
  TopicDescription: obj({ name: str, config: ref('TopicConfig'), overrides: arrayOf(str), partitions: arrayOf(ref('PartitionDescription')) }),
  MemberView: obj({ generation: int, assignments: arrayOf(topicPartition), revoke: arrayOf(topicPartition), pending: arrayOf(topicPartition) }),
};

interface Success {
  status: number;
  description: string;
  /** JSON body (none: no body) */
  json?: Schema;
  /** another media type, with a binary body */
  binary?: string;
  /** a text body (metrics) */
  text?: string;
}

interface RouteDoc {
  success: Success[];
  /** the codes this route answers with besides the ones every route may (COMMON_ERRORS) */
  errors: ErrorCode[];
  /** a binary request body, e.g. record batches */
  binaryBody?: { mediaType: string; description: string };
}

/** Any route: bad input, a broker shutting down, a bug, a slow client, a body over maxRequestBytes or of the wrong type. */
const COMMON_ERRORS: ErrorCode[] = ['INVALID_REQUEST', 'REQUEST_INCOMPLETE', 'RECORD_TOO_LARGE', 'UNSUPPORTED_MEDIA_TYPE', 'BROKER_NOT_AVAILABLE', 'UNKNOWN_SERVER_ERROR'];
const TOPIC_ERRORS: ErrorCode[] = ['INVALID_TOPIC_NAME', 'UNKNOWN_TOPIC'];
const PARTITION_ERRORS: ErrorCode[] = [...TOPIC_ERRORS, 'UNKNOWN_PARTITION', 'NOT_LEADER_OR_FOLLOWER', 'KAFKA_STORAGE_ERROR'];
const GROUP_ERRORS: ErrorCode[] = ['UNKNOWN_GROUP', 'NOT_COORDINATOR', 'KAFKA_STORAGE_ERROR'];
const MEMBER_ERRORS: ErrorCode[] = [...GROUP_ERRORS, 'UNKNOWN_MEMBER_ID', 'ILLEGAL_GENERATION'];

const ok = (description: string, json?: Schema): Success => ({ status: 200, description, ...(json ? { json } : {}) });

/** Keyed by "METHOD /openapi/path" (path parameters as {name}). */
export const ROUTE_DOCS: Record<string, RouteDoc> = {
  'POST /topics': { success: [{ status: 201, description: 'the new topic', json: ref('TopicDescription') }], errors: ['INVALID_TOPIC_NAME', 'INVALID_CONFIG', 'INVALID_REPLICATION_FACTOR', 'TOPIC_ALREADY_EXISTS', 'KAFKA_STORAGE_ERROR'] },
  'GET /topics': { success: [ok('topics', obj({ topics: arrayOf(obj({ name: str, partitions: int, replicationFactor: int })) }))], errors: [] },
  'GET /topics/{topic}': { success: [ok('config and partitions', ref('TopicDescription'))], errors: TOPIC_ERRORS },
  'PATCH /topics/{topic}/config': { success: [ok('the effective config', ref('TopicConfig'))], errors: [...TOPIC_ERRORS, 'INVALID_CONFIG', 'KAFKA_STORAGE_ERROR'] },
  'DELETE /topics/{topic}/config/{key}': { success: [ok('the effective config', ref('TopicConfig'))], errors: [...TOPIC_ERRORS, 'INVALID_CONFIG', 'KAFKA_STORAGE_ERROR'] },
  'DELETE /topics/{topic}': { success: [{ status: 204, description: 'deleted with its data' }], errors: [...TOPIC_ERRORS, 'KAFKA_STORAGE_ERROR'] },
  'POST /topics/{topic}/records': {
    success: [ok('where each record landed, in request order (offset -1 with acks 0)', obj({ offsets: arrayOf(obj({ partition: int, offset: int, timestamp: int })) }))],
    errors: [...PARTITION_ERRORS, 'INVALID_TIMESTAMP', 'NOT_ENOUGH_REPLICAS', 'REQUEST_TIMED_OUT', 'OUT_OF_ORDER_SEQUENCE', 'INVALID_PRODUCER_EPOCH', 'UNKNOWN_PRODUCER_ID'],
  },
  'POST /topics/{topic}/partitions/{partition}/batches': {
    success: [ok('the offsets given to each batch', obj({ batches: arrayOf(obj({ baseOffset: int, lastOffset: int })) }))],
    errors: [...PARTITION_ERRORS, 'CORRUPT_MESSAGE', 'INVALID_TIMESTAMP', 'NOT_ENOUGH_REPLICAS', 'REQUEST_TIMED_OUT', 'OUT_OF_ORDER_SEQUENCE', 'INVALID_PRODUCER_EPOCH', 'UNKNOWN_PRODUCER_ID'],
    binaryBody: { mediaType: BATCH_MEDIA_TYPE, description: 'Kafka RecordBatch v2 batches back to back (docs/storage-format.md)' },
  },
  'POST /internal/replica/fetch': {
    success: [{ status: 200, description: 'per partition, stored batches from the follower\'s offset with the leader\'s high watermark, or an error frame (src/replication/replica-protocol.ts)', binary: BATCH_MEDIA_TYPE }],
    errors: ['NOT_AUTHORIZED', 'UNAUTHENTICATED'],
    binaryBody: { mediaType: 'application/vnd.sluice.replica-request', description: 'the follower\'s id, wait and byte budgets, and per partition its epoch and fetch offset (docs/replication.md)' },
  },
  'POST /internal/replica/epoch-end-offsets': {
    success: [{ status: 200, description: 'per partition, where the asked leader epoch ends on this leader', binary: 'application/vnd.sluice.replica-request' }],
    errors: ['NOT_AUTHORIZED', 'UNAUTHENTICATED'],
    binaryBody: { mediaType: 'application/vnd.sluice.replica-request', description: 'per partition the follower\'s current epoch and the epoch it asks about' },
  },
  'POST /producers': { success: [ok('a producer id and epoch', obj({ producerId: int, producerEpoch: int }))], errors: ['KAFKA_STORAGE_ERROR'] },
  'GET /topics/{topic}/partitions/{partition}/records': {
    success: [
      { ...ok('records from the offset (JSON; or with Accept: application/vnd.sluice.record-batch, the stored batches with Sluice-Next-Offset, Sluice-High-Watermark and Sluice-Log-Start-Offset headers)', obj({ records: arrayOf(jsonRecord), nextOffset: int, highWatermark: int, logStartOffset: int })), binary: BATCH_MEDIA_TYPE },
    ],
    errors: [...PARTITION_ERRORS, 'OFFSET_OUT_OF_RANGE', 'CORRUPT_MESSAGE'],
  },
  'GET /topics/{topic}/partitions/{partition}/offsets': { success: [ok('the offset and its record\'s timestamp', obj({ offset: int, timestamp: nullable(int) }))], errors: PARTITION_ERRORS },
  'POST /fetch': {
    success: [
      {
        ...ok('per partition its records or its error (JSON; or framed stored batches with Accept: application/vnd.sluice.record-batch)', obj({ partitions: arrayOf({ type: 'object', additionalProperties: true, properties: { topic: str, partition: int, records: arrayOf(jsonRecord), nextOffset: int, highWatermark: int, logStartOffset: int, error: ref('ErrorDetail') } }) })),
        binary: BATCH_MEDIA_TYPE,
      },
    ],
    errors: ['INVALID_TOPIC_NAME'],
  },
  'POST /groups/{group}/members': { success: [{ status: 201, description: 'the new member and its view', json: { allOf: [ref('MemberView'), obj({ memberId: str })] } }], errors: [...GROUP_ERRORS, 'UNKNOWN_TOPIC', 'INVALID_TOPIC_NAME'] },
  'POST /groups/{group}/members/{memberId}/heartbeat': { success: [ok('the member\'s view: what to release, what it owns', ref('MemberView'))], errors: MEMBER_ERRORS },
  'DELETE /groups/{group}/members/{memberId}': { success: [{ status: 204, description: 'left the group' }], errors: MEMBER_ERRORS },
  'POST /groups/{group}/offsets': {
    success: [ok('committed, durably', obj({ offsets: arrayOf(topicPartitionOffset) }))],
    errors: [...MEMBER_ERRORS, 'GROUP_NOT_EMPTY', 'UNKNOWN_TOPIC', 'UNKNOWN_PARTITION', 'OFFSET_OUT_OF_RANGE', 'INVALID_TOPIC_NAME'],
  },
  'GET /groups/{group}/offsets': { success: [ok('committed offsets with lag', obj({ offsets: arrayOf(obj({ topic: str, partition: int, offset: int, metadata: nullable(str), highWatermark: int, lag: int })) }))], errors: GROUP_ERRORS },
  'GET /groups': { success: [ok('groups', obj({ groups: arrayOf(obj({ group: str, state: str, members: int })) }))], errors: [] },
  'GET /groups/{group}': {
    success: [
      ok(
        'state, generation, members and assignments',
        obj({
          group: str,
          state: str,
          generation: int,
          assignor: str,
          members: arrayOf(
            obj({
              memberId: str,
              clientId: nullable(str),
              host: nullable(str),
              topics: arrayOf(str),
              assignments: arrayOf(topicPartition),
              revoking: arrayOf(topicPartition),
              pending: arrayOf(topicPartition),
              lastHeartbeat: int,
            }),
          ),
        }),
      ),
    ],
    errors: GROUP_ERRORS,
  },
  'POST /groups/{group}/offsets/reset': { success: [ok('the new offsets', obj({ offsets: arrayOf(topicPartitionOffset) }))], errors: [...GROUP_ERRORS, 'GROUP_NOT_EMPTY', ...TOPIC_ERRORS] },
  'PUT /share-groups/{group}': {
    success: [ok('the group\'s config', obj({ visibilityTimeoutMs: int, maxDeliveryCount: int, deadLetterTopic: nullable(str), startFrom: str }))],
    errors: ['INVALID_CONFIG', ...TOPIC_ERRORS, 'KAFKA_STORAGE_ERROR'],
  },
  'POST /share-groups/{group}/receive': {
    success: [
      {
        ...ok('records leased to this receiver, each with its receipt (or with Accept: application/vnd.sluice.record-batch, the binary form of src/common/share-frames.ts)', obj({ records: arrayOf(obj({ topic: str, partition: int, offset: int, timestamp: int, deliveryCount: int, receipt: str })) })),
        binary: BATCH_MEDIA_TYPE,
      },
    ],
    errors: [...PARTITION_ERRORS],
  },
  'POST /share-groups/{group}/acks': {
    success: [ok('one result per ack, in order', obj({ results: arrayOf(obj({ receipt: str, ok: { type: 'boolean' }, error: ref('ErrorDetail') }, ['receipt'])) }))],
    errors: ['KAFKA_STORAGE_ERROR'],
  },
  'POST /share-groups/{group}/visibility': {
    success: [ok('one result per receipt, in order', obj({ results: arrayOf(obj({ receipt: str, ok: { type: 'boolean' }, error: ref('ErrorDetail') }, ['receipt'])) }))],
    errors: ['KAFKA_STORAGE_ERROR'],
  },
  'GET /share-groups': { success: [ok('share groups', obj({ groups: arrayOf(obj({ group: str, topics: arrayOf(str) })) }))], errors: [] },
  'GET /share-groups/{group}': {
    success: [ok('config and per partition start offset, acquired, available and lag', obj({ group: str, config: obj({ visibilityTimeoutMs: int, maxDeliveryCount: int, deadLetterTopic: nullable(str), startFrom: str }), partitions: arrayOf(obj({ topic: str, partition: int, startOffset: int, acquired: int, available: int, lag: int })) }))],
    errors: ['UNKNOWN_GROUP'],
  },
  'DELETE /share-groups/{group}': { success: [{ status: 204, description: 'deleted: its leases end and its state goes' }], errors: ['UNKNOWN_GROUP', 'KAFKA_STORAGE_ERROR'] },
  'DELETE /groups/{group}': { success: [{ status: 204, description: 'deleted with its offsets' }], errors: [...GROUP_ERRORS, 'GROUP_NOT_EMPTY'] },
  'GET /health': { success: [ok('serving', obj({ status: str, topics: int, offlinePartitions: arrayOf(str) }))], errors: [] },
  'GET /cluster': { success: [ok('the cluster', obj({ clusterName: str, controller: int, brokers: arrayOf(obj({ id: int, url: str, alive: { type: 'boolean' } })) }))], errors: [] },
  'GET /metrics': { success: [{ status: 200, description: 'Prometheus text exposition', text: 'text/plain; version=0.0.4' }], errors: [] },
  'POST /admin/retention/run': { success: [ok('what the pass deleted', obj({ deletedSegments: int, freedBytes: int }))], errors: ['KAFKA_STORAGE_ERROR'] },
};

/** The statuses documented for a route ("GET /topics/{topic}"), successes and errors. */
export function documentedStatuses(route: string): number[] {
  const doc = ROUTE_DOCS[route];
  if (!doc) return [];
  const statuses = new Set(doc.success.map((s) => s.status));
  for (const code of [...COMMON_ERRORS, ...doc.errors]) for (const status of [ERROR_STATUS[code]].flat()) statuses.add(status);
  return [...statuses].sort((a, b) => a - b);
}

function responsesOf(doc: RouteDoc): Record<string, unknown> {
  const responses: Record<string, unknown> = {};
  for (const s of doc.success) {
    const content: Record<string, unknown> = {};
    if (s.json) content['application/json'] = { schema: s.json };
    if (s.binary) content[s.binary] = { schema: { type: 'string', format: 'binary' } };
    if (s.text) content[s.text] = { schema: { type: 'string' } };
    responses[String(s.status)] = { description: s.description, ...(Object.keys(content).length > 0 ? { content } : {}) };
  }
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of new Set([...doc.errors, ...COMMON_ERRORS])) {
    for (const status of [ERROR_STATUS[code]].flat()) byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  for (const [status, codes] of [...byStatus].sort((a, b) => a[0] - b[0])) {
    responses[String(status)] = { description: codes.join(', '), content: { 'application/json': { schema: ref('Error') } } };
  }
  return responses;
}

const METHODS = ['get', 'post', 'put', 'patch', 'delete'];

/** @fastify/swagger's transformObject: the document with every route's responses and binary bodies. */
export function completeOpenApi(document: object): Record<string, unknown> {
  const api = (document as { openapiObject?: unknown }).openapiObject as { paths?: Record<string, Record<string, Record<string, unknown>>>; components?: Record<string, unknown> };
  api.components = { ...(api.components ?? {}), schemas: { ...((api.components?.schemas as object) ?? {}), ...COMPONENT_SCHEMAS } };
  for (const [path, operations] of Object.entries(api.paths ?? {})) {
    for (const method of METHODS) {
      const operation = operations[method];
      const doc = ROUTE_DOCS[`${method.toUpperCase()} ${path}`];
      if (!operation || !doc) continue;
      operation.responses = responsesOf(doc);
      if (doc.binaryBody) {
        const json = (operation.requestBody as { content?: Record<string, unknown> } | undefined)?.content ?? {};
        operation.requestBody = {
          required: true,
          description: doc.binaryBody.description,
          content: { ...json, [doc.binaryBody.mediaType]: { schema: { type: 'string', format: 'binary' } } },
        };
      }
    }
  }
  return api;
}
