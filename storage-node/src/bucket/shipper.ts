/**
 * Moves a node's blocks into the bucket and keeps the bucket tidy:
 *  - uploads each local block (index, chunk files, then meta.json last, so a
 *    half-uploaded block is never visible), oldest first;
 *  - writes Thanos deletion marks for blocks that compaction replaced or
 *    retention expired, and deletes marked blocks once the delay has passed;
 *  - keeps each tenant's delete_series requests in the bucket, for a rebuild.
 * Every call throws when the bucket fails; the caller retries with backoff.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { CHUNKS_DIR, INDEX_FILE, META_FILE, TOMBSTONES_FILE, tmpBlockDir } from '../block/filenames.js';
import { fsyncDir, writeFileSynced } from '../fs/durable-files.js';
import { encodeTombstones } from '../block/tombstones.js';
import { BlockMetaSchema, type BlockMeta } from '../block/meta.js';
import type { BlockReader } from '../block/reader.js';
import type { Bucket } from './bucket.js';
import { blockPrefix, chunksKey, DELETION_MARK_FILE, deletionMarkKey, deletionsKey, indexKey, isobarOf, metaKey } from './layout.js';

/** Downloads go in ranged reads of this size: a chunk segment is up to 512 MiB. */
const DOWNLOAD_PART_BYTES = 64 * 1024 * 1024;

/** Marker file in a local block folder: its copy in the bucket is complete. */
export const UPLOADED_MARKER = 'isobar-uploaded';

/** Thanos's deletion-mark.json. */
interface DeletionMark {
  id: string;
  deletion_time: number;
  version: 1;
  details?: string;
}

export interface ShipStats {
  blocks: number;
  bytes: number;
  ms: number;
}

export class Shipper {
  /** Totals since start (node metrics). */
  readonly totals = { blocks: 0, bytes: 0, failures: 0, marks: 0, deleted: 0 };

  constructor(
    readonly bucket: Bucket,
    readonly node: string,
  ) {}

  /** Upload one local block; meta.json goes last. Marks it uploaded locally. */
  async upload(tenant: string, block: BlockReader): Promise<number> {
    const ulid = block.meta.ulid;
    let bytes = 0;
    const chunksDir = join(block.dir, CHUNKS_DIR);
    for (const seg of readdirSync(chunksDir).filter((n) => /^\d{6}$/.test(n)).sort()) {
      const path = join(chunksDir, seg);
      await this.bucket.putFile(chunksKey(tenant, ulid, seg), path);
      bytes += statSize(path);
    }
    const indexPath = join(block.dir, INDEX_FILE);
    await this.bucket.putFile(indexKey(tenant, ulid), indexPath);
    bytes += statSize(indexPath);
    const meta = readFileSync(join(block.dir, META_FILE));
    await this.bucket.put(metaKey(tenant, ulid), meta);
    bytes += meta.byteLength;
    writeFileSync(join(block.dir, UPLOADED_MARKER), '');
    this.totals.blocks++;
    this.totals.bytes += bytes;
    return bytes;
  }

  /**
   * A block's files from the bucket into `<parentDir>/<ULID>/`, as uploaded
   * (marked uploaded; an empty tombstones file): a rebuilt node compacts and
   * downsamples blocks it has only in the bucket this way. Built in a
   * `.tmp-for-creation` folder, copied in parts of at most 64 MiB, fsynced,
   * then renamed. Returns the block's folder.
   */
  async download(tenant: string, ulid: string, parentDir: string): Promise<string> {
    const tmp = join(parentDir, tmpBlockDir(ulid));
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(join(tmp, CHUNKS_DIR), { recursive: true });
    const prefix = blockPrefix(tenant, ulid);
    for (const o of await this.bucket.list(prefix)) {
      const rel = o.key.slice(prefix.length);
      if (!(rel === META_FILE || rel === INDEX_FILE || /^chunks\/\d{6}$/.test(rel))) continue; // deletion marks and strangers stay behind
      const fd = openSync(join(tmp, rel), 'w');
      try {
        for (let off = 0; off < o.size; off += DOWNLOAD_PART_BYTES) {
          const part = await this.bucket.get(o.key, { offset: off, length: Math.min(DOWNLOAD_PART_BYTES, o.size - off) });
          if (!part) throw new Error(`${o.key} in ${this.bucket.where} went away during download`);
          for (let w = 0; w < part.length; ) w += writeSync(fd, part, w, part.length - w);
        }
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
    }
    writeFileSynced(join(tmp, TOMBSTONES_FILE), encodeTombstones([]));
    writeFileSync(join(tmp, UPLOADED_MARKER), '');
    fsyncDir(join(tmp, CHUNKS_DIR));
    fsyncDir(tmp);
    const dir = join(parentDir, ulid);
    renameSync(tmp, dir);
    fsyncDir(parentDir);
    return dir;
  }

  /** Mark blocks for deletion (Thanos's deletion-mark.json); `cleanup` deletes them after the delay. */
  async markDeleted(tenant: string, ulid: string, why: string): Promise<void> {
    const mark: DeletionMark = { id: ulid, deletion_time: Math.floor(Date.now() / 1000), version: 1, details: why };
    await this.bucket.put(deletionMarkKey(tenant, ulid), new TextEncoder().encode(JSON.stringify(mark)), { ifAbsent: true });
    this.totals.marks++;
  }

  async putDeletions(tenant: string, deletions: ReadonlyArray<{ selector: string; mint: number; maxt: number }>): Promise<void> {
    await this.bucket.put(deletionsKey(tenant, this.node), new TextEncoder().encode(JSON.stringify(deletions)));
  }

  async getDeletions(tenant: string): Promise<unknown> {
    const body = await this.bucket.get(deletionsKey(tenant, this.node));
    return body ? JSON.parse(new TextDecoder().decode(body)) : undefined;
  }

  /** The tenants with anything in the bucket. */
  async tenants(): Promise<string[]> {
    return (await this.bucket.listPrefixes('')).map((p) => p.replace(/\/$/, ''));
  }

  /** A tenant's block folders in the bucket (ULID order) and the files each holds: one list request. */
  private async blockFiles(tenant: string): Promise<Array<[string, Set<string>]>> {
    const byBlock = new Map<string, Set<string>>();
    for (const o of await this.bucket.list(`${tenant}/`)) {
      const [, ulid, ...rest] = o.key.split('/');
      if (!ulid || !/^[0-9A-HJKMNP-TV-Z]{26}$/.test(ulid)) continue;
      let files = byBlock.get(ulid);
      if (!files) byBlock.set(ulid, (files = new Set()));
      files.add(rest.join('/'));
    }
    return [...byBlock].sort((a, b) => (a[0] < b[0] ? -1 : 1));
  }

  /** This node's live blocks of a tenant (complete, not marked for deletion): their metas. */
  async liveBlocks(tenant: string): Promise<BlockMeta[]> {
    const blocks: BlockMeta[] = [];
    for (const [ulid, files] of await this.blockFiles(tenant)) {
      if (files.has(DELETION_MARK_FILE)) continue;
      if (!files.has(META_FILE)) continue; // being uploaded, or an upload that died (a later one finishes it)
      const body = await this.bucket.get(metaKey(tenant, ulid));
      if (!body) continue;
      const meta = BlockMetaSchema.parse(JSON.parse(new TextDecoder().decode(body)));
      const owner = isobarOf(meta)?.node;
      if (owner !== undefined && owner !== this.node) continue; // another node's
      blocks.push(meta);
    }
    return blocks;
  }

  /** A tenant's blocks marked for deletion at least `deleteDelayMs` before `now` (only their marks are read). */
  async expiredMarks(tenant: string, deleteDelayMs: number, now = Date.now()): Promise<string[]> {
    const expired: string[] = [];
    for (const [ulid, files] of await this.blockFiles(tenant)) {
      if (!files.has(DELETION_MARK_FILE)) continue;
      const body = await this.bucket.get(deletionMarkKey(tenant, ulid));
      const at = body ? (JSON.parse(new TextDecoder().decode(body)) as DeletionMark).deletion_time * 1000 : 0;
      if (now - at >= deleteDelayMs) expired.push(ulid);
    }
    return expired;
  }

  /** Delete a block's objects (meta.json first, so it stops being a block at once). */
  async deleteBlock(tenant: string, ulid: string): Promise<void> {
    await this.bucket.delete(metaKey(tenant, ulid));
    for (const o of await this.bucket.list(`${tenant}/${ulid}/`)) if (!o.key.endsWith(`/${DELETION_MARK_FILE}`)) await this.bucket.delete(o.key);
    await this.bucket.delete(deletionMarkKey(tenant, ulid));
    this.totals.deleted++;
  }

  /** Everything of a tenant (it was deleted). */
  async deleteTenant(tenant: string): Promise<number> {
    const objects = await this.bucket.list(`${tenant}/`);
    // meta.json files first: blocks stop being blocks before their files go.
    objects.sort((a, b) => Number(b.key.endsWith(`/${META_FILE}`)) - Number(a.key.endsWith(`/${META_FILE}`)));
    for (const o of objects) await this.bucket.delete(o.key);
    return objects.length;
  }
}

function statSize(path: string): number {
  return statSync(path).size;
}
