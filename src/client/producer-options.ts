/** The Producer's options: their documentation, defaults and validation (a bad option fails the constructor). */
import type { ConnectionOptions } from './http.js';
import { invalidArgument, invalidOption } from './errors.js';
import { defaultClientId, silentLogger, type Logger } from './events.js';
import { boolOption, enumOption, intOption } from './options.js';
import type { BackoffOptions } from './retry.js';
import type { Acks, Compression } from './types.js';

export interface ProducerOptions extends ConnectionOptions {
  /** The broker URL, or several of a cluster (a list or a comma-separated string): any of them bootstraps. */
  broker: string | readonly string[];
  /** "all" (default): durable (and, in a cluster, replicated to the ISR); "1"; "0": fire and forget. */
  acks?: Acks;
  /** How long a batch waits for more records before it is sent (default 5). */
  lingerMs?: number;
  /** Target size of a batch (default 524,288; capped by the topic's maxMessageBytes). */
  batchBytes?: number;
  /** Memory for records not yet acknowledged; `send` waits while it is full (default 33,554,432). */
  bufferBytes?: number;
  /** How long `send` may wait for buffer space or topic metadata (default 60,000). */
  maxBlockMs?: number;
  /** How long a record may take from `send` to acknowledgement, retries included (default 120,000). */
  deliveryTimeoutMs?: number;
  /** One produce request's timeout (default 30,000). */
  requestTimeoutMs?: number;
  retryBackoffMs?: number;
  retryBackoffMaxMs?: number;
  compression?: Compression;
  /** Idempotent produce (default true). */
  idempotent?: boolean;
  /** A stable name: a new producer with the same name fences this one (its epoch is bumped). */
  name?: string;
  /** Batches per request (default 5, the number of recent batches the broker remembers per producer). */
  maxBatchesPerRequest?: number;
  /** Bytes per request (default 8,388,608; the broker's maxRequestBytes is 16 MiB by default). */
  maxRequestBytes?: number;
  /** Sent with every request (default: host name and process id). */
  clientId?: string;
  /** pino or anything with the same debug/info/warn/error(obj, msg) methods (default: silent). */
  logger?: Logger;
}

export interface ProducerSettings {
  acks: Acks;
  lingerMs: number;
  batchBytes: number;
  bufferBytes: number;
  maxBlockMs: number;
  deliveryTimeoutMs: number;
  requestTimeoutMs: number;
  compression: Compression;
  idempotent: boolean;
  name: string | undefined;
  maxBatchesPerRequest: number;
  maxRequestBytes: number;
  backoff: BackoffOptions;
  clientId: string;
  logger: Logger;
}

export function producerSettings(options: ProducerOptions): ProducerSettings {
  if (!options || (typeof options.broker !== 'string' && !Array.isArray(options.broker))) throw invalidArgument('new Producer({ broker }) needs the broker URL');
  if (options.name !== undefined && (typeof options.name !== 'string' || options.name.length === 0)) throw invalidArgument('name must be a non-empty string');
  if (options.clientId !== undefined && (typeof options.clientId !== 'string' || options.clientId.length === 0 || options.clientId.length > 255)) {
    throw invalidOption('clientId must be a string of 1 to 255 characters');
  }
  const logger = options.logger ?? silentLogger;
  if (typeof logger?.warn !== 'function' || typeof logger.error !== 'function' || typeof logger.info !== 'function' || typeof logger.debug !== 'function') {
    throw invalidOption('logger must have debug, info, warn and error methods (pino, for example)');
  }
  const idempotent = boolOption(options, 'idempotent', true);
  return {
    acks: enumOption(options, 'acks', ['0', '1', 'all'] as const, 'all'),
    lingerMs: intOption(options, 'lingerMs', 5, 0, 60_000),
    batchBytes: intOption(options, 'batchBytes', 524_288, 1_024, 1_073_741_824),
    bufferBytes: intOption(options, 'bufferBytes', 33_554_432, 1_024),
    maxBlockMs: intOption(options, 'maxBlockMs', 60_000, 0),
    deliveryTimeoutMs: intOption(options, 'deliveryTimeoutMs', 120_000, 1),
    requestTimeoutMs: intOption(options, 'requestTimeoutMs', 30_000, 1, 300_000),
    compression: enumOption(options, 'compression', ['none', 'lz4'] as const, 'none'),
    idempotent,
    name: options.name,
    maxBatchesPerRequest: intOption(options, 'maxBatchesPerRequest', 5, 1, idempotent ? 5 : 1_000),
    maxRequestBytes: intOption(options, 'maxRequestBytes', 8_388_608, 1_024),
    backoff: { retryBackoffMs: intOption(options, 'retryBackoffMs', 100, 1), retryBackoffMaxMs: intOption(options, 'retryBackoffMaxMs', 1_000, 1) },
    clientId: options.clientId ?? defaultClientId(),
    logger,
  };
}
