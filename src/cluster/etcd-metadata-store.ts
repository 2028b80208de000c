/**
 * The cluster's MetadataStore: topics (with lifecycle state and config overrides) and producer ids in etcd,
 * shared by every broker of the cluster. Same interface and semantics as LocalMetadataStore (the
 * conformance suite runs against both); keys in keys.ts.
 *
 * Reads (`getTopic`, `listTopics`, `getProducer`) are answered from a WatchedPrefix of `meta/`: memory, no
 * round trip, still answering (possibly stale) while etcd is down. Writes are compare-and-swap on the mod
 * revision the cache holds for the key, one at a time per store; once written, a write waits until the
 * cache has it, so a broker always reads its own writes. A write refused because another broker changed
 * the key first fails: TOPIC_ALREADY_EXISTS when the topic appeared, UNKNOWN_TOPIC when it vanished, else
 * a retriable BROKER_NOT_AVAILABLE; the cache has caught up by then, so a retry works from the new state.
 *
 * Producer ids come in blocks as in LocalMetadataStore: `meta/producer-id-block` holds the end of every
 * block handed out so far; a broker takes the next block [end, end + PRODUCER_ID_BLOCK_SIZE) by CAS on that
 * key and hands its ids out locally, so no two brokers ever issue the same id and an anonymous producer
 * costs no etcd write until the block runs out. A broker's unused ids are lost when it stops (as locally).
 * Any id below the block end that no named producer holds reads as an anonymous producer with epoch 0.
 */
import { Serial } from '../log/serial.js';
import { isValidTopicName } from '../log/segment-files.js';
import { BrokerError } from '../common/errors.js';
import { PRODUCER_ID_BLOCK_SIZE, unknownTopic, type MetadataStore, type ProducerIdentity, type TopicMetadata } from '../topics/metadata-store.js';
import { etcdError, type EtcdConnection } from './etcd-client.js';
import { casDelete, casPut, decodeValue, refusedWrite, type WriteResult } from './etcd-writes.js';
import { META_PREFIX, PRODUCER_ID_BLOCK_KEY, PRODUCERS_PREFIX, producerKey, TOPICS_PREFIX, topicKey } from './keys.js';
import { WatchedPrefix, type PrefixChange } from './watched-prefix.js';

const MAX_PRODUCER_EPOCH = 32_767;
const FIRST_PRODUCER_ID = 1;
/** a named producer's CAS lost this many times in a row to other brokers: give up (retriable) */
const MAX_CONFLICTS = 20;

export interface EtcdMetadataStoreOptions {
  /** how long a write retries while etcd is unreachable before BROKER_NOT_AVAILABLE (default 10,000 ms) */
  writeTimeoutMs?: number;
  /** told about unreadable values and watch failures (the broker logs them) */
  onProblem?: (message: string, err: unknown) => void;
}

/** A cache key (relative to meta/) of a full key built by keys.ts. */
const relative = (key: string) => key.slice(META_PREFIX.length);

export class EtcdMetadataStore implements MetadataStore {
  private meta: WatchedPrefix | null = null;
  private readonly topics = new Map<string, TopicMetadata>();
  private readonly producers = new Map<number, ProducerIdentity>();
  /** end of every id block handed out, as the cache knows it */
  private blocksEnd = FIRST_PRODUCER_ID;
  /** this broker's block: ids [nextProducerId, reservedUpTo) are its to hand out */
  private nextProducerId = FIRST_PRODUCER_ID;
  private reservedUpTo = FIRST_PRODUCER_ID;
  private readonly writes = new Serial();
  private readonly writeTimeoutMs: number;
  private readonly onProblem: (message: string, err: unknown) => void;
  private problems: string[] | null = null;
  private readonly topicListeners = new Set<(name: string) => void>();

  constructor(
    private readonly etcd: EtcdConnection,
    options: EtcdMetadataStoreOptions = {},
  ) {
    this.writeTimeoutMs = options.writeTimeoutMs ?? 10_000;
    this.onProblem = options.onProblem ?? (() => undefined);
  }

  async load(): Promise<{ problems: string[] }> {
    this.problems = [];
    try {
      this.meta = await WatchedPrefix.open(this.etcd.cluster, META_PREFIX, this.onProblem);
    } catch (err) {
      throw etcdError('reading the cluster metadata', err);
    }
    for (const [key, entry] of this.meta.all()) this.onChange({ key, entry, previous: undefined });
    this.meta.on('change', (change) => this.onChange(change));
    const problems = this.problems;
    this.problems = null;
    return { problems };
  }

  async close(): Promise<void> {
    await this.meta?.close();
  }

  /** Calls `listener` after a topic's metadata changed in this broker's copy (created, updated, removed). */
  onTopicChange(listener: (name: string) => void): () => void {
    this.topicListeners.add(listener);
    return () => this.topicListeners.delete(listener);
  }

  listTopics(): TopicMetadata[] {
    return [...this.topics.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  getTopic(name: string): TopicMetadata | undefined {
    return this.topics.get(name);
  }

  putTopic(topic: TopicMetadata): Promise<void> {
    return this.writes.run(async () => {
      const key = topicKey(topic.name);
      const cached = this.cache.get(relative(key));
      const result = await casPut(this.etcd.cluster, key, cached?.modRevision ?? 0, structuredClone(topic), this.writeOptions(`writing metadata of topic ${topic.name}`));
      if (!result.written) {
        await this.catchUp(result);
        if (cached === undefined) throw new BrokerError('TOPIC_ALREADY_EXISTS', `topic ${topic.name} exists already`, { details: { topic: topic.name } });
        if (result.reason === 'stale' && result.current === undefined) throw unknownTopic(topic.name);
        throw refusedWrite(`writing metadata of topic ${topic.name}`, result);
      }
      await this.sawOwnWrite(result.revision);
    });
  }

  removeTopic(name: string): Promise<void> {
    return this.writes.run(async () => {
      const key = topicKey(name);
      const cached = this.cache.get(relative(key));
      if (cached === undefined) return;
      const result = await casDelete(this.etcd.cluster, key, cached.modRevision, this.writeOptions(`removing metadata of topic ${name}`));
      if (!result.written) {
        await this.catchUp(result);
        throw refusedWrite(`removing metadata of topic ${name}`, result);
      }
      await this.sawOwnWrite(result.revision);
    });
  }

  registerProducer(name: string | null): Promise<ProducerIdentity> {
    return this.writes.run(async () => {
      if (name === null) return { producerId: await this.takeProducerId(), producerEpoch: 0, name: null };
      const key = producerKey(name);
      for (let attempt = 1; ; attempt++) {
        const cached = this.cache.get(relative(key));
        const current = cached === undefined ? undefined : decodeValue<ProducerIdentity>(cached.value);
        // Epochs are i16 in the batch header; like Kafka, a new id is issued when they run out.
        const identity: ProducerIdentity =
          current && current.producerEpoch < MAX_PRODUCER_EPOCH
            ? { ...current, producerEpoch: current.producerEpoch + 1 }
            : { producerId: await this.takeProducerId(), producerEpoch: 0, name };
        const result = await casPut(this.etcd.cluster, key, cached?.modRevision ?? 0, identity, this.writeOptions(`registering producer ${name}`));
        if (result.written) {
          await this.sawOwnWrite(result.revision);
          return identity;
        }
        await this.catchUp(result);
        if (attempt >= MAX_CONFLICTS) throw refusedWrite(`registering producer ${name}`, result);
      }
    });
  }

  getProducer(producerId: number): ProducerIdentity | undefined {
    const named = this.producers.get(producerId);
    if (named) return named;
    const end = Math.max(this.blocksEnd, this.reservedUpTo);
    if (!Number.isSafeInteger(producerId) || producerId < FIRST_PRODUCER_ID || producerId >= end) return undefined;
    return { producerId, producerEpoch: 0, name: null };
  }

  /** The next id of this broker's block, reserving a new block from etcd when it is used up. */
  private async takeProducerId(): Promise<number> {
    while (this.nextProducerId >= this.reservedUpTo) {
      const cached = this.cache.get(relative(PRODUCER_ID_BLOCK_KEY));
      const start = cached === undefined ? FIRST_PRODUCER_ID : decodeValue<{ nextProducerId: number }>(cached.value).nextProducerId;
      const end = start + PRODUCER_ID_BLOCK_SIZE;
      const result = await casPut(this.etcd.cluster, PRODUCER_ID_BLOCK_KEY, cached?.modRevision ?? 0, { nextProducerId: end }, this.writeOptions('reserving producer ids'));
      if (result.written) {
        this.nextProducerId = start;
        this.reservedUpTo = end;
        await this.sawOwnWrite(result.revision);
      } else {
        // Another broker took the block first: learn the new end, then try the one after it.
        await this.catchUp(result);
      }
    }
    return this.nextProducerId++;
  }

  private get cache(): WatchedPrefix {
    if (!this.meta) throw new BrokerError('BROKER_NOT_AVAILABLE', 'the cluster metadata is not loaded yet');
    return this.meta;
  }

  private writeOptions(what: string) {
    return { what, timeoutMs: this.writeTimeoutMs };
  }

  /** Waits until the cache holds a write of ours (read-your-writes). */
  private async sawOwnWrite(revision: number): Promise<void> {
    try {
      await this.cache.waitForRevision(revision, this.writeTimeoutMs);
    } catch (err) {
      // The write is in etcd: only this broker's view lags. Reported, not failed.
      this.onProblem('a metadata write is in etcd but not yet in the watched cache', err);
    }
  }

  /** After a refused write: waits until the cache has the state that refused it, so a retry starts from there. */
  private async catchUp(result: Exclude<WriteResult, { written: true }>): Promise<void> {
    const revision = result.reason === 'stale' ? (result.current?.modRevision ?? 0) : 0;
    await this.cache.waitForRevision(revision, this.writeTimeoutMs).catch(() => undefined);
  }

  private onChange({ key, entry, previous }: PrefixChange): void {
    try {
      if (key.startsWith(relative(TOPICS_PREFIX))) {
        const name = key.slice(relative(TOPICS_PREFIX).length);
        this.onTopic(name, entry?.value);
        if (this.problems === null) for (const listener of this.topicListeners) listener(name);
      }
      else if (key.startsWith(relative(PRODUCERS_PREFIX))) this.onProducer(entry?.value, previous?.value);
      else if (key === relative(PRODUCER_ID_BLOCK_KEY) && entry) this.blocksEnd = decodeValue<{ nextProducerId: number }>(entry.value).nextProducerId;
    } catch (err) {
      const message = `${this.etcd.clusterName}/${META_PREFIX}${key}: ${(err as Error).message}`;
      if (this.problems) this.problems.push(message);
      else this.onProblem(`unreadable cluster metadata skipped: ${message}`, err);
    }
  }

  private onTopic(name: string, value: string | undefined): void {
    if (value === undefined) {
      this.topics.delete(name);
      return;
    }
    this.topics.delete(name);
    const topic = decodeValue<TopicMetadata>(value);
    if (topic.name !== name || !isValidTopicName(topic.name) || !(topic.partitions >= 1)) throw new Error('inconsistent fields');
    this.topics.set(name, topic);
  }

  private onProducer(value: string | undefined, previous: string | undefined): void {
    if (previous !== undefined) this.producers.delete(decodeValue<ProducerIdentity>(previous).producerId);
    if (value !== undefined) {
      const identity = decodeValue<ProducerIdentity>(value);
      this.producers.set(identity.producerId, identity);
    }
  }
}
