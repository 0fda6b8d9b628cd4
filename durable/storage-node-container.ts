/**
 * Production storage nodes: each is a Cloudflare Container (image built from
 * infra/storage-node.Dockerfile) fronted by this Durable Object class.
 * Wired in wrangler.toml under [env.production]; not used in development,
 * where ISOBAR_NODE_URLS points at a local process instead.
 */
import { Container } from '@cloudflare/containers';
import { edgeConfig, type EdgeVars } from './vars.js';

export class StorageNodeContainer extends Container<EdgeVars> {
  override defaultPort = 8790;
  // Storage nodes hold the head in memory; keep them up rather than sleeping.
  override sleepAfter = '24h';
  override enableInternet = true; // object storage (R2 over the S3 API)

  constructor(ctx: DurableObjectState<{}>, env: EdgeVars) {
    super(ctx, env);
    const config = edgeConfig(env);
    this.envVars = {
      ISOBAR_ENV: 'production',
      ISOBAR_NODE_HOST: '0.0.0.0',
      ISOBAR_NODE_PORT: String(this.defaultPort),
      ISOBAR_NODE_SECRET: config.nodeSecret,
      ISOBAR_DATA_DIR: '/data',
      // Its name in the bucket: the Durable Object name (`storage-node-<i>`), the same for every
      // container that ever plays this part, so a replacement rebuilds this node's blocks.
      ISOBAR_NODE_ID: ctx.id.name ?? ctx.id.toString(),
      // R2 through its S3 API (secrets: wrangler secret put ISOBAR_S3_ACCESS_KEY_ID …).
      ...(config.s3 ? { ISOBAR_S3_ENDPOINT: config.s3.endpoint, ISOBAR_S3_BUCKET: config.s3.bucket, ISOBAR_S3_ACCESS_KEY_ID: config.s3.accessKeyId, ISOBAR_S3_SECRET_ACCESS_KEY: config.s3.secretAccessKey } : {}),
      // The Worker's public URL, so a restarted node can ask its coordinators to replay.
      ...(config.publicUrl ? { ISOBAR_EDGE_URL: config.publicUrl } : {}),
    };
  }
}
