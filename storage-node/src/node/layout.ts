/**
 * Where a storage node keeps what, under `ISOBAR_DATA_DIR/node/`: every path
 * in one place (docs/format/node-state.md, wal.md, blocks.md).
 *
 *   wal/<tenant>/00000001…          WAL segments
 *   blocks/<tenant>/<ULID>/         Prometheus blocks (only blocks live here)
 *   remote/<tenant>/<ULID>/         bucket blocks: meta.json, cached index
 *   state/<tenant>.json             positions, log ids, retention
 *   state/<tenant>.deletions.json   delete_series in force
 *   state/<tenant>.exemplars        exemplars at the last flush (snappy WriteRequest)
 *   state/<tenant>.metadata.json    metric metadata at the last flush
 *   shards.json                     tenant×shard pairs served
 *   import/<tenant>/<ULID>/         blocks being imported (staging)
 */
import { join } from 'node:path';

export class NodeLayout {
  constructor(readonly root: string) {}

  /** The folders with one entry per tenant, where a starting node finds its tenants. */
  get tenantFolders(): string[] {
    return [this.walRoot, this.blocksRoot, this.stateDir, this.remoteRoot];
  }

  get walRoot(): string {
    return join(this.root, 'wal');
  }
  get blocksRoot(): string {
    return join(this.root, 'blocks');
  }
  /** The bucket blocks' cache (BlockCache). */
  get remoteRoot(): string {
    return join(this.root, 'remote');
  }
  get stateDir(): string {
    return join(this.root, 'state');
  }
  get importRoot(): string {
    return join(this.root, 'import');
  }

  wal(tenant: string): string {
    return join(this.walRoot, tenant);
  }
  blocks(tenant: string): string {
    return join(this.blocksRoot, tenant);
  }
  remote(tenant: string): string {
    return join(this.remoteRoot, tenant);
  }
  stateFile(tenant: string): string {
    return join(this.stateDir, `${tenant}.json`);
  }
  deletionsFile(tenant: string): string {
    return join(this.stateDir, `${tenant}.deletions.json`);
  }
  exemplarsFile(tenant: string): string {
    return join(this.stateDir, `${tenant}.exemplars`);
  }
  metadataFile(tenant: string): string {
    return join(this.stateDir, `${tenant}.metadata.json`);
  }

  /** Everything this node holds of a tenant. */
  tenantPaths(tenant: string): string[] {
    return [this.wal(tenant), this.blocks(tenant), this.remote(tenant), this.stateFile(tenant), this.deletionsFile(tenant), this.exemplarsFile(tenant), this.metadataFile(tenant)];
  }
}
