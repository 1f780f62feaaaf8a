import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['agent/**/*.test.ts', 'host-sim/**/*.test.ts', 'host-native/**/*.test.ts', 'fleet/**/*.test.ts', 'test/**/*.test.ts'],
    // Real brokers, real QuickJS: generous per-test time, and forks so a crashed wasm module stays contained.
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // The agent's text functions need a codec, as the agent gets its host's at start.
    setupFiles: ['agent/test/install-text.ts'],
  },
});
