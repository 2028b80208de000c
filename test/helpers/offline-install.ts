/**
 * Installs a packed tarball into a fresh app the way a user's `npm install ./pkg.tgz` does, but offline: the
 * app gets a package-lock.json whose third-party entries are copied from this repository's lock (the versions
 * and integrity hashes `npm ci` put in the npm cache), so `npm ci --offline` needs no network and no registry
 * metadata. Only the dependencies the tarball's package.json declares (and theirs) are installed.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

interface LockEntry {
  version?: string;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  [field: string]: unknown;
}

/** The package.json inside a tarball (npm packs it as package/package.json). */
export function manifestOf(tarball: string): { name: string; version: string; dependencies?: Record<string, string> } {
  return JSON.parse(execFileSync('tar', ['-xOzf', tarball, 'package/package.json'], { encoding: 'utf8' }));
}

/** Writes package.json and package-lock.json for an app that depends on `tarball` (copied next to it). */
export function writeOfflineApp(appDir: string, tarball: string): void {
  const manifest = manifestOf(tarball);
  const file = `file:${tarball}`;
  const rootLock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockEntry> };
  // The repository's overrides (cookie for Node 20) apply to the app too, or its lock would not match.
  const overrides = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { overrides?: Record<string, string> }).overrides;
  const packages: Record<string, LockEntry> = {
    '': { name: 'app', version: '1.0.0', dependencies: { [manifest.name]: file } },
    [`node_modules/${manifest.name}`]: {
      version: manifest.version,
      resolved: file,
      integrity: `sha512-${createHash('sha512').update(readFileSync(tarball)).digest('base64')}`,
      ...(manifest.dependencies ? { dependencies: manifest.dependencies } : {}),
    },
  };
  // The closure of the tarball's dependencies, at the paths this repository's lock has them (resolved as Node
  // does: the nearest node_modules/NAME from the dependent's own path upwards).
  const resolve = (from: string, name: string): string | null => {
    for (let dir = from; ; dir = dir.slice(0, Math.max(0, dir.lastIndexOf('/node_modules/')))) {
      const key = dir === '' ? `node_modules/${name}` : `${dir}/node_modules/${name}`;
      if (rootLock.packages[key]) return key;
      if (dir === '') return null;
    }
  };
  const queue: [string, string][] = Object.keys(manifest.dependencies ?? {}).map((name) => ['', name]);
  while (queue.length > 0) {
    const [from, name] = queue.shift()!;
    const key = resolve(from, name);
    if (key === null) throw new Error(`${name} is not in package-lock.json: the package cannot depend on it`);
    if (packages[key]) continue;
    const entry = rootLock.packages[key]!;
    const { dev: _dev, devOptional: _devOptional, peer: _peer, ...kept } = entry;
    packages[key] = kept;
    for (const dep of [...Object.keys(entry.dependencies ?? {}), ...Object.keys(entry.optionalDependencies ?? {})]) queue.push([key, dep]);
  }
  writeFileSync(join(appDir, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true, type: 'module', dependencies: { [manifest.name]: file }, ...(overrides ? { overrides } : {}) }, null, 2));
  writeFileSync(join(appDir, 'package-lock.json'), JSON.stringify({ name: 'app', version: '1.0.0', lockfileVersion: 3, requires: true, packages }, null, 2));
}

/** `npm ci --offline` in the app: from the lock and the npm cache only. */
export function installOffline(appDir: string): string {
  return execFileSync('npm', ['ci', '--offline', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: appDir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Packs a package (the root, or a workspace) into `destination`; returns the tarball's path. */
export function pack(destination: string, workspace?: string): string {
  const out = execFileSync('npm', ['pack', '--json', '--pack-destination', destination, ...(workspace ? ['-w', workspace] : [])], {
    cwd: ROOT,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const [info] = JSON.parse(out) as { filename: string }[];
  return join(destination, basename(info!.filename));
}
