/**
 * `isobar import --tenant <id> <dir-or-file>`: backfill. Takes Prometheus TSDB
 * blocks (one block folder, or a folder of them, e.g. what `promtool tsdb
 * create-blocks-from openmetrics` wrote) or an OpenMetrics text file
 * (converted into blocks first). Every block is checked here before anything
 * is sent (index, chunks, samples inside the tenant's retention), then its
 * files go in parts through the admin API to the storage node, which checks
 * it again and takes it.
 *
 * Safe to rerun: the node says what it holds of each block, so an
 * interrupted upload resumes where it stopped, and a block already taken is
 * skipped (also once compaction merged it with live data).
 */
import { closeSync, existsSync, mkdtempSync, openSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import type { ImportState } from '../wire/internal-api.js';
import { validateBlock, type BlockSummary } from '../storage-node/src/import/validate.js';
import { readAt } from '../storage-node/src/fs/durable-files.js';
import { openMetricsToBlocks } from './openmetrics.js';

export interface ImportContext {
  url: string;
  token: string;
  /** Progress and results for people (stderr). */
  progress: (line: string, transient: boolean) => void;
  out: (s: string) => void;
  json: boolean;
}

const MiB = 1024 * 1024;
/** Default part size: well under the edge's request limits. */
export const DEFAULT_PART_BYTES = 16 * MiB;
const ULID = /^[0-9A-HJKMNP-TV-Z]{26}$/;

/** The block folders a path names: a block, or a folder of blocks. */
export function blockDirs(path: string): string[] {
  if (existsSync(join(path, 'meta.json'))) return [path];
  const dirs = readdirSync(path)
    .filter((n) => ULID.test(n) && existsSync(join(path, n, 'meta.json')))
    .sort()
    .map((n) => join(path, n));
  if (dirs.length === 0) throw new Error(`${path} holds no Prometheus block (a folder with meta.json, index and chunks/)`);
  return dirs;
}

/** A block's files, meta.json last (the node takes the block only on commit, but a reader of the staging folder sees meta.json last too). */
function blockFiles(dir: string): Array<{ path: string; file: string; size: number }> {
  const chunks = existsSync(join(dir, 'chunks')) ? readdirSync(join(dir, 'chunks')).filter((n) => /^\d{6}$/.test(n)).sort() : [];
  return [...chunks.map((n) => `chunks/${n}`), 'index', 'meta.json'].map((file) => ({ path: join(dir, file), file, size: statSync(join(dir, file)).size }));
}

const fmtBytes = (n: number) => (n >= MiB ? `${(n / MiB).toFixed(1)} MiB` : `${(n / 1024).toFixed(1)} KiB`);
const fmtInt = (n: number) => n.toLocaleString('en-US');

async function call(ctx: ImportContext, method: string, path: string, body?: Uint8Array): Promise<{ status: number; json: any }> {
  let r: Response;
  try {
    r = await fetch(`${ctx.url.replace(/\/+$/, '')}/admin/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${ctx.token}`, ...(body ? { 'content-type': 'application/octet-stream' } : {}) },
      ...(body ? { body: body as Uint8Array<ArrayBuffer> } : {}),
    });
  } catch (e) {
    throw new Error(`cannot reach ${ctx.url}: ${(e as Error).message}`);
  }
  const text = await r.text();
  let json: any;
  try {
    json = text ? JSON.parse(text) : {};
  } catch {
    json = { error: text.trim() };
  }
  return { status: r.status, json };
}

function readPart(path: string, offset: number, length: number): Uint8Array {
  const fd = openSync(path, 'r');
  try {
    return readAt(fd, offset, length);
  } finally {
    closeSync(fd);
  }
}

export async function importCommand(ctx: ImportContext, tenant: string, path: string, partBytes = DEFAULT_PART_BYTES): Promise<void> {
  if (!existsSync(path)) throw new Error(`${path}: no such file or folder`);
  const t = await call(ctx, 'GET', `/tenants/${encodeURIComponent(tenant)}`);
  if (t.status !== 200) throw new Error(`tenant ${tenant}: ${t.status} ${t.json.error ?? ''}`.trim());
  const retentionMs = (t.json.limits.retentionSeconds as number) * 1000;
  const maxFutureMs = (t.json.limits.maxFutureSeconds as number) * 1000;

  let dirs: string[];
  let tmp: string | undefined;
  if (statSync(path).isFile()) {
    tmp = mkdtempSync(join(tmpdir(), 'isobar-import-'));
    ctx.progress(`converting ${basename(path)} (OpenMetrics) into blocks…`, false);
    const c = openMetricsToBlocks(path, tmp);
    ctx.progress(`converted: ${fmtInt(c.series)} series, ${fmtInt(c.samples)} samples, ${c.dirs.length} blocks`, false);
    dirs = c.dirs;
  } else dirs = blockDirs(path);

  try {
    // 1. Check every block before sending anything.
    const now = Date.now();
    const summaries: BlockSummary[] = [];
    const distinct = new Set<string>();
    for (const [i, dir] of dirs.entries()) {
      summaries.push(
        validateBlock(dir, {
          oldestMs: now - retentionMs,
          newestMs: now + maxFutureMs,
          seriesKeys: distinct,
          onSeries: (done, total) => ctx.progress(`checking block ${i + 1}/${dirs.length} ${basename(dir)}: ${fmtInt(done)}/${fmtInt(total)} series`, true),
        }),
      );
    }
    const totalBytes = dirs.reduce((n, d) => n + blockFiles(d).reduce((k, f) => k + f.size, 0), 0);
    // Progress counts series per block (a series in three blocks is sent three times); the summary, distinct ones.
    const totalSeries = summaries.reduce((n, s) => n + s.series, 0);
    ctx.progress(`checked ${dirs.length} blocks: ${fmtInt(distinct.size)} series, ${fmtInt(summaries.reduce((n, s) => n + s.samples, 0))} samples, ${fmtBytes(totalBytes)}`, false);

    // 2. Send and commit, block by block.
    let sentBytes = 0;
    let seriesDone = 0;
    const results: Array<{ block: string; result: string; series: number; samples: number }> = [];
    for (const [i, dir] of dirs.entries()) {
      const s = summaries[i]!;
      const base = `/tenants/${encodeURIComponent(tenant)}/import/${s.ulid}`;
      const files = blockFiles(dir);
      const blockBytes = files.reduce((n, f) => n + f.size, 0);
      const state = await call(ctx, 'GET', base);
      if (state.status !== 200) throw new Error(`block ${s.ulid}: ${state.status} ${state.json.error ?? ''}`);
      const st = state.json as ImportState;
      if (st.state === 'imported') {
        sentBytes += blockBytes;
        seriesDone += s.series;
        results.push({ block: s.ulid, result: 'already imported', series: s.series, samples: s.samples });
        continue;
      }
      let blockSent = 0;
      const show = () =>
        ctx.progress(
          `block ${i + 1}/${dirs.length} ${s.ulid}  ${bar((sentBytes + blockSent) / Math.max(totalBytes, 1))}  ${fmtBytes(sentBytes + blockSent)} / ${fmtBytes(totalBytes)}  ${fmtInt(seriesDone + Math.round((s.series * blockSent) / Math.max(blockBytes, 1)))} / ${fmtInt(totalSeries)} block series`,
          true,
        );
      for (const f of files) {
        // Resume where the node's staged copy ends (a longer one is from another attempt: start over).
        let offset = st.files[f.file] ?? 0;
        if (offset > f.size) offset = 0;
        blockSent += offset;
        if (offset === f.size && f.size > 0) continue;
        do {
          const part = readPart(f.path, offset, Math.min(partBytes, f.size - offset));
          const r = await call(ctx, 'PUT', `${base}/file?path=${encodeURIComponent(f.file)}&offset=${offset}`, part);
          if (r.status === 409 && typeof r.json.size === 'number') {
            blockSent += r.json.size - offset;
            offset = r.json.size; // the node holds more than we thought: go on from there
            continue;
          }
          if (r.status !== 200) throw new Error(`block ${s.ulid}, ${f.file} at ${offset}: ${r.status} ${r.json.error ?? ''}`);
          if (r.json.state === 'imported') break;
          offset += part.length;
          blockSent += part.length;
          show();
        } while (offset < f.size);
      }
      const done = await call(ctx, 'POST', `${base}/commit`);
      if (done.status !== 200) throw new Error(`block ${s.ulid} refused: ${done.json.error ?? done.status}`);
      sentBytes += blockBytes;
      seriesDone += s.series;
      show();
      results.push({ block: s.ulid, result: done.json.already ? 'already imported' : 'imported', series: s.series, samples: s.samples });
    }
    ctx.progress('', false);
    if (ctx.json) ctx.out(JSON.stringify({ tenant, blocks: results }, null, 2));
    else {
      for (const r of results) ctx.out(`${r.block}  ${r.result}  ${fmtInt(r.series)} series  ${fmtInt(r.samples)} samples`);
      ctx.out(`${tenant}: ${results.filter((r) => r.result === 'imported').length} blocks imported, ${results.filter((r) => r.result !== 'imported').length} already there`);
    }
  } finally {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  }
}

function bar(f: number, width = 24): string {
  const n = Math.max(0, Math.min(width, Math.round(f * width)));
  return `[${'#'.repeat(n)}${'.'.repeat(width - n)}] ${Math.floor(f * 100)
    .toString()
    .padStart(3)}%`;
}
