/**
 * Cluster mode: topic-level JSON produce (`POST /topics/:topic/records`) is accepted by any broker. The
 * records are placed as on a single node (explicit partition, murmur2 of the key, sticky for keyless), then
 * each partition led elsewhere is forwarded to its leader as a JSON produce of that partition's records
 * alone (explicit partition and timestamp), so each partition's batch stays atomic; the offsets are combined.
 *
 * - A forwarded request carries `sluice-forwarded: 1`; a broker never forwards it again (NOT_LEADER_OR_FOLLOWER
 *   503 instead), so two brokers with different views cannot bounce a request between them.
 * - An idempotent request (`producer`) is forwarded whole, unchanged, when one other broker leads all its
 *   partitions; one that spans several leaders is refused (its sequence numbers count requests per broker).
 * - 307/503 from the leader (leadership moved) and a refused connection are retried with the newer view
 *   until the request's timeout; other failures are answered as they came.
 */
import type { FastifyRequest } from 'fastify';
import { BrokerError, type ErrorCode } from '../common/errors.js';
import type { ClusterNode } from '../cluster/cluster-node.js';
import type { JsonRecord, PlannedBatch } from './json-records.js';

export const FORWARDED_HEADER = 'sluice-forwarded';

export interface ForwardBody {
  records: JsonRecord[];
  acks?: string;
  timeoutMs?: number;
  encoding?: string;
  producer?: { id: number; epoch: number; sequence: number };
}

type Offset = { partition: number; offset: number; timestamp: number };

/** Splits planned batches into those led here and those to forward; refuses what cannot be forwarded. */
export function splitByLeader(cluster: ClusterNode, topic: string, planned: PlannedBatch[], request: FastifyRequest, producer: unknown): { local: PlannedBatch[]; remote: PlannedBatch[] } {
  const local: PlannedBatch[] = [];
  const remote: PlannedBatch[] = [];
  const leaders = new Set<number>();
  for (const batch of planned) {
    const view = cluster.leaderOf(topic, batch.partition);
    if (view.state === 'leader' && view.brokerId === cluster.brokerId) {
      local.push(batch);
      leaders.add(cluster.brokerId);
      continue;
    }
    if (request.headers[FORWARDED_HEADER] !== undefined || view.state !== 'leader') {
      throw new BrokerError('NOT_LEADER_OR_FOLLOWER', `no leader of ${topic}-${batch.partition} is known to broker ${cluster.brokerId} right now; retry shortly`, {
        details: { leader: view.state === 'leader' ? view.brokerId : -1 },
      });
    }
    remote.push(batch);
    leaders.add(view.brokerId);
  }
  if (producer && remote.length > 0 && leaders.size > 1) {
    throw new BrokerError('INVALID_REQUEST', `an idempotent JSON produce must go to partitions of one leader in cluster mode; ${topic}'s records here span brokers ${[...leaders].join(', ')} (send per partition, or use the client's binary path)`);
  }
  return { local, remote };
}

/**
 * Forwards the remote batches (each partition's records to its leader, or the whole body for an idempotent
 * request) and resolves the offsets by record index.
 */
export async function forwardBatches(
  cluster: ClusterNode,
  topic: string,
  body: ForwardBody,
  remote: PlannedBatch[],
  /** the inter-broker token (the leader checks authentication too; this broker authorized the request) */
  token: string | null = null,
): Promise<Map<number, Offset>> {
  const out = new Map<number, Offset>();
  const deadline = Date.now() + (body.timeoutMs ?? 30_000);
  if (body.producer) {
    const reply = await forwardOne(cluster, topic, remote[0]!.partition, body, deadline, token);
    reply.offsets.forEach((o, i) => out.set(i, o));
    return out;
  }
  await Promise.all(
    remote.map(async (batch) => {
      const records = batch.recordIndexes.map((index, j) => ({ ...body.records[index]!, partition: batch.partition, timestamp: batch.timestamps[j]! }));
      const forwarded = { records, ...(body.acks ? { acks: body.acks } : {}), ...(body.timeoutMs ? { timeoutMs: body.timeoutMs } : {}), ...(body.encoding ? { encoding: body.encoding } : {}) };
      const reply = await forwardOne(cluster, topic, batch.partition, forwarded, deadline, token);
      batch.recordIndexes.forEach((index, j) => out.set(index, reply.offsets[j]!));
    }),
  );
  return out;
}

async function forwardOne(cluster: ClusterNode, topic: string, partition: number, body: object, deadline: number, token: string | null): Promise<{ offsets: Offset[] }> {
  for (let delayMs = 50; ; delayMs = Math.min(delayMs * 2, 500)) {
    const view = cluster.leaderOf(topic, partition);
    let retriable: BrokerError;
    if (view.state === 'leader' && view.url !== null) {
      try {
        const response = await fetch(`${view.url}/topics/${encodeURIComponent(topic)}/records`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', [FORWARDED_HEADER]: String(cluster.brokerId), ...(token ? { authorization: `Bearer ${token}` } : {}) },
          body: JSON.stringify(body),
          redirect: 'manual',
          signal: AbortSignal.timeout(Math.max(1_000, deadline - Date.now() + 5_000)),
        });
        const json = (await response.json().catch(() => ({}))) as { offsets?: Offset[]; error?: { code?: ErrorCode; message?: string } & Record<string, unknown> };
        if (response.ok && Array.isArray(json.offsets)) return { offsets: json.offsets };
        const { code, message, retriable: _r, ...details } = json.error ?? {};
        const err = new BrokerError(code ?? 'UNKNOWN_SERVER_ERROR', `leader ${view.brokerId} of ${topic}-${partition}: ${message ?? `HTTP ${response.status}`}`, { details });
        if (response.status !== 307 && response.status !== 503) throw err;
        retriable = err;
      } catch (err) {
        if (err instanceof BrokerError) throw err;
        // Only a refused connection is surely not applied; anything else has an unknown fate.
        if ((err as { cause?: { code?: string } }).cause?.code !== 'ECONNREFUSED') {
          throw new BrokerError('REQUEST_TIMED_OUT', `forwarding to leader ${view.brokerId} of ${topic}-${partition} failed (${(err as Error).message}); the records may or may not have been appended`);
        }
        retriable = new BrokerError('NOT_LEADER_OR_FOLLOWER', `leader ${view.brokerId} of ${topic}-${partition} is not reachable`, { details: { leader: view.brokerId } });
      }
    } else {
      retriable = new BrokerError('NOT_LEADER_OR_FOLLOWER', `no leader of ${topic}-${partition} is known right now; retry shortly`, { details: { leader: -1 } });
    }
    if (Date.now() + delayMs >= deadline) throw retriable;
    await new Promise((resolve) => setTimeout(resolve, delayMs));
  }
}
