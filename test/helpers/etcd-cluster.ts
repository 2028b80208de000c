/**
 * Helpers for tests against the test etcd (etcd.ts): a fresh cluster name per test (so tests sharing one
 * etcd never see each other's keys) and connections that are closed after each test.
 */
import { randomBytes } from 'node:crypto';
import { afterEach } from 'vitest';
import { connectEtcd, type EtcdConnection } from '../../src/cluster/etcd-client.js';

export function uniqueClusterName(): string {
  return `test-${randomBytes(6).toString('hex')}`;
}

/**
 * `connect(url, clusterName)` opens a connection; each registered `closer` (a store, registry, ...) runs
 * after the test, newest first, then the connections close.
 */
export function useEtcdConnections(): {
  connect(url: string, clusterName: string): EtcdConnection;
  closeLater(close: () => Promise<unknown> | unknown): void;
} {
  const connections: EtcdConnection[] = [];
  const closers: (() => Promise<unknown> | unknown)[] = [];
  afterEach(async () => {
    for (const close of closers.splice(0).reverse()) await close();
    for (const c of connections.splice(0)) c.close();
  });
  return {
    connect(url, clusterName) {
      const connection = connectEtcd({ endpoints: [url], clusterName });
      connections.push(connection);
      return connection;
    },
    closeLater(close) {
      closers.push(close);
    },
  };
}
