// Node-side tests: shared codecs, the storage node, and end-to-end tests that
// drive real processes (storage node, wrangler dev, Prometheus). The workerd
// tests have their own config (vitest.workers.config.ts): they need the
// Cloudflare pool, which runs on the tool Node.js (see scripts/tool-node.mjs).
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['wire/**/*.test.ts', 'storage-node/**/*.test.ts', 'durable/**/*.test.ts'],
          // s3rver (the S3-compatible server the bucket tests run against) makes its list
          // continuation tokens with a cipher OpenSSL 3 keeps in its legacy provider.
          execArgv: ['--openssl-legacy-provider'],
          benchmark: { include: ['wire/**/*.bench.ts', 'storage-node/**/*.bench.ts'] },
          environment: 'node',
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          benchmark: { include: [] },
          environment: 'node',
          testTimeout: 120_000,
          hookTimeout: 180_000,
          fileParallelism: false,
          globalSetup: ['test/e2e/global-setup.ts'],
        },
      },
    ],
  },
});
