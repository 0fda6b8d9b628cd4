/**
 * Backfill with `isobar import` against the running stack: blocks made by
 * Debian's promtool from OpenMetrics, an OpenMetrics file converted by the
 * CLI itself, an import killed halfway and rerun (one copy of the data), and
 * a block outside the tenant's retention refused before anything is sent.
 */
import { execFile, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { hasPromtool } from '../support/peers.js';
import { useStack } from '../support/stack.js';

const exec = promisify(execFile);
const BIN = join(import.meta.dirname, '../../bin/isobar.mjs');
const tmp = (p: string) => mkdtempSync(join(tmpdir(), p));

/** OpenMetrics text: `series` series of `metric`, `points` samples each, every `stepS` seconds from `fromMs`. */
function openMetrics(metric: string, series: number, points: number, fromMs: number, stepS: number): string {
  const lines = [`# TYPE ${metric} gauge`];
  for (let i = 0; i < series; i++) {
    for (let k = 0; k < points; k++) lines.push(`${metric}{host="h-${i}",zone="z\\"${i % 3}"} ${(i * 1.5 + k) % 97} ${(fromMs / 1000 + k * stepS).toFixed(3)}`);
  }
  lines.push('# EOF', '');
  return lines.join('\n');
}

describe.skipIf(!hasPromtool())('isobar import (backfill)', () => {
  const st = useStack();
  const cli = async (...args: string[]) => {
    try {
      const r = await exec(process.execPath, [BIN, '--url', st.client.base, ...args], { env: { ...process.env, ISOBAR_ADMIN_TOKEN: st.s.ISOBAR_ADMIN_TOKEN }, maxBuffer: 64 * 1024 * 1024 });
      return { code: 0, out: r.stdout, err: r.stderr };
    } catch (e) {
      const x = e as { code: number; stdout: string; stderr: string };
      return { code: x.code, out: x.stdout, err: x.stderr };
    }
  };
  const count = async (key: string, metric: string) => {
    const q = encodeURIComponent(`sum(count_over_time(${metric}[20d]))`);
    return Number((await st.client.read(`query?query=${q}`, key)).data?.result?.[0]?.value?.[1] ?? 0);
  };
  /** Samples of `tenant`'s blocks on the node's disk, from their meta.json (each stored copy counts). */
  const storedSamples = (tenant: string, ulids?: Set<string>) => {
    const dir = join(st.s.ISOBAR_DATA_DIR, 'node', 'blocks', tenant);
    let n = 0;
    for (const u of readdirSync(dir)) {
      const meta = JSON.parse(readFileSync(join(dir, u, 'meta.json'), 'utf8'));
      if (!ulids || (meta.compaction.sources as string[]).some((s) => ulids.has(s))) n += meta.stats.numSamples;
    }
    return n;
  };

  it('imports blocks promtool made from OpenMetrics; PromQL returns every sample; a rerun changes nothing', async () => {
    const key = await st.client.tenantWithKey('imp-promtool');
    const dir = tmp('isobar-om-');
    const from = Date.now() - 3 * 86_400_000;
    writeFileSync(join(dir, 'data.om'), openMetrics('backfilled_temp', 40, 300, from, 300));
    execFileSync('promtool', ['tsdb', 'create-blocks-from', 'openmetrics', join(dir, 'data.om'), join(dir, 'blocks')], { stdio: 'pipe' });
    const made = readdirSync(join(dir, 'blocks')).filter((n) => /^[0-9A-Z]{26}$/.test(n));
    expect(made.length).toBeGreaterThan(1);

    const r = await cli('import', '--tenant', 'imp-promtool', join(dir, 'blocks'));
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain(`imp-promtool: ${made.length} blocks imported, 0 already there`);
    expect(r.err).toMatch(/checked \d+ blocks: 40 series, 12,000 samples/);
    expect(await count(key, 'backfilled_temp')).toBe(12_000);
    const one = await st.client.read(`query?query=${encodeURIComponent(`backfilled_temp{host="h-7"}`)}&time=${(from + 299 * 300_000) / 1000}`, key);
    expect(one.data.result[0].metric).toEqual({ __name__: 'backfilled_temp', host: 'h-7', zone: 'z"1' });
    expect(Number(one.data.result[0].value[1])).toBe((7 * 1.5 + 299) % 97);

    const again = await cli('import', '--tenant', 'imp-promtool', join(dir, 'blocks'));
    expect(again.out).toContain(`imp-promtool: 0 blocks imported, ${made.length} already there`);
    expect(storedSamples('imp-promtool')).toBe(12_000);
  });

  it('an import killed halfway is rerun and ends with one copy of the data', async () => {
    const key = await st.client.tenantWithKey('imp-resume');
    const dir = tmp('isobar-om-');
    // One 2 h block: 400 series x 700 samples every 10 s.
    const start = Math.floor((Date.now() - 2 * 86_400_000) / 7_200_000) * 7_200_000;
    writeFileSync(join(dir, 'big.om'), openMetrics('resumed_metric', 400, 700, start, 10));
    execFileSync('promtool', ['tsdb', 'create-blocks-from', 'openmetrics', join(dir, 'big.om'), join(dir, 'blocks')], { stdio: 'pipe' });
    const ulids = new Set(readdirSync(join(dir, 'blocks')).filter((n) => /^[0-9A-Z]{26}$/.test(n)));

    // Small parts, and a kill as soon as the first ones went through.
    const child = spawn(process.execPath, [BIN, '--url', st.client.base, 'import', '--tenant', 'imp-resume', '--part-size', '0.005', join(dir, 'blocks')], {
      env: { ...process.env, ISOBAR_ADMIN_TOKEN: st.s.ISOBAR_ADMIN_TOKEN },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let err = '';
    const killed = await new Promise<boolean>((resolve) => {
      child.stderr!.on('data', (d) => {
        err += d;
        if (/\] +\d+%/.test(err) && child.exitCode === null) {
          child.kill('SIGKILL');
          resolve(true);
        }
      });
      child.on('exit', () => resolve(false));
    });
    expect(killed, `the import finished before it could be killed: ${err}`).toBe(true);
    const staged = await fetch(`${st.client.base}/admin/v1/tenants/imp-resume/import/${[...ulids][0]}`, { headers: { authorization: `Bearer ${st.s.ISOBAR_ADMIN_TOKEN}` } });
    expect(((await staged.json()) as { state: string }).state).toBe('staged');
    expect(await count(key, 'resumed_metric')).toBe(0);

    const rerun = await cli('import', '--tenant', 'imp-resume', '--part-size', '0.005', join(dir, 'blocks'));
    expect(rerun.code, rerun.err).toBe(0);
    expect(await count(key, 'resumed_metric')).toBe(280_000);
    expect(storedSamples('imp-resume', ulids)).toBe(280_000); // one stored copy, not two
  });

  it('converts an OpenMetrics file itself, and refuses blocks outside the retention before sending anything', async () => {
    const key = await st.client.tenantWithKey('imp-om');
    const dir = tmp('isobar-om-');
    writeFileSync(join(dir, 'ok.om'), openMetrics('om_direct', 5, 50, Date.now() - 86_400_000, 60));
    const r = await cli('import', '--tenant', 'imp-om', join(dir, 'ok.om'));
    expect(r.code, r.err).toBe(0);
    expect(r.err).toContain('converted: 5 series, 250 samples');
    expect(await count(key, 'om_direct')).toBe(250);
    // Converting the same file again gives the same blocks: nothing is imported twice.
    expect((await cli('import', '--tenant', 'imp-om', join(dir, 'ok.om'))).out).toMatch(/0 blocks imported, \d+ already there/);

    writeFileSync(join(dir, 'old.om'), openMetrics('om_old', 2, 10, Date.now() - 60 * 86_400_000, 60));
    const old = await cli('import', '--tenant', 'imp-om', join(dir, 'old.om'));
    expect(old.code).toBe(1);
    expect(old.err).toMatch(/before the tenant's retention .*retention_seconds/);

    writeFileSync(join(dir, 'bad.om'), 'om_bad{host="a"} 1\n# EOF\n');
    const bad = await cli('import', '--tenant', 'imp-om', join(dir, 'bad.om'));
    expect(bad.code).toBe(1);
    expect(bad.err).toContain('line 1: expected a value and a timestamp');
  });
});
