/**
 * sluice/client: the TypeScript client of sluice. Producer and Consumer move Kafka RecordBatch v2 bytes on the
 * broker's binary fast path; Admin manages topics, groups and retention. Errors are BrokerError with the
 * broker's stable codes and a `retriable` flag.
 */
export { Admin, type AdminOptions } from './admin.js';
export { Consumer, type ConsumerOptions, type OffsetReset } from './consumer.js';
export { BrokerError, ERROR_CODES, isBrokerError, type ErrorCode } from './errors.js';
export { Producer, type ProducerOptions } from './producer.js';
export type * from './types.js';
