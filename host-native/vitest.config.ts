// Runs only host-native's tests: `npx vitest run -c host-native/vitest.config.ts`. The root config must
// also include 'host-native/**/*.test.ts' for `npm test` (and CI) to run them.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  root: new URL('..', import.meta.url).pathname,
  test: {
    include: ['host-native/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 20 * 60_000,
    pool: 'forks',
  },
});
