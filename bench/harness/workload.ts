/**
 * Workloads: the declarative JSON files of the benchmark harness (`bench/workloads/*.json`), their schema and
 * their loading. A workload says what load to put on the system (topics, partitions, record sizes, keys,
 * producers, consumer groups, share-group workers, rate, duration, acks, fsync, compression, which path) and
 * nothing about how to measure it; the harness always measures the same things.
 *
 * Validation uses ajv (the JSON-schema validator fastify already brings) with `additionalProperties: false`
 * everywhere, so a typo is an error, and every message names the field (`recordSize.max: must be >= 32`).
 * A bad file is a WorkloadError, which the command line turns into exit code 2.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { Ajv, type ErrorObject } from 'ajv';
import { projectRoot } from '../lib/paths.js';

/** Every record carries a 32-byte header (producer, sequence number, send time): the smallest record size. */
export const MIN_RECORD_BYTES = 32;

export type RecordSize =
  | number
  | { distribution: 'uniform'; min: number; max: number }
  | { distribution: 'normal'; mean: number; stddev: number; min?: number; max?: number };

export type KeyDistribution = { distribution: 'none' } | { distribution: 'uniform'; count: number } | { distribution: 'zipf'; count: number; exponent?: number };

export interface Workload {
  name: string;
  description: string;
  topics: number;
  partitionsPerTopic: number;
  recordSize: RecordSize;
  keys: KeyDistribution;
  producers: number;
  consumerGroups: number;
  consumersPerGroup: number;
  /** share groups (queue semantics) with this many workers each; needs share groups in the build */
  shareGroups?: { groups: number; workersPerGroup: number };
  /** records per second over all producers, or "max" (closed loop) */
  rate: number | 'max';
  /** how long the measured phase lasts (after warm-up) */
  durationSeconds?: number;
  /** or how many records to produce (warm-up included) */
  records?: number;
  warmupSeconds: number;
  acks: 'all' | '1' | '0';
  fsync: 'always' | 'interval' | 'never';
  compression: 'none' | 'lz4';
  replicationFactor: number;
  brokers: number;
  path: 'client' | 'json' | 'both';
  /** the client protocol: sluice's HTTP API, or the Kafka protocol listener through kafkajs */
  protocol: 'http' | 'kafka';
  /** catch-up read: produce this backlog first, drop it from the page cache, then consume it from the start */
  backlog?: { bytes: number; dropPageCache: boolean };
  /** topic config overrides (e.g. retentionBytes and segmentBytes to keep retention deleting during produce) */
  topicConfig?: Record<string, number | string | null>;
  /** broker settings the harness starts its own broker with (ignored with --broker), e.g. retentionCheckIntervalMs */
  brokerConfig?: Record<string, number | string>;
  /** client processes; default: one per producer and per consumer, at most 4 each */
  clientProcesses?: { producers?: number; consumers?: number };
}

const recordBytes = { type: 'integer', minimum: MIN_RECORD_BYTES, maximum: 8_388_608 } as const;

export const WORKLOAD_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'topics', 'partitionsPerTopic', 'recordSize', 'producers', 'rate'],
  properties: {
    $schema: { type: 'string' },
    name: { type: 'string', pattern: '^[a-z0-9][a-z0-9-]{0,63}$' },
    description: { type: 'string' },
    topics: { type: 'integer', minimum: 1, maximum: 100 },
    partitionsPerTopic: { type: 'integer', minimum: 1, maximum: 10_000 },
    recordSize: {
      oneOf: [
        recordBytes,
        {
          type: 'object',
          additionalProperties: false,
          required: ['distribution', 'min', 'max'],
          properties: { distribution: { const: 'uniform' }, min: recordBytes, max: recordBytes },
        },
        {
          type: 'object',
          additionalProperties: false,
          required: ['distribution', 'mean', 'stddev'],
          properties: { distribution: { const: 'normal' }, mean: recordBytes, stddev: { type: 'number', minimum: 0 }, min: recordBytes, max: recordBytes },
        },
      ],
    },
    keys: {
      type: 'object',
      additionalProperties: false,
      required: ['distribution'],
      properties: {
        distribution: { enum: ['none', 'uniform', 'zipf'] },
        count: { type: 'integer', minimum: 1, maximum: 10_000_000 },
        exponent: { type: 'number', exclusiveMinimum: 0, maximum: 10 },
      },
    },
    producers: { type: 'integer', minimum: 1, maximum: 256 },
    consumerGroups: { type: 'integer', minimum: 0, maximum: 64 },
    consumersPerGroup: { type: 'integer', minimum: 1, maximum: 256 },
    shareGroups: {
      type: 'object',
      additionalProperties: false,
      required: ['groups', 'workersPerGroup'],
      properties: { groups: { type: 'integer', minimum: 1, maximum: 16 }, workersPerGroup: { type: 'integer', minimum: 1, maximum: 256 } },
    },
    rate: { oneOf: [{ const: 'max' }, { type: 'number', exclusiveMinimum: 0, maximum: 10_000_000 }] },
    durationSeconds: { type: 'number', exclusiveMinimum: 0, maximum: 86_400 },
    records: { type: 'integer', minimum: 1 },
    warmupSeconds: { type: 'number', minimum: 0, maximum: 3_600 },
    acks: { enum: ['all', '1', '0'] },
    fsync: { enum: ['always', 'interval', 'never'] },
    compression: { enum: ['none', 'lz4'] },
    replicationFactor: { type: 'integer', minimum: 1, maximum: 7 },
    brokers: { type: 'integer', minimum: 1, maximum: 9 },
    path: { enum: ['client', 'json', 'both'] },
    protocol: { enum: ['http', 'kafka'] },
    backlog: {
      type: 'object',
      additionalProperties: false,
      required: ['bytes'],
      properties: { bytes: { type: 'integer', minimum: 1_024 }, dropPageCache: { type: 'boolean' } },
    },
    topicConfig: { type: 'object', additionalProperties: { type: ['integer', 'string', 'null'] } },
    brokerConfig: { type: 'object', additionalProperties: { type: ['integer', 'string'] } },
    clientProcesses: {
      type: 'object',
      additionalProperties: false,
      properties: { producers: { type: 'integer', minimum: 1, maximum: 64 }, consumers: { type: 'integer', minimum: 1, maximum: 64 } },
    },
  },
} as const;

/** A workload file that does not fit the schema; `field` is the first offending field (dotted path). */
export class WorkloadError extends Error {
  constructor(
    message: string,
    readonly field: string | null = null,
  ) {
    super(message);
  }
}

const ajv = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true });
const validate = ajv.compile(WORKLOAD_SCHEMA as object);

const fieldOf = (e: ErrorObject): string => {
  const path = e.instancePath.slice(1).replaceAll('/', '.');
  if (e.keyword === 'required') return path ? `${path}.${String(e.params.missingProperty)}` : String(e.params.missingProperty);
  if (e.keyword === 'additionalProperties') return path ? `${path}.${String(e.params.additionalProperty)}` : String(e.params.additionalProperty);
  return path || '(root)';
};

function messageOf(e: ErrorObject): string {
  if (e.keyword === 'required') return 'is required';
  if (e.keyword === 'additionalProperties') return 'is not a workload field';
  if (e.keyword === 'enum') return `must be one of ${(e.params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
  if (e.keyword === 'const') return `must be ${JSON.stringify(e.params.allowedValue)}`;
  return e.message ?? 'is invalid';
}

/**
 * The most useful error of a failed validation. For `oneOf` fields (recordSize, rate) ajv reports every
 * branch; the deepest error names the field best (`recordSize.max` rather than `recordSize`).
 */
function firstError(errors: ErrorObject[]): ErrorObject {
  const real = errors.filter((e) => e.keyword !== 'oneOf');
  const pool = real.length > 0 ? real : errors;
  return [...pool].sort((a, b) => fieldOf(b).split('.').length - fieldOf(a).split('.').length)[0]!;
}

/** Fills defaults and checks what the schema cannot say (cross-field rules). */
function complete(raw: Record<string, unknown>): Workload {
  const w = {
    description: '',
    keys: { distribution: 'none' },
    consumerGroups: 1,
    consumersPerGroup: 1,
    warmupSeconds: 0,
    acks: 'all',
    fsync: 'always',
    compression: 'none',
    replicationFactor: 1,
    brokers: 1,
    path: 'client',
    protocol: 'http',
    ...raw,
  } as Workload;
  const fail = (field: string, message: string) => {
    throw new WorkloadError(`${field}: ${message}`, field);
  };
  if (w.durationSeconds === undefined && w.records === undefined && w.backlog === undefined) fail('durationSeconds', 'a workload needs durationSeconds, records or backlog');
  if (w.durationSeconds !== undefined && w.records !== undefined) fail('records', 'give durationSeconds or records, not both');
  if (typeof w.recordSize === 'object' && w.recordSize.distribution === 'uniform' && w.recordSize.min > w.recordSize.max) fail('recordSize.min', 'must be <= recordSize.max');
  if (w.keys.distribution !== 'none' && w.keys.count === undefined) fail('keys.count', `is required for the ${w.keys.distribution} distribution`);
  if (w.keys.distribution !== 'zipf' && 'exponent' in w.keys) fail('keys.exponent', 'applies only to the zipf distribution');
  if (w.replicationFactor > w.brokers) fail('replicationFactor', `must be <= brokers (${w.brokers})`);
  if (w.consumerGroups === 0 && !w.shareGroups && w.backlog) fail('consumerGroups', 'a backlog workload reads its backlog: it needs a consumer group');
  if (w.protocol === 'kafka' && w.path !== 'client') fail('path', 'the Kafka protocol has only the client path');
  return w;
}

/** Validates a parsed workload; `source` names it in messages. */
export function parseWorkload(value: unknown, source: string): Workload {
  if (!validate(value)) {
    const error = firstError(validate.errors ?? []);
    const field = fieldOf(error);
    throw new WorkloadError(`${source}: ${field}: ${messageOf(error)}`, field);
  }
  try {
    return complete(value as unknown as Record<string, unknown>);
  } catch (err) {
    if (err instanceof WorkloadError) throw new WorkloadError(`${source}: ${err.message}`, err.field);
    throw err;
  }
}

export const workloadsDir = join(projectRoot, 'bench', 'workloads');

/** A shipped workload by name (`max-throughput-1k`) or a path to a JSON file. */
export function loadWorkload(nameOrFile: string): { workload: Workload; file: string } {
  const file = nameOrFile.endsWith('.json') || nameOrFile.includes('/') ? nameOrFile : join(workloadsDir, `${nameOrFile}.json`);
  if (!existsSync(file)) throw new WorkloadError(`no workload ${nameOrFile} (${file} does not exist); shipped: ${shippedWorkloads().join(', ')}`);
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new WorkloadError(`${basename(file)}: not valid JSON: ${(err as Error).message}`);
  }
  return { workload: parseWorkload(value, basename(file)), file };
}

export function shippedWorkloads(): string[] {
  try {
    return readdirSync(workloadsDir)
      .filter((n) => n.endsWith('.json'))
      .map((n) => n.slice(0, -5))
      .sort();
  } catch {
    return [];
  }
}
