/**
 * sluice/client: the TypeScript client of sluice. Producer and Consumer move Kafka RecordBatch v2 bytes on the
 * broker's binary fast path; Admin manages topics, groups and retention. Errors are BrokerError with the
 * broker's stable codes and a `retriable` flag. Producer and Consumer take a pino-compatible `logger` and emit
 * `error`, `retry` and (the consumer) `rebalance` events.
 */
export { Admin, type AdminOptions } from './admin.js';
export { Consumer, type ConsumerOptions, type OffsetReset, type RebalanceHook } from './consumer.js';
export { BrokerError, ERROR_CODES, isBrokerError, type ErrorCode } from './errors.js';
export type { ClientEventMap, Logger, RebalanceEvent, RetryEvent } from './events.js';
export { Producer, type ProducerOptions } from './producer.js';
export { ShareConsumer, type ShareConsumerOptions } from './share-consumer.js';
export { ShareMessage, type ShareAckType, type ShareRecord } from './share-message.js';
export type * from './share-types.js';
export type { AutoCreateTopics } from './topic-wait.js';
export type * from './types.js';
