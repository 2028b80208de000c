import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BROKER_DEFAULTS, BROKER_SETTINGS, loadBrokerConfig } from '../../src/server/broker-config.js';
import { envOf, flagOf } from '../../src/common/settings.js';
import { useTempDirs } from '../helpers/temp-dir.js';

const tempDir = useTempDirs();

describe('broker config', () => {
  it('has the contract defaults', () => {
    expect(BROKER_DEFAULTS).toMatchObject({ dataDir: './data', host: '127.0.0.1', port: 8080, fsync: 'always', maxRequestBytes: 16_777_216, retentionMs: 1_209_600_000, retentionCheckIntervalMs: 300_000 });
  });

  it('bounds slow clients tighter than Node does, and log buffering', () => {
    expect(BROKER_DEFAULTS).toMatchObject({ maxHeaderBytes: 16_384, requestHeadersTimeoutMs: 10_000, requestTimeoutMs: 60_000, logBufferBytes: 4_194_304 });
    expect(() => loadBrokerConfig({ flags: { requestHeadersTimeoutMs: '20000', requestTimeoutMs: '15000' } })).toThrow(/requestHeadersTimeoutMs \(20000\) must not be above requestTimeoutMs \(15000\)/);
  });

  it('has the cluster contract keys and checks their values', () => {
    expect(BROKER_DEFAULTS).toMatchObject({ etcd: null, brokerId: 0, advertisedUrl: null, clusterName: 'sluice', brokerSessionTimeoutMs: 6_000, replicaLagTimeMaxMs: 30_000, defaultReplicationFactor: 1, uncleanLeaderElection: false });
    const config = loadBrokerConfig({ env: { SLUICE_ETCD: 'http://127.0.0.1:2379,http://10.0.0.2:2379' }, flags: { brokerId: '3', advertisedUrl: 'http://b3:8080', uncleanLeaderElection: 'true' } });
    expect(config).toMatchObject({ etcd: 'http://127.0.0.1:2379,http://10.0.0.2:2379', brokerId: 3, advertisedUrl: 'http://b3:8080', uncleanLeaderElection: true });
    expect(() => loadBrokerConfig({ flags: { etcd: 'localhost:2379', advertisedUrl: 'http://b3:8080/x', clusterName: 'a/b', brokerId: '-1' } })).toThrow(
      /brokerId must be >= 0[\s\S]*etcd must be comma-separated[\s\S]*advertisedUrl must be an http\(s\):\/\/host:port URL without a path[\s\S]*clusterName must be made of/,
    );
  });

  it('derives flags and env vars from keys', () => {
    expect(flagOf('dataDir')).toBe('--data-dir');
    expect(envOf('dataDir')).toBe('SLUICE_DATA_DIR');
    expect(envOf('messageTimestampAfterMaxMs')).toBe('SLUICE_MESSAGE_TIMESTAMP_AFTER_MAX_MS');
    expect(new Set(BROKER_SETTINGS.map((s) => s.key)).size).toBe(BROKER_SETTINGS.length);
  });

  it('applies flag > env > file > default', () => {
    const file = join(tempDir(), 'sluice.json');
    writeFileSync(file, JSON.stringify({ port: 1000, host: '0.0.0.0', fsync: 'never', retentionMs: null }));
    const config = loadBrokerConfig({ file, env: { SLUICE_PORT: '2000', SLUICE_FSYNC: 'interval' }, flags: { port: '3000' } });
    expect(config).toMatchObject({ port: 3000, fsync: 'interval', host: '0.0.0.0', retentionMs: null, dataDir: './data' });
  });

  it('refuses unknown keys and bad values, naming every problem', () => {
    const file = join(tempDir(), 'bad.json');
    writeFileSync(file, JSON.stringify({ prot: 1, maxRequestBytes: 5 }));
    expect(() => loadBrokerConfig({ file, env: { SLUICE_FSYNC: 'sometimes', SLUICE_PORT: '80a' }, flags: { segmentBytes: '12' } })).toThrow(
      /unknown setting "prot"[\s\S]*maxRequestBytes must be >= 1024[\s\S]*port must be an integer[\s\S]*fsync must be one of always, interval, never[\s\S]*segmentBytes must be >= 1024/,
    );
    expect(() => loadBrokerConfig({ file: join(tempDir(), 'missing.json') })).toThrow(/cannot read config file/);
  });
});
