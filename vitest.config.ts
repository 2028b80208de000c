import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The cluster tests run a real etcd: installed once here when missing (test/helpers/etcd.ts).
    globalSetup: ['test/helpers/etcd-global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Memory-bound tests measure retained memory after a forced collection.
    execArgv: ['--expose-gc'],
    reporters: ['default'],
  },
});
