/**
 * Blocks being imported (backfill), staged on the node that serves the
 * tenant's queries: `<node dir>/import/<tenant>/<ULID>/` receives the block's
 * files in parts at given offsets, so an interrupted upload resumes where the
 * node's copy ends. `commit` hands the complete folder to the store, which
 * checks it and takes it as a block (storage-node/src/node/store.ts).
 */
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileSynced } from '../fs/durable-files.js';
import { ErrorIds, IsobarError } from '../../../wire/errors.js';

const FILE = /^(meta\.json|index|chunks\/\d{6})$/;
const ULID = /^[0-9A-HJKMNP-TV-Z]{26}$/;

/**
 * A part that cannot be staged: a bad name or offset (400), or an offset that
 * does not continue the node's copy (409, with the `size` it holds, so the CLI
 * resumes from there).
 */
export class StagingError extends IsobarError {
  constructor(message: string, status: 400 | 409, size?: number) {
    super(status === 409 ? ErrorIds.importPartMismatch : ErrorIds.badParameter, status === 409 ? 'conflict' : 'bad-data', message, size !== undefined ? { size } : undefined);
    this.name = 'StagingError';
  }
}

export class ImportStaging {
  constructor(private readonly root: string) {}

  dir(tenant: string, ulid: string): string {
    if (!ULID.test(ulid)) throw new StagingError(`${JSON.stringify(ulid)} is not a block ULID`, 400);
    return join(this.root, tenant, ulid);
  }

  /** The staged files and their sizes. */
  files(tenant: string, ulid: string): Record<string, number> {
    const dir = this.dir(tenant, ulid);
    const out: Record<string, number> = {};
    if (!existsSync(dir)) return out;
    for (const f of ['meta.json', 'index']) if (existsSync(join(dir, f))) out[f] = statSync(join(dir, f)).size;
    if (existsSync(join(dir, 'chunks'))) for (const f of readdirSync(join(dir, 'chunks')).sort()) out[`chunks/${f}`] = statSync(join(dir, 'chunks', f)).size;
    return out;
  }

  /** Write `body` at `offset` of a staged file; the offset must be where the staged copy ends (or 0 to start over). */
  write(tenant: string, ulid: string, file: string, offset: number, body: Uint8Array): number {
    if (!FILE.test(file)) throw new StagingError(`${JSON.stringify(file)} is not a block file (meta.json, index, chunks/NNNNNN)`, 400);
    const path = join(this.dir(tenant, ulid), file);
    mkdirSync(join(path, '..'), { recursive: true });
    const size = existsSync(path) ? statSync(path).size : 0;
    if (offset !== size && offset !== 0) throw new StagingError(`the staged ${file} holds ${size} bytes; send from offset ${size}`, 409, size);
    writeFileSynced(path, body, offset === 0 ? 'w' : 'a');
    return offset + body.length;
  }

  remove(tenant: string, ulid?: string): void {
    rmSync(ulid ? this.dir(tenant, ulid) : join(this.root, tenant), { recursive: true, force: true });
  }
}
