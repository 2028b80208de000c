// Builds the client package from the broker's sources: tsc compiles src/client/index.ts and what it imports
// (src/client, src/common and the pure codec modules of src/log) into dist/, after an empty dist/ so no file
// of an older build is packed. The check below fails the build if anything else was pulled in.
import { execFileSync } from 'node:child_process';
import { readdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const tsc = createRequire(join(here, '../../package.json')).resolve('typescript/bin/tsc');
rmSync(join(here, 'dist'), { recursive: true, force: true });
execFileSync(process.execPath, [tsc, '-p', join(here, 'tsconfig.json')], { stdio: 'inherit' });
const layers = readdirSync(join(here, 'dist')).sort();
const allowed = ['client', 'common', 'log'];
if (layers.some((l) => !allowed.includes(l))) throw new Error(`the client build pulled in ${layers.join(', ')}; only ${allowed.join(', ')} may be shared`);
