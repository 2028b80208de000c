/** `sluice/client` resolves through package.json `exports` to the compiled client, with its type declarations. */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

describe('package exports', () => {
  it('import("sluice/client") gives Producer, Consumer, ShareConsumer, Admin and the error class', () => {
    const script = "const c = await import('sluice/client'); console.log(Object.keys(c).sort().join(','));";
    const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8' });
    expect(run.stderr).toBe('');
    expect(run.stdout.trim()).toBe('Admin,BrokerError,Consumer,ERROR_CODES,Producer,ShareConsumer,ShareMessage,isBrokerError');
    expect(existsSync(`${ROOT}dist/src/client/index.d.ts`)).toBe(true);
  });
});
