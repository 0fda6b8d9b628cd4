// Worker and Durable Object tests, inside workerd, through Cloudflare's vitest
// integration. Run by `npm test` under the tool Node.js (scripts/tool-node.mjs),
// against a real storage-node process started by the global setup.
import { cloudflareTest } from '@cloudflare/vitest-plugin';
import { defineConfig } from 'vitest/config';
import { TEST_NODE_SECRET } from './test/support/node-process.js';

export const TEST_ADMIN_TOKEN = 'test-admin-token';
export const TEST_DEMO_KEY = 'isb_demo_test-demo-key-0123456789';

export default defineConfig({
  plugins: [
    cloudflareTest(({ inject }) => ({
      wrangler: { configPath: './wrangler.toml' },
      miniflare: {
        bindings: {
          ISOBAR_NODE_URLS: `http://127.0.0.1:${inject('nodePort')}`,
          ISOBAR_NODE_SECRET: TEST_NODE_SECRET,
          ISOBAR_ADMIN_TOKEN: TEST_ADMIN_TOKEN,
          ISOBAR_DEMO_KEY: TEST_DEMO_KEY,
          ISOBAR_DEMO_SHARDS: '4',
          ISOBAR_MAX_BODY_BYTES: String(1024 * 1024),
          ISOBAR_MAX_DECOMPRESSED_BYTES: String(4 * 1024 * 1024),
          ISOBAR_LOG_LEVEL: 'error',
          // Short, so the test of revocation can wait out the edge's key cache.
          ISOBAR_KEY_CACHE_TTL_SECONDS: '1',
          CONTROL_URL: inject('controlUrl'),
        },
      },
    })),
  ],
  test: {
    name: 'workers',
    include: ['test/workers/**/*.test.ts'],
    globalSetup: ['test/workers/global-setup.ts'],
    testTimeout: 30_000,
    fileParallelism: false,
  },
});
