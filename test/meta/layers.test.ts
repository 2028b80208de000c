/**
 * Import control (as Kafka's import-control rules): dependencies point one way,
 * common <- log <- replication <- topics <- groups <- cluster <- server <- main/cli, and the client shares only
 * pure modules. replication is the partition layer (Partition, produce and fetch, followers); topics holds the
 * topic manager and metadata stores; groups the consumer groups; cluster (membership, controller, metadata on
 * etcd, the cluster-mode broker) may use everything below it, never server.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SRC = fileURLToPath(new URL('../../src/', import.meta.url));

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sources(path) : path.endsWith('.ts') ? [path] : [];
  });
}

function importsOf(path: string): string[] {
  const text = readFileSync(path, 'utf8');
  return [...text.matchAll(/(?:import|export)[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g)].map((m) => (m[1] ?? m[2])!);
}

const layerOf = (path: string) => relative(SRC, path).split('/')[0]!;
const NETWORK = /^(fastify|undici|etcd3|node:http|node:https|node:net|http|https|net|@fastify\/.*|prom-client)$/;
/** What each layer may import from src/. */
const ALLOWED: Record<string, string[]> = {
  // Pure modules shared by every layer and the client: the error type, the settings table machinery, the
  // partitioner hash, wire formats; they may use the pure codec parts of src/log.
  common: ['common'],
  log: ['log', 'common'],
  replication: ['log', 'common', 'replication'],
  topics: ['log', 'common', 'replication', 'topics'],
  groups: ['log', 'common', 'replication', 'topics', 'groups'],
  // Principals, ACLs, tokens, quotas: pure, used by the server's hooks and any other front door.
  security: ['common', 'security'],
  'share-groups': ['log', 'common', 'replication', 'topics', 'groups', 'share-groups'],
  cluster: ['log', 'common', 'replication', 'topics', 'groups', 'share-groups', 'cluster', 'security'],
  server: ['log', 'common', 'replication', 'topics', 'groups', 'share-groups', 'cluster', 'security', 'server'],
  // The Kafka protocol listener: a front door beside server (neither imports the other; cli composes them).
  kafka: ['log', 'common', 'replication', 'topics', 'groups', 'share-groups', 'cluster', 'security', 'kafka'],
  client: ['client', 'common'],
  cli: ['log', 'common', 'replication', 'topics', 'groups', 'share-groups', 'cluster', 'security', 'server', 'kafka', 'client', 'cli'],
  'main.ts': ['log', 'common', 'replication', 'topics', 'groups', 'share-groups', 'cluster', 'security', 'server', 'kafka', 'client', 'cli'],
};
/**
 * The CLI commands that talk to a broker are a thin shell over sluice/client: no HTTP of their own, no
 * storage, no files (only `dump-log` reads segment files, and `serve` runs the broker).
 */
const BROKER_COMMANDS = ['cli/topics.ts', 'cli/groups.ts', 'cli/reset-offsets.ts', 'cli/retention.ts', 'cli/produce.ts', 'cli/consume.ts', 'cli/broker-command.ts', 'cli/output.ts', 'cli/share-groups.ts', 'cli/share-consume.ts'];
const SHELL_MAY_IMPORT = /^(commander|node:stream|node:events|\.\/[a-z-]+\.js|\.\.\/client\/[a-z-]+\.js)$/;

/** The pure modules of src/log the client may share. */
const CLIENT_MAY_SHARE = ['log/record-batch.ts', 'log/buffers.ts', 'log/compression.ts', 'log/crc32c.ts', 'log/batch-decoder.ts', 'log/request-tag.ts'];

describe('layering', () => {
  const files = sources(SRC);

  it('finds the sources', () => {
    expect(files.length).toBeGreaterThan(10);
  });

  it('src/log imports no network library and nothing from the layers above (only the shared pure modules)', () => {
    for (const file of files.filter((f) => layerOf(f) === 'log')) {
      for (const spec of importsOf(file)) {
        expect(NETWORK.test(spec), `${relative(SRC, file)} imports ${spec}`).toBe(false);
        if (spec.startsWith('.')) expect(['log', 'common'], `${relative(SRC, file)} imports ${spec}`).toContain(layerOf(join(file, '..', spec)));
      }
    }
  });

  it('src/security imports no network library', () => {
    for (const file of files.filter((f) => layerOf(f) === 'security')) {
      for (const spec of importsOf(file)) expect(NETWORK.test(spec), `${relative(SRC, file)} imports ${spec}`).toBe(false);
    }
  });

  it('src/cluster exists and reaches no server and no HTTP library', () => {
    const cluster = files.filter((f) => layerOf(f) === 'cluster');
    expect(cluster.length).toBeGreaterThan(0);
    for (const file of cluster) {
      for (const spec of importsOf(file)) {
        expect(/^(fastify|undici|@fastify\/.*|node:http|node:https)$/.test(spec), `${relative(SRC, file)} imports ${spec}`).toBe(false);
      }
    }
  });

  it('every layer imports only from the layers below it', () => {
    for (const file of files) {
      const layer = layerOf(file);
      for (const spec of importsOf(file).filter((s) => s.startsWith('.'))) {
        const target = relative(SRC, join(file, '..', spec)).replace(/\.js$/, '.ts');
        const targetLayer = target.split('/')[0]!;
        const ok = ALLOWED[layer]!.includes(targetLayer) || ((layer === 'client' || layer === 'common') && CLIENT_MAY_SHARE.includes(target));
        expect(ok, `${relative(SRC, file)} (${layer}) imports ${target}`).toBe(true);
      }
    }
  });

  it('the broker commands of the CLI import only sluice/client, commander and each other', () => {
    for (const name of BROKER_COMMANDS) {
      const file = join(SRC, name);
      for (const spec of importsOf(file)) expect(SHELL_MAY_IMPORT.test(spec), `${name} imports ${spec}`).toBe(true);
    }
  });
});
