/**
 * The client as an application installs it: `npm pack` of the client package (packages/sluice-client) and of
 * the main package, each installed into a fresh app from the tarball alone (offline, from the npm cache that
 * `npm ci` filled), then a producer and a consumer from the installed package against a real broker process.
 * The client package must not bring the broker's dependencies along.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BrokerProcess, freePort } from '../helpers/broker-process.js';
import { installOffline, pack, writeOfflineApp } from '../helpers/offline-install.js';

const APP = `
import { Admin, Consumer, Producer } from '%MODULE%';
const broker = process.argv[2]; // host:port, as kcat takes it
const topic = process.argv[3];
const admin = new Admin({ broker });
await admin.createTopic({ name: topic, partitions: 2 });
const producer = new Producer({ broker, lingerMs: 2 });
for (let i = 0; i < 20; i++) await producer.send({ topic, key: 'k' + (i % 4), value: 'v' + i, headers: { n: String(i) } });
await producer.close();
const consumer = new Consumer({ broker, group: 'app', topics: [topic], autoOffsetReset: 'earliest' });
const seen = [];
for await (const r of consumer) {
  seen.push(r.value.toString() + '/' + r.headers['n'].toString());
  if (seen.length === 20) break;
}
await admin.close();
console.log(JSON.stringify(seen.sort()));
`;

let broker: BrokerProcess;
let work: string;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'sluice-install-')); // the broker's data and both apps, for the whole file
  broker = new BrokerProcess(join(work, 'data'), await freePort());
  await broker.start();
}, 30_000);

afterAll(async () => {
  await broker?.stop('SIGTERM');
  rmSync(work, { recursive: true, force: true });
});

function appWith(tarball: string, name: string, module: string): string {
  const app = join(work, name);
  mkdirSync(app);
  writeOfflineApp(app, tarball);
  installOffline(app);
  writeFileSync(join(app, 'app.mjs'), APP.replace('%MODULE%', module));
  return app;
}

function runApp(app: string, topic: string): string[] {
  const out = execFileSync(process.execPath, ['app.mjs', `127.0.0.1:${broker.port}`, topic], { cwd: app, encoding: 'utf8', timeout: 60_000 });
  return JSON.parse(out) as string[];
}

const EXPECTED = Array.from({ length: 20 }, (_, i) => `v${i}/${i}`).sort();

describe('installing the client from a tarball', () => {
  it('sluice-client: packs, installs offline with only the client\'s dependencies, produces and consumes', () => {
    const tarball = pack(work, 'packages/sluice-client');
    const app = appWith(tarball, 'client-app', 'sluice-client');
    expect(existsSync(join(app, 'node_modules/sluice-client/dist/client/index.d.ts'))).toBe(true);
    for (const brokerOnly of ['fastify', 'pino', 'prom-client', 'etcd3', 'commander']) expect(existsSync(join(app, 'node_modules', brokerOnly)), brokerOnly).toBe(false);
    expect(runApp(app, 'installed-client')).toEqual(EXPECTED);
  }, 120_000);

  it('sluice (the main package): `sluice/client` resolves from the tarball and works; the bin runs', () => {
    const tarball = pack(work);
    const app = appWith(tarball, 'main-app', 'sluice/client');
    expect(runApp(app, 'installed-main')).toEqual(EXPECTED);
    const version = execFileSync(process.execPath, [join(app, 'node_modules/sluice/bin/sluice.js'), '--version'], { encoding: 'utf8' });
    expect(version.trim()).toMatch(/^\d+\.\d+\.\d+/);
  }, 180_000);
});
