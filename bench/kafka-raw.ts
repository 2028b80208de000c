/**
 * The Kafka listener's own capacity, without a client's encoding cost: pre-encoded Produce v7 frames (acks=-1,
 * 4 partitions, 250 records of 1 KiB each per partition) sent over one socket with a few requests in flight.
 */
import { createConnection } from 'node:net';
import { encodeBatch } from '../src/log/record-batch.js';
import { Writer } from '../src/kafka/protocol/writer.js';
import { Produce } from '../src/kafka/generated/index.js';

const RECORDS_PER_PARTITION = 250;

export async function rawKafkaProduce(port: number, topic: string, records: number, partitions: number, recordBytes: number, inFlight = 4): Promise<number> {
  const batch = encodeBatch({ records: Array.from({ length: RECORDS_PER_PARTITION }, (_, i) => ({ value: String(i).padStart(recordBytes, 'x') })) });
  const requests = Math.ceil(records / (RECORDS_PER_PARTITION * partitions));
  const frame = (correlationId: number) => {
    const w = new Writer();
    w.int32(0).int16(0).int16(7).int32(correlationId).nullableString('bench-raw', false);
    Produce.writeProduceRequest(w, 7, {
      transactionalId: null,
      acks: -1,
      timeoutMs: 30_000,
      topicData: [{ name: topic, partitionData: Array.from({ length: partitions }, (_, index) => ({ index, records: batch })) }],
    });
    const out = w.toBuffer();
    out.writeInt32BE(out.length - 4, 0);
    return out;
  };
  const socket = createConnection({ host: '127.0.0.1', port });
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  const started = performance.now();
  await new Promise<void>((resolve, reject) => {
    let sent = 0;
    let answered = 0;
    let buffered = Buffer.alloc(0);
    socket.on('error', reject);
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      while (buffered.length >= 4 && buffered.length >= 4 + buffered.readInt32BE(0)) {
        buffered = buffered.subarray(4 + buffered.readInt32BE(0));
        answered++;
        if (sent < requests) socket.write(frame(sent++));
        if (answered === requests) resolve();
      }
    });
    for (; sent < Math.min(inFlight, requests); sent++) socket.write(frame(sent));
  });
  const ms = performance.now() - started;
  socket.destroy();
  return (requests * RECORDS_PER_PARTITION * partitions * recordBytes) / 1e6 / (ms / 1000);
}
