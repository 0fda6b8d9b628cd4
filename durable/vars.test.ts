import { describe, expect, it } from 'vitest';
import { BUILTIN_LIMITS } from './limits.js';
import { edgeConfig, EdgeConfigError, type EdgeVars } from './vars.js';

const base = { ISOBAR_NODE_SECRET: 'node-secret-0123456789', ISOBAR_ADMIN_TOKEN: 'admin-token-0123456789' };

describe('edge configuration', () => {
  it('takes defaults for unset and empty variables, and parses each value once per environment', () => {
    const env = { ...base, ISOBAR_NODE_URLS: ' http://127.0.0.1:8790 , http://10.0.0.2:8790', ISOBAR_NODE_COUNT: '', ISOBAR_MAX_SERIES: '1000' } as EdgeVars;
    const c = edgeConfig(env);
    expect(c).toMatchObject({ env: 'development', nodeUrls: ['http://127.0.0.1:8790', 'http://10.0.0.2:8790'], nodeCount: 1, demoShards: 1, keyCacheTtlSeconds: 30, logLevel: 'info', maxDecompressedBytes: 32 * 1024 * 1024, s3: undefined });
    expect(c.limits).toEqual({ ...BUILTIN_LIMITS, maxSeries: 1000 });
    expect(edgeConfig(env)).toBe(c);
  });

  it('refuses bad values loudly, naming every bad variable and never a secret\u2019s value', () => {
    const env = { ...base, ISOBAR_NODE_SECRET: 'short-secret', ISOBAR_NODE_COUNT: 'two', ISOBAR_LOG_LEVEL: 'loud', ISOBAR_NODE_URLS: 'ftp://x', ISOBAR_MAX_SERIES: '-5' } as unknown as EdgeVars;
    let err: unknown;
    try {
      edgeConfig(env);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(EdgeConfigError);
    const msg = (err as Error).message;
    expect(msg).toMatch(/ISOBAR_NODE_SECRET must be at least 16 characters/);
    expect(msg).toMatch(/ISOBAR_NODE_COUNT="two" must be a positive integer/);
    expect(msg).toMatch(/ISOBAR_LOG_LEVEL="loud"/);
    expect(msg).toMatch(/ISOBAR_NODE_URLS="ftp:\/\/x" must be comma-separated http\(s\) URLs/);
    expect(msg).toMatch(/ISOBAR_MAX_SERIES="-5" is not a valid maxSeries/);
    expect(msg).not.toContain('short-secret');
  });

  it('requires the secrets', () => {
    expect(() => edgeConfig({} as EdgeVars)).toThrow(/ISOBAR_NODE_SECRET is required.*ISOBAR_ADMIN_TOKEN is required/);
  });
});
