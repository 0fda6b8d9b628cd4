/**
 * The embedded bucket: objects as files under a directory
 * (`ISOBAR_DATA_DIR/bucket/`). Writes go to a temporary file, are fsynced and
 * then renamed (or, for create-if-absent, hard-linked: the link fails when
 * the key exists), so a reader never sees half an object.
 */
import { randomUUID } from 'node:crypto';
import { copyFile, link, mkdir, open, readdir, rename, rm, rmdir, stat, unlink } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { checkKey, type Bucket, type ObjectInfo } from './bucket.js';

const TMP = '.tmp-';

export class FsBucket implements Bucket {
  readonly where: string;

  constructor(private readonly root: string) {
    this.where = `file://${root}`;
  }

  private path(key: string): string {
    checkKey(key);
    return join(this.root, ...key.split('/'));
  }

  private async writeTemp(dir: string, fill: (tmp: string) => Promise<void>): Promise<string> {
    await mkdir(dir, { recursive: true });
    const tmp = join(dir, `${TMP}${randomUUID()}`);
    await fill(tmp);
    const fh = await open(tmp, 'r+');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
    return tmp;
  }

  async put(key: string, body: Uint8Array, opts: { ifAbsent?: boolean } = {}): Promise<boolean> {
    const path = this.path(key);
    const tmp = await this.writeTemp(dirname(path), async (t) => {
      const fh = await open(t, 'wx');
      try {
        await fh.writeFile(body);
      } finally {
        await fh.close();
      }
    });
    try {
      if (!opts.ifAbsent) {
        await rename(tmp, path);
        return true;
      }
      try {
        await link(tmp, path);
        return true;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
        throw e;
      }
    } finally {
      await rm(tmp, { force: true });
    }
  }

  async putFile(key: string, file: string): Promise<void> {
    const path = this.path(key);
    const tmp = await this.writeTemp(dirname(path), (t) => copyFile(file, t));
    await rename(tmp, path);
  }

  async get(key: string, range?: { offset: number; length: number }): Promise<Uint8Array | undefined> {
    let fh;
    try {
      fh = await open(this.path(key), 'r');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
    try {
      if (!range) return new Uint8Array(await fh.readFile());
      const size = (await fh.stat()).size;
      const length = Math.max(0, Math.min(range.length, size - range.offset));
      const buf = new Uint8Array(length);
      let done = 0;
      while (done < length) {
        const { bytesRead } = await fh.read(buf, done, length - done, range.offset + done);
        if (bytesRead === 0) break;
        done += bytesRead;
      }
      return buf.subarray(0, done);
    } finally {
      await fh.close();
    }
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    try {
      const s = await stat(this.path(key));
      return s.isFile() ? { key, size: s.size } : undefined;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
  }

  async list(prefix: string): Promise<ObjectInfo[]> {
    // Walk from the deepest directory the prefix names, then filter by the full prefix.
    const base = prefix.includes('/') ? prefix.slice(0, prefix.lastIndexOf('/')) : '';
    const out: ObjectInfo[] = [];
    const walk = async (dir: string): Promise<void> => {
      let entries;
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'ENOTDIR') return;
        throw e;
      }
      for (const ent of entries) {
        if (ent.name.startsWith(TMP)) continue;
        const full = join(dir, ent.name);
        if (ent.isDirectory()) await walk(full);
        else if (ent.isFile()) {
          const key = relative(this.root, full).split(sep).join('/');
          if (key.startsWith(prefix)) out.push({ key, size: (await stat(full)).size });
        }
      }
    };
    await walk(base ? join(this.root, ...base.split('/')) : this.root);
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async listPrefixes(prefix: string): Promise<string[]> {
    const dir = prefix === '' ? this.root : join(this.root, ...prefix.replace(/\/$/, '').split('/'));
    try {
      const entries = await readdir(dir, { withFileTypes: true });
      return entries.filter((e) => e.isDirectory()).map((e) => `${prefix}${e.name}/`).sort();
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    }
  }

  async delete(key: string): Promise<void> {
    const path = this.path(key);
    try {
      await unlink(path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    // Empty folders go too: as in S3, a prefix exists only while objects are under it.
    for (let dir = dirname(path); dir.startsWith(this.root + sep); dir = dirname(dir)) {
      try {
        await rmdir(dir);
      } catch {
        break; // not empty (or gone)
      }
    }
  }
}
