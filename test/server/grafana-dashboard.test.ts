/**
 * docs/grafana/sluice-dashboard.json queries only metrics a broker really exposes: every sluice_* name in its
 * expressions (histograms by their _bucket series) appears on a live broker's /metrics.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
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

describe('the Grafana dashboard', () => {
  it('uses only metrics the broker exposes', async () => {
    const dashboard = JSON.parse(readFileSync(fileURLToPath(new URL('../../docs/grafana/sluice-dashboard.json', import.meta.url)), 'utf8')) as {
      panels: { title: string; targets: { expr: string }[] }[];
    };
    const used = new Set(dashboard.panels.flatMap((p) => p.targets.flatMap((t) => t.expr.match(/\bsluice_[a-z0-9_]+/g) ?? [])));
    expect(used.size).toBeGreaterThan(15);
    broker = await startTestBroker(tempDir());
    const text = (await broker.app.inject({ method: 'GET', url: '/metrics' })).body;
    const exposed = new Set([...text.matchAll(/^# TYPE (sluice_[a-z0-9_]+) (\w+)$/gm)].flatMap(([, name, type]) => (type === 'histogram' ? [`${name}_bucket`, `${name}_sum`, `${name}_count`] : [name!])));
    expect([...used].filter((name) => !exposed.has(name))).toEqual([]);
  });
});
