/**
 * Three (or n) real `sluice serve` processes in cluster mode on one test etcd: broker ids 1..n, free
 * loopback ports, a data dir each, a cluster name of their own, brokerSessionTimeoutMs 2,000.
 */
import { join } from 'node:path';
import { BrokerProcess, freePort } from './broker-process.js';
import { uniqueClusterName } from './etcd-cluster.js';
import { waitFor } from './wait-for.js';

export const SESSION_TIMEOUT_MS = 2_000;

export class BrokerCluster {
  readonly clusterName = uniqueClusterName();
  readonly brokers = new Map<number, BrokerProcess>();

  constructor(
    readonly etcdUrl: () => string,
    readonly root: string,
  ) {}

  async add(brokerId: number, extraArgs: string[] = []): Promise<BrokerProcess> {
    const port = this.brokers.get(brokerId)?.port ?? (await freePort());
    const args = ['--etcd', this.etcdUrl(), '--broker-id', String(brokerId), '--cluster-name', this.clusterName, '--broker-session-timeout-ms', String(SESSION_TIMEOUT_MS), ...extraArgs];
    const broker = new BrokerProcess(join(this.root, `broker-${brokerId}`), port, args);
    this.brokers.set(brokerId, broker);
    return broker;
  }

  /** Starts brokers 1..n together and waits until each sees all of them alive. */
  async start(n = 3): Promise<void> {
    const list: BrokerProcess[] = [];
    for (let id = 1; id <= n; id++) list.push(this.brokers.get(id) ?? (await this.add(id)));
    await Promise.all(list.map((b) => b.start()));
    await waitFor(async () => (await Promise.all(list.map(async (b) => (await this.cluster(b)).brokers.filter((x) => x.alive).length))).every((c) => c === n), 10_000, 'every broker to see the others');
  }

  broker(id: number): BrokerProcess {
    return this.brokers.get(id)!;
  }

  async cluster(b: BrokerProcess): Promise<{ controller: number | null; brokers: { id: number; url: string; alive: boolean }[] }> {
    return (await fetch(`${b.url}/cluster`)).json() as never;
  }

  async stopAll(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    await Promise.all([...this.brokers.values()].map((b) => b.stop(signal)));
  }
}

export async function describeTopic(url: string, topic: string): Promise<{ partitions: { partition: number; leader: number; leaderEpoch: number; replicas: number[]; isr: number[] }[]; config: Record<string, unknown> }> {
  const response = await fetch(`${url}/topics/${topic}`);
  if (!response.ok) throw new Error(`describe ${topic}: ${response.status} ${await response.text()}`);
  return response.json() as never;
}

/**
 * A single-partition JSON produce as a cluster client sends it: 503 (no leader has taken its role yet, right
 * after a topic was created or a leader moved: nothing was appended) is retried until `timeoutMs`; any other
 * answer is returned. Only for requests to one partition: a multi-partition request refused by one partition
 * may have been appended on others.
 */
export async function produceWhenLed(url: string, body: unknown, timeoutMs = 10_000): Promise<{ status: number; json: any }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const reply = { status: response.status, json: await response.json() };
    if (reply.status !== 503 || Date.now() > deadline) return reply;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
