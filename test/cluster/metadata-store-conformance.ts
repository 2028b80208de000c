/**
 * The MetadataStore contract as one suite (abstract-level style): every implementation (the local files,
 * etcd) runs exactly these tests through a factory. A fixture is one empty backing store (a temp dir, a
 * fresh cluster name in etcd); `open()` gives a new store instance on it, as a broker restart would.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { MetadataStore, TopicMetadata } from '../../src/topics/metadata-store.js';

export interface StoreFixture {
  /** a new, loaded store instance on the fixture's backing store */
  open(): Promise<MetadataStore>;
  /** closes every instance opened and removes the backing store */
  cleanup(): Promise<void>;
}

const topic = (name: string, extra: Partial<TopicMetadata> = {}): TopicMetadata => ({
  name,
  partitions: 3,
  replicationFactor: 1,
  config: {},
  state: 'ready',
  createdAt: 1_700_000_000_000,
  ...extra,
});

export function describeMetadataStore(name: string, newFixture: () => Promise<StoreFixture>): void {
  describe(`MetadataStore conformance: ${name}`, () => {
    const fixtures: StoreFixture[] = [];
    afterEach(async () => {
      for (const f of fixtures.splice(0)) await f.cleanup();
    });
    const fresh = async () => {
      const fixture = await newFixture();
      fixtures.push(fixture);
      return fixture;
    };

    it('starts empty', async () => {
      const store = await (await fresh()).open();
      expect(store.listTopics()).toEqual([]);
      expect(store.getTopic('t')).toBeUndefined();
      expect(store.getProducer(1)).toBeUndefined();
    });

    it('puts, reads, overwrites and removes topics; lists them by name', async () => {
      const store = await (await fresh()).open();
      await store.putTopic(topic('orders', { state: 'creating' }));
      await store.putTopic(topic('audit', { partitions: 1 }));
      expect(store.getTopic('orders')).toEqual(topic('orders', { state: 'creating' }));
      await store.putTopic(topic('orders', { config: { retentionMs: null, segmentBytes: 1_048_576 } }));
      expect(store.getTopic('orders')).toEqual(topic('orders', { config: { retentionMs: null, segmentBytes: 1_048_576 } }));
      expect(store.listTopics().map((t) => t.name)).toEqual(['audit', 'orders']);
      await store.removeTopic('audit');
      expect(store.getTopic('audit')).toBeUndefined();
      expect(store.listTopics().map((t) => t.name)).toEqual(['orders']);
      await store.removeTopic('never-there');
    });

    it('keeps a copy: changing the object after putTopic does not change the store', async () => {
      const store = await (await fresh()).open();
      const t = topic('t');
      await store.putTopic(t);
      t.partitions = 99;
      t.config.retentionMs = 5;
      expect(store.getTopic('t')).toEqual(topic('t'));
    });

    it('topics and their lifecycle states survive a restart', async () => {
      const fixture = await fresh();
      const store = await fixture.open();
      await store.putTopic(topic('a', { state: 'creating' }));
      await store.putTopic(topic('b', { state: 'deleting', config: { retentionBytes: null } }));
      await store.putTopic(topic('c'));
      await store.removeTopic('c');
      const again = await fixture.open();
      expect(again.listTopics()).toEqual([topic('a', { state: 'creating' }), topic('b', { state: 'deleting', config: { retentionBytes: null } })]);
    });

    it('anonymous producers: new increasing ids with epoch 0, readable back, none reissued after a restart', async () => {
      const fixture = await fresh();
      const store = await fixture.open();
      const ids: number[] = [];
      for (let i = 0; i < 50; i++) {
        const identity = await store.registerProducer(null);
        expect(identity.producerEpoch).toBe(0);
        expect(identity.name).toBeNull();
        ids.push(identity.producerId);
      }
      expect(ids).toEqual([...ids].sort((a, b) => a - b));
      expect(new Set(ids).size).toBe(50);
      expect(store.getProducer(ids[7]!)).toEqual({ producerId: ids[7], producerEpoch: 0, name: null });
      expect(store.getProducer(0)).toBeUndefined();
      expect(store.getProducer(-1)).toBeUndefined();
      expect(store.getProducer(Number.MAX_SAFE_INTEGER)).toBeUndefined();
      const again = await fixture.open();
      const next = await again.registerProducer(null);
      expect(next.producerId).toBeGreaterThan(Math.max(...ids));
      expect(again.getProducer(ids[0]!)?.producerEpoch).toBe(0);
    });

    it('producer ids issued concurrently are all different', async () => {
      const store = await (await fresh()).open();
      const identities = await Promise.all(Array.from({ length: 200 }, (_, i) => store.registerProducer(i % 10 === 0 ? `named-${i}` : null)));
      expect(new Set(identities.map((p) => p.producerId)).size).toBe(200);
    });

    it('a named producer keeps its id and gets a higher epoch at every registration, also after a restart', async () => {
      const fixture = await fresh();
      const store = await fixture.open();
      const first = await store.registerProducer('billing');
      expect(first.producerEpoch).toBe(0);
      await store.registerProducer(null);
      const second = await store.registerProducer('billing');
      expect(second).toEqual({ ...first, producerEpoch: 1 });
      expect(store.getProducer(first.producerId)).toEqual(second);
      const other = await store.registerProducer('shipping');
      expect(other.producerId).not.toBe(first.producerId);
      const again = await fixture.open();
      expect(again.getProducer(first.producerId)).toEqual(second);
      expect(await again.registerProducer('billing')).toEqual({ ...first, producerEpoch: 2 });
      expect(again.getProducer(other.producerId)).toEqual(other);
    });
  });
}
