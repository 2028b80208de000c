/**
 * Cluster metadata behind an interface: topics (partition count, replication factor, config overrides,
 * lifecycle state) and issued producer ids. The single-node broker keeps it in files under
 * `<dataDir>/meta/`; cluster mode (a later issue) implements the same interface on etcd.
 *
 * Topic lifecycle, so that a crash half-way through a create or delete is repaired at start-up:
 *   create: put {state: 'creating'} -> create partition logs -> put {state: 'ready'}
 *   delete: put {state: 'deleting'} -> delete partition logs -> remove the topic
 * A topic found in 'creating' is completed, one found in 'deleting' is deleted (topic-manager.ts).
 *
 * Files (each replaced atomically: write temp, fsync, rename, fsync directory):
 *   meta/topics/<topic>.json   {"name", "partitions", "replicationFactor", "config", "state", "createdAt"}
 *   meta/producers.json        {"nextProducerId", "producers": [{"producerId", "producerEpoch", "name"}]}
 *                              nextProducerId: end of the reserved id block (ids below it may be in use);
 *                              producers: the named producers only
 */
import { join } from 'node:path';
import { BrokerError, errnoOf, storageError } from '../common/errors.js';
import { writeFileAtomic, type FileIO } from '../log/file-io.js';
import { isValidTopicName } from '../log/segment-files.js';
import { Serial } from '../log/serial.js';
import type { TopicOverrides } from '../replication/topic-config.js';
import type { ProducerIdentity } from '../replication/producer-sessions.js';

export type TopicState = 'creating' | 'ready' | 'deleting';

export interface TopicMetadata {
  name: string;
  partitions: number;
  replicationFactor: number;
  /** only the keys set for this topic (`null`: unlimited, kept as JSON null); defaults come from the broker */
  config: TopicOverrides;
  state: TopicState;
  createdAt: number;
}

export type { ProducerIdentity };

export interface MetadataStore {
  load(): Promise<{ problems: string[] }>;
  listTopics(): TopicMetadata[];
  getTopic(name: string): TopicMetadata | undefined;
  putTopic(topic: TopicMetadata): Promise<void>;
  removeTopic(name: string): Promise<void>;
  /** A new producer id (epoch 0), or for a known `name` the same id with its epoch bumped. */
  registerProducer(name: string | null): Promise<ProducerIdentity>;
  /** The current identity of an issued id (anonymous ids: epoch 0); undefined for an id never issued. */
  getProducer(producerId: number): ProducerIdentity | undefined;
}

const MAX_PRODUCER_EPOCH = 32_767;
const FIRST_PRODUCER_ID = 1;
/** Producer ids reserved on disk at a time. */
export const PRODUCER_ID_BLOCK_SIZE = 1_000;

export class LocalMetadataStore implements MetadataStore {
  private readonly topics = new Map<string, TopicMetadata>();
  private readonly producers = new Map<number, ProducerIdentity>();
  private readonly producersByName = new Map<string, number>();
  /** the next id to hand out */
  private nextProducerId = FIRST_PRODUCER_ID;
  /** ids below this may have been handed out (persisted as `nextProducerId`); the block ends here */
  private reservedUpTo = FIRST_PRODUCER_ID;
  private readonly dir: string;
  /** every write, one at a time: producer ids and epochs are reserved in order, files never race */
  private readonly writes = new Serial();

  constructor(
    private readonly io: FileIO,
    dataDir: string,
  ) {
    this.dir = join(dataDir, 'meta');
  }

  private topicPath(name: string): string {
    return join(this.dir, 'topics', `${name}.json`);
  }

  async load(): Promise<{ problems: string[] }> {
    const problems: string[] = [];
    await this.io.mkdir(join(this.dir, 'topics'));
    for (const file of await this.io.readdir(join(this.dir, 'topics'))) {
      const path = join(this.dir, 'topics', file);
      if (file.endsWith('.tmp')) {
        await this.io.unlink(path).catch(() => undefined);
        continue;
      }
      try {
        const topic = JSON.parse((await this.io.readFile(path)).toString('utf8')) as TopicMetadata;
        if (`${topic.name}.json` !== file || !isValidTopicName(topic.name) || !(topic.partitions >= 1)) throw new Error('inconsistent fields');
        this.topics.set(topic.name, topic);
      } catch (err) {
        problems.push(`${path}: ${(err as Error).message}`);
      }
    }
    const producersPath = join(this.dir, 'producers.json');
    if ((await this.io.fileSize(producersPath)) !== null) {
      try {
        const doc = JSON.parse((await this.io.readFile(producersPath)).toString('utf8')) as {
          nextProducerId: number;
          producers: ProducerIdentity[];
        };
        // Everything below the stored bound may have been handed out: the next block starts there. Anonymous
        // entries of files from before blocks are dropped (the bound covers them).
        this.nextProducerId = this.reservedUpTo = doc.nextProducerId;
        for (const p of doc.producers) if (p.name !== null) this.remember(p);
      } catch (err) {
        // Read at start-up only, so the message may name the file: the operator needs it.
        if (errnoOf(err) === null) throw new BrokerError('KAFKA_STORAGE_ERROR', `${producersPath} is corrupt: ${(err as Error).message}`, { cause: err });
        throw storageError(`reading ${producersPath}`, err, producersPath);
      }
    }
    return { problems };
  }

  listTopics(): TopicMetadata[] {
    return [...this.topics.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  getTopic(name: string): TopicMetadata | undefined {
    return this.topics.get(name);
  }

  putTopic(topic: TopicMetadata): Promise<void> {
    return this.writes.run(() => this.writeTopic(topic));
  }

  private async writeTopic(topic: TopicMetadata): Promise<void> {
    try {
      await writeFileAtomic(this.io, this.topicPath(topic.name), Buffer.from(JSON.stringify(topic, null, 2) + '\n'));
    } catch (err) {
      throw storageError(`writing metadata of topic ${topic.name}`, err, this.topicPath(topic.name));
    }
    this.topics.set(topic.name, structuredClone(topic));
  }

  removeTopic(name: string): Promise<void> {
    return this.writes.run(() => this.deleteTopicFile(name));
  }

  private async deleteTopicFile(name: string): Promise<void> {
    try {
      await this.io.unlink(this.topicPath(name)).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOENT') throw err;
      });
      await this.io.syncDirectory(join(this.dir, 'topics'));
    } catch (err) {
      throw storageError(`removing metadata of topic ${name}`, err, this.topicPath(name));
    }
    this.topics.delete(name);
  }

  registerProducer(name: string | null): Promise<ProducerIdentity> {
    return this.writes.run(() => this.issueProducer(name));
  }

  /**
   * Ids come from a block reserved on disk (`nextProducerId` in the file is the end of the block): an
   * anonymous producer costs no write until its block runs out, and is not remembered; a named one is
   * written with its epoch, which is what fences its older instances.
   */
  private async issueProducer(name: string | null): Promise<ProducerIdentity> {
    const existing = name === null ? undefined : this.producersByName.get(name);
    const current = existing === undefined ? undefined : this.producers.get(existing)!;
    // Epochs are i16 in the batch header; like Kafka, a new id is issued when they run out.
    const identity: ProducerIdentity =
      current && current.producerEpoch < MAX_PRODUCER_EPOCH
        ? { ...current, producerEpoch: current.producerEpoch + 1 }
        : { producerId: this.nextProducerId, producerEpoch: 0, name };
    const fresh = identity.producerId === this.nextProducerId;
    const reserved = fresh && this.nextProducerId >= this.reservedUpTo ? this.nextProducerId + PRODUCER_ID_BLOCK_SIZE : this.reservedUpTo;
    if (name !== null || reserved !== this.reservedUpTo) {
      const named = new Map(this.producers);
      if (name !== null) named.set(identity.producerId, identity);
      if (existing !== undefined && existing !== identity.producerId) named.delete(existing);
      const doc = { nextProducerId: reserved, producers: [...named.values()] };
      try {
        await writeFileAtomic(this.io, join(this.dir, 'producers.json'), Buffer.from(JSON.stringify(doc) + '\n'));
      } catch (err) {
        throw storageError('writing producer ids', err, join(this.dir, 'producers.json'));
      }
      if (existing !== undefined && existing !== identity.producerId) this.producers.delete(existing);
      if (name !== null) this.remember(identity);
      this.reservedUpTo = reserved;
    }
    if (fresh) this.nextProducerId++;
    return identity;
  }

  /**
   * A named producer's identity; for an id handed out anonymously (any id below the reserved block end that
   * no name holds), epoch 0, the only epoch such an id ever has. Undefined for an id never handed out.
   */
  getProducer(producerId: number): ProducerIdentity | undefined {
    const named = this.producers.get(producerId);
    if (named) return named;
    if (!Number.isSafeInteger(producerId) || producerId < FIRST_PRODUCER_ID || producerId >= this.reservedUpTo) return undefined;
    return { producerId, producerEpoch: 0, name: null };
  }

  /** Named producers remembered (anonymous ones are not: the registry does not grow with them). */
  get namedProducers(): number {
    return this.producers.size;
  }

  private remember(p: ProducerIdentity): void {
    this.producers.set(p.producerId, p);
    if (p.name !== null) this.producersByName.set(p.name, p.producerId);
  }
}

export function unknownTopic(name: string): BrokerError {
  return new BrokerError('UNKNOWN_TOPIC', `topic ${JSON.stringify(name)} does not exist`, { details: { topic: name } });
}
