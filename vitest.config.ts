import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Memory-bound tests measure retained memory after a forced collection.
    execArgv: ['--expose-gc'],
    reporters: ['default'],
  },
});
