/**
 * What client processes measure and send back: counts, bytes, per-second windows and HDR histograms (µs,
 * 1 µs to 10 minutes, 3 significant digits), encoded as compressed base64 for IPC and merged by the
 * coordinator. Windows are indexed by whole seconds since the run's start time, which the coordinator sends
 * to every process, so windows of different processes line up.
 */
import { build, decodeFromCompressedBase64, encodeIntoCompressedBase64, type Histogram } from 'hdr-histogram-js';

export function newHistogram(): Histogram {
  return build({ lowestDiscernibleValue: 1, highestTrackableValue: 600_000_000, numberOfSignificantValueDigits: 3 });
}

export const encodeHistogram = (h: Histogram): string => encodeIntoCompressedBase64(h);
export const decodeHistogram = (s: string): Histogram => decodeFromCompressedBase64(s) as Histogram;

export interface Windows {
  records: number[];
  bytes: number[];
}

export function addToWindow(windows: Windows, second: number, bytes: number): void {
  if (second < 0) return;
  while (windows.records.length <= second) {
    windows.records.push(0);
    windows.bytes.push(0);
  }
  windows.records[second]!++;
  windows.bytes[second]! += bytes;
}

export function mergeWindows(all: Windows[]): Windows {
  const out: Windows = { records: [], bytes: [] };
  for (const w of all) {
    for (let i = 0; i < w.records.length; i++) {
      out.records[i] = (out.records[i] ?? 0) + w.records[i]!;
      out.bytes[i] = (out.bytes[i] ?? 0) + w.bytes[i]!;
    }
  }
  for (let i = 0; i < out.records.length; i++) {
    out.records[i] ??= 0;
    out.bytes[i] ??= 0;
  }
  return out;
}

export function mergeHistograms(encoded: string[]): Histogram {
  const total = newHistogram();
  for (const e of encoded) total.add(decodeHistogram(e));
  return total;
}

export interface Percentiles {
  p50: number;
  p90: number;
  p95: number;
  p99: number;
  p999: number;
  max: number;
  count: number;
}

/** Percentiles of a histogram of µs, in ms; null when it recorded nothing. */
export function percentilesMs(h: Histogram): Percentiles | null {
  if (h.totalCount === 0) return null;
  const at = (p: number) => h.getValueAtPercentile(p) / 1000;
  return { p50: at(50), p90: at(90), p95: at(95), p99: at(99), p999: at(99.9), max: h.maxValue / 1000, count: h.totalCount };
}

/** What one client process reports when it is done. */
export interface ClientReport {
  role: 'producer' | 'consumer';
  /** every record (warm-up included): acknowledged by the system (producer) or received (consumer) */
  records: number;
  bytes: number;
  /** per consumer group: records and bytes received */
  groups?: Record<string, { records: number; bytes: number }>;
  /** records and bytes after the warm-up */
  measuredRecords: number;
  measuredBytes: number;
  windows: Windows;
  /** send-to-ack (producer) or end-to-end (consumer) latency after the warm-up, µs */
  latency: string;
  errors: number;
  firstError: string | null;
  /** producers: records sent later than their schedule (rate mode), as a sign the client could not keep up */
  lateSends?: number;
}
