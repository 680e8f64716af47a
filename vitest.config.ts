import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/support/azurite.global.ts'],
    // forks: each file in its own process, so a module stand-in (host emulation) never leaks between files.
    pool: 'forks',
    // Vitest's default leaves one core free, which on a 2-core machine runs the files one at a time; most
    // integration time is simulated-cloud I/O and real Retry-After waits, which overlap well.
    maxWorkers: Math.max(2, availableParallelism() - 1),
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
