/**
 * Composition of the Kafka protocol listener with the broker (`sluice serve --kafka-listener HOST:PORT`):
 * the listener gets the broker's own services, so both front doors serve the same logs, producer ids and
 * group offsets. Lives here because neither src/server nor src/kafka may import the other.
 */
import type { Logger } from 'pino';
import type { BrokerConfig } from '../server/broker-config.js';
import type { ExtraListener } from '../server/broker.js';
import type { Services } from '../server/routes/common.js';
import { startKafkaListener } from '../kafka/listener.js';

/** Request frames may carry a produce of maxRequestBytes plus the request's own fields. */
const FRAME_OVERHEAD_BYTES = 1_048_576;
const CLUSTER_ID = 'sluice-single-node';

export function kafkaListenerHook(config: BrokerConfig, logger: Logger): (services: Services) => Promise<ExtraListener> {
  return (s) =>
    startKafkaListener(
      {
        clock: s.clock,
        topics: s.topics,
        replicas: s.replicas,
        fetches: s.fetches,
        groups: s.groups,
        registerProducer: (name) => s.store.registerProducer(name),
        maxFetchWaitMs: config.maxFetchWaitMs,
        initialRebalanceDelayMs: config.groupInitialRebalanceDelayMs,
        logger: logger.child({ component: 'kafka' }),
      },
      { listen: config.kafkaListener!, maxFrameBytes: config.maxRequestBytes + FRAME_OVERHEAD_BYTES, clusterId: CLUSTER_ID },
    );
}
