/**
 * Tenant isolation on every read path: two tenants with overlapping metric
 * names each see only their own series, with and without match[], including
 * selectors that match everything.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { newTenant, now, read, write } from './helpers.js';

describe('tenant isolation', () => {
  const keys: Record<'a' | 'b', string> = { a: '', b: '' };
  const t = now();

  beforeAll(async () => {
    keys.a = await newTenant('iso-a', 2);
    keys.b = await newTenant('iso-b', 3);
    for (const who of ['a', 'b'] as const) {
      const series = [
        ...Array.from({ length: 5 }, (_, i) => ({ labels: [['__name__', 'shared_metric'], ['i', String(i)], ['owner', who]] as [string, string][], samples: [[t, 1]] as [number, number][] })),
        { labels: [['__name__', `only_${who}`], [`${who}_secret_label`, 'x']] as [string, string][], samples: [[t, 2]] as [number, number][] },
      ];
      expect((await write(series, {}, `Bearer ${keys[who]}`)).status).toBe(204);
    }
  });

  const as = (who: 'a' | 'b', path: string) => read(path, `Bearer ${keys[who]}`);
  const everything = encodeURIComponent('{__name__=~".+"}');
  const at = `time=${t / 1000}`;

  for (const who of ['a', 'b'] as const) {
    const other = who === 'a' ? 'b' : 'a';
    it(`tenant ${who} sees only its own series on every read path`, async () => {
      for (const path of ['series', `series?match[]=${everything}`, `series?match[]=shared_metric`]) {
        const { body } = await as(who, path.includes('match') ? path : `${path}?match[]=${everything}`);
        expect(body.status, path).toBe('success');
        expect(body.data.length, path).toBeGreaterThan(0);
        expect(body.data.every((s: Record<string, string>) => s.owner === who || s.__name__ === `only_${who}`), path).toBe(true);
      }
      for (const path of ['labels', `labels?match[]=${everything}`]) {
        const names = (await as(who, path)).body.data as string[];
        expect(names).toContain(`${who}_secret_label`);
        expect(names).not.toContain(`${other}_secret_label`);
      }
      for (const path of ['label/__name__/values', `label/__name__/values?match[]=${everything}`]) {
        const values = (await as(who, path)).body.data as string[];
        expect(values).toEqual(['only_' + who, 'shared_metric']);
      }
      expect((await as(who, 'label/owner/values')).body.data).toEqual([who]);
      expect((await as(who, `label/${other}_secret_label/values`)).body.data).toEqual([]);

      const count = await as(who, `query?query=${encodeURIComponent('count({__name__=~".+"})')}&${at}`);
      expect(count.body.data.result[0].value[1]).toBe('6');
      const owners = await as(who, `query?query=${encodeURIComponent('count by (owner) (shared_metric)')}&${at}`);
      expect(owners.body.data.result.map((r: any) => r.metric.owner)).toEqual([who]);
      const range = await as(who, `query_range?query=${encodeURIComponent(`sum(only_${other}) or vector(0)`)}&start=${t / 1000 - 60}&end=${t / 1000}&step=60`);
      expect(range.body.data.result.map((r: any) => r.values.map((v: [number, string]) => v[1]))).toEqual([['0', '0']]);
    });
  }

  it('a key used with another tenant\u2019s name in Basic auth is refused', async () => {
    const basic = `Basic ${btoa(`iso-b:${keys.a}`)}`;
    const r = await read('labels', basic);
    expect(r.status).toBe(401);
    expect(r.text).not.toMatch(/iso-a|b_secret_label|a_secret_label/);
  });
});
