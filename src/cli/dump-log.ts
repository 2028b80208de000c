/**
 * `sluice dump-log FILE` reads a segment (.log), offset index (.index) or time index (.timeindex) offline,
 * without a broker, like Kafka's kafka-dump-log. For a .log: one line per batch and per record; with
 * `--json`, JSON Lines: a batch line has `baseOffset`, a record line has exactly `offset`, `timestamp`, `key`,
 * `value`, `headers`. A torn or corrupt batch is reported in place; with `--verify` the exit code is 1 if
 * any batch fails its CRC or is torn.
 *
 * Reads the file batch by batch (header, then the batch), so a multi-gigabyte segment needs little memory.
 */
import { closeSync, openSync, readSync, fstatSync } from 'node:fs';
import { readInt64 } from '../log/buffers.js';
import { BATCH_HEADER_SIZE, LOG_OVERHEAD, codecOf, isControlBatch, isTransactionalBatch, lastOffsetOf, readBatchHeader, timestampTypeOf, type RecordBatchHeader, type StoredRecord } from '../log/record-batch.js';
import { decodeRecords, probeBatch } from '../log/batch-decoder.js';
import { isBrokerError } from '../common/errors.js';
import { bytesText } from './output.js';

export interface DumpOptions {
  json: boolean;
  verify: boolean;
  encoding: 'utf8' | 'base64';
  /** print batch lines only */
  batchesOnly?: boolean;
}

export interface DumpSummary {
  batches: number;
  records: number;
  invalidBatches: number;
  torn: boolean;
}

type Out = (line: string) => void;

export function dumpFile(path: string, options: DumpOptions, out: Out): DumpSummary {
  if (path.endsWith('.index') || path.endsWith('.timeindex')) return dumpIndex(path, options, out);
  return dumpSegment(path, options, out);
}

function dumpSegment(path: string, options: DumpOptions, out: Out): DumpSummary {
  const fd = openSync(path, 'r');
  const summary: DumpSummary = { batches: 0, records: 0, invalidBatches: 0, torn: false };
  try {
    const size = fstatSync(fd).size;
    if (!options.json) out(`Dumping ${path}`);
    let position = 0;
    while (position < size) {
      const head = readAt(fd, position, Math.min(BATCH_HEADER_SIZE, size - position));
      const claimed = head.length >= LOG_OVERHEAD ? head.readInt32BE(8) + LOG_OVERHEAD : LOG_OVERHEAD;
      const available = size - position;
      if (head.length < BATCH_HEADER_SIZE || claimed < BATCH_HEADER_SIZE || claimed > available) {
        summary.torn = true;
        const reason =
          claimed < BATCH_HEADER_SIZE
            ? `invalid batch length ${claimed - LOG_OVERHEAD}`
            : `torn batch: needs ${claimed} bytes, ${available} left in the file`;
        report(out, options, { position, error: reason });
        break;
      }
      const batch = readAt(fd, position, claimed);
      const probe = probeBatch(batch, 0);
      const header = readBatchHeader(batch, 0);
      const valid = probe.kind === 'batch';
      summary.batches++;
      if (!valid) summary.invalidBatches++;
      printBatch(out, options, header, position, claimed, valid, probe.kind === 'corrupt' ? probe.reason : null);
      if (!options.batchesOnly) {
        try {
          const records = decodeRecords(batch, header);
          summary.records += records.length;
          for (const record of records) printRecord(out, options, record, header);
        } catch (err) {
          summary.invalidBatches += valid ? 1 : 0;
          report(out, options, { position, error: `records do not decode: ${isBrokerError(err) ? err.message : String(err)}` });
        }
      }
      position += claimed;
    }
  } finally {
    closeSync(fd);
  }
  return summary;
}

function readAt(fd: number, position: number, length: number): Buffer {
  const buffer = Buffer.allocUnsafe(length);
  let done = 0;
  while (done < length) {
    const n = readSync(fd, buffer, done, length - done, position + done);
    if (n === 0) break;
    done += n;
  }
  return buffer.subarray(0, done);
}

function printBatch(out: Out, options: DumpOptions, h: RecordBatchHeader, position: number, size: number, valid: boolean, problem: string | null): void {
  let codec: string;
  try {
    codec = codecOf(h);
  } catch {
    codec = `unsupported(${h.attributes & 7})`;
  }
  const lastSequence = h.baseSequence < 0 ? -1 : h.baseSequence + h.lastOffsetDelta;
  if (options.json) {
    out(
      JSON.stringify({
        baseOffset: h.baseOffset,
        lastOffset: lastOffsetOf(h),
        count: h.recordCount,
        position,
        size,
        partitionLeaderEpoch: h.partitionLeaderEpoch,
        magic: h.magic,
        codec,
        timestampType: timestampTypeOf(h),
        baseTimestamp: h.baseTimestamp,
        maxTimestamp: h.maxTimestamp,
        producerId: h.producerId,
        producerEpoch: h.producerEpoch,
        baseSequence: h.baseSequence,
        lastSequence,
        isTransactional: isTransactionalBatch(h),
        isControl: isControlBatch(h),
        crc: h.crc,
        crcValid: valid,
        ...(problem ? { error: problem } : {}),
      }),
    );
    return;
  }
  out(
    `baseOffset: ${h.baseOffset} lastOffset: ${lastOffsetOf(h)} count: ${h.recordCount} baseSequence: ${h.baseSequence} ` +
      `lastSequence: ${lastSequence} producerId: ${h.producerId} producerEpoch: ${h.producerEpoch} ` +
      `partitionLeaderEpoch: ${h.partitionLeaderEpoch} isTransactional: ${isTransactionalBatch(h)} isControl: ${isControlBatch(h)} ` +
      `position: ${position} ${timestampTypeOf(h) === 'create' ? 'CreateTime' : 'LogAppendTime'}: ${h.maxTimestamp} size: ${size} ` +
      `magic: ${h.magic} compresscodec: ${codec} crc: ${h.crc} isvalid: ${valid}${problem ? ` (${problem})` : ''}`,
  );
}

function printRecord(out: Out, options: DumpOptions, r: StoredRecord, h: RecordBatchHeader): void {
  const headers = Object.fromEntries(r.headers.map((x) => [x.key, bytesText(x.value, options.encoding)]));
  const key = bytesText(r.key, options.encoding);
  const value = bytesText(r.value, options.encoding);
  if (options.json) {
    out(JSON.stringify({ offset: r.offset, timestamp: r.timestamp, key, value, headers }));
    return;
  }
  const sequence = h.baseSequence < 0 ? -1 : h.baseSequence + (r.offset - h.baseOffset);
  out(
    `| offset: ${r.offset} ${timestampTypeOf(h) === 'create' ? 'CreateTime' : 'LogAppendTime'}: ${r.timestamp} ` +
      `keySize: ${r.key?.length ?? -1} valueSize: ${r.value?.length ?? -1} sequence: ${sequence} ` +
      `headers: ${JSON.stringify(headers)} key: ${key === null ? 'null' : key} payload: ${value === null ? 'null' : value}`,
  );
}

function report(out: Out, options: DumpOptions, problem: { position: number; error: string }): void {
  out(options.json ? JSON.stringify(problem) : `!! position: ${problem.position} ${problem.error}`);
}

function dumpIndex(path: string, options: DumpOptions, out: Out): DumpSummary {
  const fd = openSync(path, 'r');
  try {
    const bytes = readAt(fd, 0, fstatSync(fd).size);
    const time = path.endsWith('.timeindex');
    const entrySize = time ? 12 : 8;
    const base = Number(/(\d{20})\.(time)?index$/.exec(path)?.[1] ?? 0);
    if (!options.json) out(`Dumping ${path}`);
    let entries = 0;
    for (let at = 0; at + entrySize <= bytes.length; at += entrySize) {
      const entry = time
        ? { timestamp: readInt64(bytes, at), offset: base + bytes.readInt32BE(at + 8) }
        : { offset: base + bytes.readInt32BE(at), position: bytes.readInt32BE(at + 4) };
      if (!time && entries > 0 && entry.offset === base && (entry as { position: number }).position === 0) break; // preallocated zeros
      entries++;
      out(options.json ? JSON.stringify(entry) : Object.entries(entry).map(([k, v]) => `${k}: ${v}`).join(' '));
    }
    const torn = bytes.length % entrySize !== 0;
    if (torn) report(out, options, { position: bytes.length - (bytes.length % entrySize), error: 'trailing partial entry' });
    return { batches: 0, records: entries, invalidBatches: 0, torn };
  } finally {
    closeSync(fd);
  }
}
