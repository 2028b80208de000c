/** The single node as the cluster contract describes it: GET /cluster, leader epochs in describe, the cluster error codes. */
import { afterEach, describe, expect, it } from 'vitest';
import type { RunningBroker } from '../../src/server/broker.js';
import { startTestBroker } from '../helpers/broker.js';
import { useTempDirs } from '../helpers/temp-dir.js';

const tempDir = useTempDirs();
let broker: RunningBroker | null = null;
afterEach(async () => {
  await broker?.close();
  broker = null;
});

describe('single node, in the cluster contract\'s terms', () => {
  it('GET /cluster names one live broker, id 0, which is the controller', async () => {
    broker = await startTestBroker(tempDir(), { listen: true });
    const reply = await (await fetch(`${broker.url}/cluster`)).json();
    expect(reply).toEqual({ clusterName: 'sluice', controller: 0, brokers: [{ id: 0, url: broker.url, alive: true }] });
  });

  it('describe carries each partition\'s leader epoch; too many replicas is INVALID_REPLICATION_FACTOR', async () => {
    broker = await startTestBroker(tempDir());
    const call = (method: 'GET' | 'POST', url: string, payload?: object) => broker!.app.inject({ method, url, ...(payload ? { payload } : {}) });
    expect((await call('POST', '/topics', { name: 't', partitions: 2 })).statusCode).toBe(201);
    const described = (await call('GET', '/topics/t')).json();
    expect(described.partitions.map((p: { leader: number; leaderEpoch: number; isr: number[] }) => [p.leader, p.leaderEpoch, p.isr])).toEqual([
      [0, 0, [0]],
      [0, 0, [0]],
    ]);
    for (const replicationFactor of [2, 0]) {
      const refused = await call('POST', '/topics', { name: 'u', replicationFactor });
      expect(refused.statusCode).toBe(400);
      expect(refused.json().error).toMatchObject({ code: 'INVALID_REPLICATION_FACTOR', retriable: false });
    }
  });
});
