/**
 * The shapes sluice/client accepts and returns. Keys and values go out as strings (UTF-8) or bytes and come
 * back as Buffers (a consumer cannot know how they were encoded); header values likewise.
 */
import type { PartitionDescription } from '../common/topic-description.js';

export type Acks = '0' | '1' | 'all';
export type Compression = 'none' | 'lz4';
export type Bytes = string | Uint8Array;

/**
 * Headers to send: an object (the shape consumers get back in `headers`), or a list of `{key, value}` when a key
 * repeats (consumers get that back in `headerList`).
 */
export type HeadersInput = Record<string, Bytes | null> | { key: string; value: Bytes | null }[];

/** Headers as received: by key, the last value of a repeated key (as the HTTP API and `sluice consume --json`). */
export type RecordHeaders = Record<string, Buffer | null>;

/** A record to produce. */
export interface ProducerRecord {
  topic: string;
  key?: Bytes | null;
  value: Bytes | null;
  headers?: HeadersInput;
  /** An explicit partition; otherwise murmur2(key) mod partitions, or a sticky partition for keyless records. */
  partition?: number;
  /** CreateTime in ms since the epoch; default: the producer's clock when `send` is called. */
  timestamp?: number;
}

/** Where a record landed. `offset` is -1 with acks "0". */
export interface RecordMetadata {
  topic: string;
  partition: number;
  offset: number;
  timestamp: number;
}

export interface RecordHeader {
  key: string;
  value: Buffer | null;
}

/** A record as a consumer receives it. */
export interface ConsumerRecord {
  topic: string;
  partition: number;
  offset: number;
  timestamp: number;
  key: Buffer | null;
  value: Buffer | null;
  /** `r.headers['source']`: by key; a repeated key gives its last value (all of them are in headerList) */
  headers: RecordHeaders;
  /** every header in the order sent, repeated keys included */
  headerList: RecordHeader[];
}

export interface TopicPartition {
  topic: string;
  partition: number;
}

export interface TopicPartitionOffset extends TopicPartition {
  offset: number;
}

/**
 * A topic's effective config, as describe and the config changes return it: every key, `null` where
 * unlimited. The broker's table (docs/http-api.md) is the reference; a test checks that this type is the
 * broker's own.
 */
export interface TopicConfig {
  /** ms; null: keep forever */
  retentionMs: number | null;
  /** bytes per partition; null: no limit */
  retentionBytes: number | null;
  segmentBytes: number;
  segmentMs: number;
  indexIntervalBytes: number;
  maxMessageBytes: number;
  messageTimestampAfterMaxMs: number;
  minInsyncReplicas: number;
  compression: Compression;
  cleanupPolicy: 'delete';
}

export type TopicConfigKey = keyof TopicConfig;

/** Keys to set at create or alter: `null` means unlimited, which only the retention keys allow. */
export type TopicConfigChanges = Partial<TopicConfig>;

export interface TopicSummary {
  name: string;
  partitions: number;
  replicationFactor: number;
}

export type { PartitionDescription };

export interface TopicDescription {
  name: string;
  config: TopicConfig;
  /** the keys of `config` set on this topic (alter-config, create); every other key is the broker's default */
  overrides: TopicConfigKey[];
  partitions: PartitionDescription[];
}

export interface NewTopic {
  name: string;
  partitions?: number;
  replicationFactor?: number;
  config?: TopicConfigChanges;
}

export interface GroupSummary {
  group: string;
  /** Empty, Assigning (the initial delay), Reconciling (partitions being released) or Stable */
  state: string;
  members: number;
}

export interface GroupMember {
  memberId: string;
  /** what the member's client sent as its client id (null for clients that send none) */
  clientId: string | null;
  /** the address the member joined from */
  host: string | null;
  topics: string[];
  /** partitions it owns now */
  assignments: TopicPartition[];
  /** owned partitions it was asked to release */
  revoking: TopicPartition[];
  /** partitions it will get once their owner released them (or the group formed) */
  pending: TopicPartition[];
  lastHeartbeat: number;
}

export interface CommittedOffset extends TopicPartitionOffset {
  metadata: string | null;
  highWatermark: number;
  lag: number;
}

export interface GroupDescription {
  group: string;
  state: string;
  generation: number;
  assignor: string;
  members: GroupMember[];
  /** Committed offsets with the partition's high watermark and the lag. */
  offsets: CommittedOffset[];
}

export type ResetTarget = 'earliest' | 'latest' | { offset: number } | { timestamp: number };

export interface RetentionResult {
  deletedSegments: number;
  freedBytes: number;
}
