/** Kafka's dotted config names (`retention.ms`) as sluice's keys (`retentionMs`): shared with the broker. */
export { camelKeyOf, suggestKey } from '../common/config-names.js';
