import { SELF } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';

describe("Prometheus's health and readiness probes", () => {
  // Grafana 10.0's "Save & test" first calls <datasource URL>/-/healthy.
  it.each(['', '/prometheus'])('%s/-/healthy and %s/-/ready answer 200 without a key, to GET and HEAD', async (prefix) => {
    for (const path of ['/-/healthy', '/-/ready']) {
      const get = await SELF.fetch(`http://isobar.test${prefix}${path}`);
      expect(get.status, `${prefix}${path}`).toBe(200);
      expect(await get.text()).toMatch(/^Isobar is (Healthy|Ready)\.\n$/);
      const head = await SELF.fetch(`http://isobar.test${prefix}${path}`, { method: 'HEAD' });
      expect(head.status).toBe(200);
      expect(await head.text()).toBe('');
    }
  });

  it('other paths under the datasource URL still need a key', async () => {
    expect((await SELF.fetch('http://isobar.test/prometheus/api/v1/labels')).status).toBe(401);
  });
});
