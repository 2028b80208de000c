/** Paths and loaders for the shared Kafka v2 fixtures (written by kafkajs, an independent encoder). */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const KAFKA_FIXTURES = fileURLToPath(new URL('../../../shared/fixtures/kafka-v2/', import.meta.url));

export interface FixtureRecord {
  offset: number;
  timestamp: number;
  key: string | null;
  value: string | null;
  headers: Record<string, string | null>;
}

export interface FixtureBatch {
  codec: 'none' | 'lz4';
  baseOffset: number;
  baseTimestamp: number;
  maxTimestamp: number;
  producerId: number;
  producerEpoch: number;
  baseSequence: number;
  records: FixtureRecord[];
}

export function loadFixture(name: string): { bytes: Buffer; expected: FixtureBatch } {
  return {
    bytes: readFileSync(`${KAFKA_FIXTURES}${name}.bin`),
    expected: JSON.parse(readFileSync(`${KAFKA_FIXTURES}${name}.json`, 'utf8')) as FixtureBatch,
  };
}
