/**
 * One record leased to this receiver by a share group, with the calls that end or extend its lease. Each
 * message is settled at most once (ack, release or reject); later calls are refused locally.
 */
import { invalidArgument, type BrokerError } from './errors.js';
import type { ConsumerRecord, RecordHeader, RecordHeaders } from './types.js';

export type ShareAckType = 'accept' | 'release' | 'reject';

/** What a message needs from its consumer (kept narrow so the message stays a plain value). */
export interface LeaseOwner {
  settle(message: ShareMessage, type: ShareAckType): Promise<void>;
  extend(messages: ShareMessage[], visibilityTimeoutMs: number): Promise<(BrokerError | null)[]>;
}

/** A record as a share group delivers it: the record, how many times it was delivered, and its lease. */
export interface ShareRecord extends ConsumerRecord {
  /** 1 on the first delivery; more when an earlier lease ended without an ack */
  deliveryCount: number;
  /** opaque: names this lease (the broker's receipt) */
  receipt: string;
}

export class ShareMessage implements ShareRecord {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly timestamp: number;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers: RecordHeaders;
  readonly headerList: RecordHeader[];
  readonly deliveryCount: number;
  readonly receipt: string;
  /** how the lease was ended by this receiver, or null while it is held */
  settledAs: ShareAckType | null = null;

  constructor(
    record: ShareRecord,
    private readonly owner: LeaseOwner,
  ) {
    this.topic = record.topic;
    this.partition = record.partition;
    this.offset = record.offset;
    this.timestamp = record.timestamp;
    this.key = record.key;
    this.value = record.value;
    this.headers = record.headers;
    this.headerList = record.headerList;
    this.deliveryCount = record.deliveryCount;
    this.receipt = record.receipt;
  }

  /** Processed: never delivered again (durable when this resolves). RECEIPT_EXPIRED if the lease was over. */
  ack(): Promise<void> {
    return this.settle('accept');
  }

  /** Not processed: available to any receiver again at once. */
  release(): Promise<void> {
    return this.settle('release');
  }

  /** Never deliver again; goes to the group's dead-letter topic if it has one. */
  reject(): Promise<void> {
    return this.settle('reject');
  }

  /** Keeps the lease for `ms` more from now (100 to 43,200,000). */
  async extend(ms: number): Promise<void> {
    if (this.settledAs) throw invalidArgument(`the lease of ${this.topic}/${this.partition}@${this.offset} was ended already (${this.settledAs})`);
    const [error] = await this.owner.extend([this], ms);
    if (error) throw error;
  }

  private settle(type: ShareAckType): Promise<void> {
    if (this.settledAs) return Promise.reject(invalidArgument(`${this.topic}/${this.partition}@${this.offset} was settled already (${this.settledAs})`));
    this.settledAs = type;
    return this.owner.settle(this, type);
  }
}
