/**
 * The one MetadataStore suite (metadata-store-conformance.ts) against both implementations: the local
 * files of a single-node broker, and etcd (a real etcd on loopback, one fresh cluster name per fixture).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectEtcd } from '../../src/cluster/etcd-client.js';
import { EtcdMetadataStore } from '../../src/cluster/etcd-metadata-store.js';
import { nodeFileIO } from '../../src/log/file-io.js';
import { LocalMetadataStore } from '../../src/topics/metadata-store.js';
import { useEtcd } from '../helpers/etcd.js';
import { uniqueClusterName } from '../helpers/etcd-cluster.js';
import { describeMetadataStore } from './metadata-store-conformance.js';

describeMetadataStore('LocalMetadataStore', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-meta-'));
  return {
    async open() {
      const store = new LocalMetadataStore(nodeFileIO, dir);
      await store.load();
      return store;
    },
    async cleanup() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

const etcd = useEtcd();

describeMetadataStore('EtcdMetadataStore', async () => {
  const clusterName = uniqueClusterName();
  const opened: { store: EtcdMetadataStore; close: () => void }[] = [];
  return {
    async open() {
      const connection = connectEtcd({ endpoints: [etcd().url], clusterName });
      const store = new EtcdMetadataStore(connection);
      await store.load();
      opened.push({ store, close: connection.close });
      return store;
    },
    async cleanup() {
      for (const { store, close } of opened.splice(0)) {
        await store.close();
        close();
      }
    },
  };
});
