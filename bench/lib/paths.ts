/**
 * Where results and docs live. The bench code runs compiled from dist/bench/, so paths are found from the
 * project root (the nearest directory above this file with a package.json), not from the working directory.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function findProjectRoot(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) throw new Error(`no package.json above ${from}`);
  }
}

export const projectRoot = findProjectRoot(dirname(fileURLToPath(import.meta.url)));
export const resultsDir = join(projectRoot, 'bench', 'results');
export const benchmarksDoc = join(projectRoot, 'docs', 'benchmarks.md');
