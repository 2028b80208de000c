/**
 * kcat (librdkafka) against a real `sluice serve --kafka-listener`: metadata, 10,000 keyed lines produced and
 * consumed back byte for byte, a balanced consumer group whose commits the HTTP API shows, and records
 * crossing between the two front doors.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureKcat, kcat, startKafkaBroker, type KafkaBroker } from '../helpers/kafka.js';
import { postJson } from '../helpers/broker-process.js';

describe('kcat against the Kafka listener', () => {
  let k: KafkaBroker;
  let dir: string;

  beforeAll(async () => {
    ensureKcat();
    dir = mkdtempSync(join(tmpdir(), 'sluice-kcat-'));
    k = await startKafkaBroker(dir);
    expect((await postJson(`${k.broker.url}/topics`, { name: 'lines', partitions: 4 })).status).toBe(201);
  }, 300_000);

  afterAll(async () => {
    await k?.broker.stop('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  });

  it('-L lists this broker, the topics and their leaders', async () => {
    const { stdout } = await kcat(['-b', k.bootstrap, '-L', '-J']);
    const meta = JSON.parse(stdout.toString());
    expect(meta.brokers).toEqual([{ id: 0, name: k.bootstrap }]);
    const lines = meta.topics.find((t: any) => t.topic === 'lines');
    expect(lines.partitions.map((p: any) => [p.partition, p.leader])).toEqual([[0, 0], [1, 0], [2, 0], [3, 0]]);
  });

  it('-P 10,000 keyed lines, -C returns them byte for byte, placed by murmur2 as the HTTP API places keys', async () => {
    const lines = Array.from({ length: 10_000 }, (_, i) => `key-${i % 997}:value ${i} ${'é'.repeat(i % 5)} ${'x'.repeat(i % 300)}`);
    await kcat(['-b', k.bootstrap, '-P', '-t', 'lines', '-K:', '-X', 'partitioner=murmur2_random', '-X', 'enable.idempotence=true'], lines.join('\n') + '\n');
    const { stdout } = await kcat(['-b', k.bootstrap, '-C', '-t', 'lines', '-e', '-o', 'beginning', '-f', '%p %k:%s\n']);
    const consumed = stdout.toString('utf8').trimEnd().split('\n');
    expect(consumed).toHaveLength(10_000);
    const byPartition = new Map<string, number>();
    for (const line of consumed) {
      const [p, rest] = [line.slice(0, line.indexOf(' ')), line.slice(line.indexOf(' ') + 1)];
      byPartition.set(rest.slice(0, rest.indexOf(':')), Number(p));
    }
    expect(consumed.map((l) => l.slice(l.indexOf(' ') + 1)).sort()).toEqual([...lines].sort());
    // Order within a key is kept (one key, one partition).
    const k7 = consumed.filter((l) => l.includes(' key-7:')).map((l) => Number(l.split(' ')[2]));
    expect(k7).toEqual([...k7].sort((a, b) => a - b));
    // The HTTP API's keyed produce puts key-7 on the same partition kcat's murmur2 partitioner chose.
    const { json } = await postJson(`${k.broker.url}/topics/lines/records`, { records: [{ key: 'key-7', value: 'over http' }] });
    expect(json.offsets[0].partition).toBe(byPartition.get('key-7'));
  }, 120_000);

  it('-G consumes in a group and its commits show in the HTTP group API', async () => {
    await postJson(`${k.broker.url}/topics`, { name: 'grouped', partitions: 3 });
    const records = Array.from({ length: 300 }, (_, i) => ({ key: `k${i}`, value: `v${i}` }));
    expect((await postJson(`${k.broker.url}/topics/grouped/records`, { records })).status).toBe(200);
    const { stdout } = await kcat(['-b', k.bootstrap, '-G', 'kcat-group', '-o', 'beginning', '-c', '300', '-f', '%k=%s\n', 'grouped']);
    expect(stdout.toString().trimEnd().split('\n').sort()).toEqual(records.map((r) => `${r.key}=${r.value}`).sort());
    const offsets = (await (await fetch(`${k.broker.url}/groups/kcat-group/offsets`)).json()) as any;
    expect(offsets.offsets.reduce((n: number, o: any) => n + o.offset, 0)).toBe(300);
  }, 120_000);

  it('records produced over HTTP are read by kcat, with headers', async () => {
    await postJson(`${k.broker.url}/topics`, { name: 'from-http', partitions: 1 });
    await postJson(`${k.broker.url}/topics/from-http/records`, { records: [{ key: 'a', value: 'hello', headers: { h: 'x' } }, { value: 'world' }] });
    const { stdout } = await kcat(['-b', k.bootstrap, '-C', '-t', 'from-http', '-e', '-o', 'beginning', '-f', '%o %k %s %h\n']);
    expect(stdout.toString().trimEnd().split('\n')).toEqual(['0 a hello h=x', '1  world']);
  }, 60_000);
});
