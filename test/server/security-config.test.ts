/**
 * Security misconfiguration is refused at start-up with a clear message: TLS files that do not go together or
 * cannot be read, an auth file that does not parse, an inter-broker token whose principal is not a cluster
 * admin. A valid inter-broker token is an admin principal.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, loadBrokerConfig } from '../../src/server/broker-config.js';
import type { RunningBroker } from '../../src/server/broker.js';
import { newToken } from '../../src/security/tokens.js';
import { startTestBroker } from '../helpers/broker.js';
import { useTempDirs } from '../helpers/temp-dir.js';

const tempDir = useTempDirs();
let broker: RunningBroker | null = null;
afterEach(async () => {
  await broker?.close();
  broker = null;
});

describe('security settings at start-up', () => {
  it('tlsCert and tlsKey go together; tlsCa needs them', () => {
    expect(() => loadBrokerConfig({ overrides: { tlsCert: '/x.pem' } })).toThrow(/tlsCert and tlsKey go together/);
    expect(() => loadBrokerConfig({ overrides: { tlsCa: '/ca.pem' } })).toThrow(/tlsCa \(mutual TLS\) needs tlsCert/);
    expect(() => loadBrokerConfig({ flags: { quotaRequestsPerSec: '0' } })).toThrow(ConfigError);
    expect(loadBrokerConfig({ env: { SLUICE_QUOTA_PRODUCE_BYTES_PER_SEC: '1000', SLUICE_GROUP_MAX_SIZE: '5' } })).toMatchObject({ quotaProduceBytesPerSec: 1000, groupMaxSize: 5, maxConnections: 10_000 });
  });

  it('an unreadable certificate, or an auth file that does not parse, refuses to start', async () => {
    const dir = tempDir();
    await expect(startTestBroker(join(dir, 'a'), { overrides: { tlsCert: join(dir, 'missing.pem'), tlsKey: join(dir, 'missing.key') } })).rejects.toThrow(/cannot read tlsCert .*ENOENT/);
    writeFileSync(join(dir, 'auth.json'), JSON.stringify({ principals: [{ name: 'a', acls: [{ resource: 'topic', name: 't', operations: ['reed'] }] }] }));
    await expect(startTestBroker(join(dir, 'b'), { overrides: { authFile: join(dir, 'auth.json') } })).rejects.toThrow(/unknown operation "reed"/);
  });

  it('the inter-broker token must belong to a cluster admin', async () => {
    const dir = tempDir();
    const peer = newToken();
    const user = newToken();
    const authFile = join(dir, 'auth.json');
    writeFileSync(
      authFile,
      JSON.stringify({
        principals: [
          { name: 'broker', tokenSha256: peer.tokenSha256, acls: [{ resource: 'cluster', name: 'sluice', pattern: 'literal', operations: ['admin'] }] },
          { name: 'user', tokenSha256: user.tokenSha256, acls: [{ resource: 'cluster', name: 'sluice', pattern: 'literal', operations: ['describe'] }] },
        ],
      }),
    );
    await expect(startTestBroker(join(dir, 'a'), { overrides: { authFile, interBrokerToken: user.token } })).rejects.toThrow(/interBrokerToken must be the token of a principal .* admin on cluster/);
    await expect(startTestBroker(join(dir, 'b'), { overrides: { authFile, interBrokerToken: newToken().token } })).rejects.toThrow(/interBrokerToken/);
    broker = await startTestBroker(join(dir, 'c'), { overrides: { authFile, interBrokerToken: peer.token } });
    const created = await broker.app.inject({ method: 'POST', url: '/topics', headers: { authorization: `Bearer ${peer.token}`, 'content-type': 'application/json' }, payload: '{"name":"t"}' });
    expect(created.statusCode).toBe(201);
    const principal = broker.app.security.authenticator.authenticate(peer.token);
    expect(principal?.name).toBe('broker');
  });
});
