/**
 * Controller election against a real etcd: exactly one controller that every broker agrees on, a new one
 * with a higher epoch when the controller's process is SIGKILLed (within the session timeout plus etcd's
 * 500 ms expiry sweep), and an immediate hand-over when it resigns.
 */
import { describe, expect, it } from 'vitest';
import { ControllerElection } from '../../src/cluster/controller-election.js';
import { useEtcd } from '../helpers/etcd.js';
import { uniqueClusterName, useEtcdConnections } from '../helpers/etcd-cluster.js';
import { ClusterMemberProcess } from '../helpers/cluster-member-process.js';
import { waitFor } from '../helpers/wait-for.js';

const etcd = useEtcd();
const etcdConnections = useEtcdConnections();

function candidate(clusterName: string, brokerId: number, sessionTimeoutMs = 2_000, candidate = true): ControllerElection {
  const election = new ControllerElection(etcdConnections.connect(etcd().url, clusterName), { brokerId, sessionTimeoutMs, candidate });
  etcdConnections.closeLater(() => election.close());
  election.start();
  return election;
}

describe('controller election', () => {
  it('exactly one of three candidates is controller, and all three agree on it and its epoch', async () => {
    const cluster = uniqueClusterName();
    const elections = [1, 2, 3].map((id) => candidate(cluster, id));
    await waitFor(() => elections.filter((e) => e.isController).length === 1, 10_000, 'a controller');
    const controller = elections.find((e) => e.isController)!;
    const expected = { brokerId: controller.ownership!.brokerId, epoch: controller.ownership!.epoch };
    await waitFor(() => elections.every((e) => e.controller?.epoch === expected.epoch), 5_000, 'all to agree');
    for (const e of elections) expect(e.controller).toEqual(expected);
    expect(elections.filter((e) => e.isController)).toHaveLength(1);
  });

  it('a controller that closes hands over at once, to a controller with a higher epoch', async () => {
    const cluster = uniqueClusterName();
    const first = candidate(cluster, 1);
    await waitFor(() => first.isController, 10_000, 'broker 1 to be controller');
    const firstEpoch = first.ownership!.epoch;
    const second = candidate(cluster, 2);
    const observer = candidate(cluster, 3, 2_000, false);
    await waitFor(() => observer.controller?.brokerId === 1, 5_000, 'the observer to see broker 1');
    const resignedAt = Date.now();
    await first.close();
    await waitFor(() => second.isController, 5_000, 'broker 2 to take over');
    expect(Date.now() - resignedAt).toBeLessThan(1_000);
    expect(second.ownership!.epoch).toBeGreaterThan(firstEpoch);
    await waitFor(() => observer.controller?.brokerId === 2, 5_000, 'the observer to see broker 2');
    expect(observer.isController).toBe(false);
  });

  it('when the controller process is killed with SIGKILL another broker takes over within the session timeout (+ etcd sweep)', async () => {
    const cluster = uniqueClusterName();
    const sessionTimeoutMs = 2_000;
    const member = new ClusterMemberProcess(etcd().url, cluster, 1, sessionTimeoutMs, { campaign: true });
    try {
      const oldEpoch = Number((await member.waitForLine(/^elected /)).split(' ')[1]);
      const others = [candidate(cluster, 2, sessionTimeoutMs), candidate(cluster, 3, sessionTimeoutMs)];
      await waitFor(() => others.every((e) => e.controller?.brokerId === 1), 5_000, 'the others to see broker 1 as controller');
      const killedAt = Date.now();
      await member.kill();
      await waitFor(() => others.some((e) => e.isController), sessionTimeoutMs + 3_000, 'a new controller');
      const takeoverMs = Date.now() - killedAt;
      console.info(`new controller ${takeoverMs} ms after kill -9 of the controller (brokerSessionTimeoutMs ${sessionTimeoutMs})`);
      expect(takeoverMs).toBeLessThan(sessionTimeoutMs + 1_000);
      const winner = others.find((e) => e.isController)!;
      expect(winner.ownership!.epoch).toBeGreaterThan(oldEpoch);
      await waitFor(() => others.every((e) => e.controller?.epoch === winner.ownership!.epoch), 5_000, 'both to agree on the new controller');
      expect(others.filter((e) => e.isController)).toHaveLength(1);
    } finally {
      await member.kill();
    }
  });
});
