/**
 * The bucket over the S3 API (`@aws-sdk/client-s3`): R2 in production, any
 * S3-compatible server elsewhere. Large files go up in parts; reads of part of
 * an object are ranged GETs; create-if-absent is a conditional PUT
 * (`If-None-Match: *`), or, on a server that ignores that header (found by a
 * probe), a HEAD then a PUT, which is only safe with one writer per key.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { checkKey, type Bucket, type ObjectInfo } from './bucket.js';

export interface S3Options {
  endpoint: string;
  bucket: string;
  region?: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** `https://endpoint/bucket/key` instead of `https://bucket.endpoint/key`. */
  pathStyle?: boolean;
  /** Files at least this large go up in parts (default 64 MiB). */
  multipartThreshold?: number;
  /** Part size (default 16 MiB; S3's minimum is 5 MiB). */
  partSize?: number;
  /** Keys per list request (default 1000, S3's maximum). */
  pageSize?: number;
}

const MiB = 1024 * 1024;

const isNotFound = (e: unknown) => e instanceof S3ServiceException && (e.$metadata.httpStatusCode === 404 || e.name === 'NoSuchKey' || e.name === 'NotFound');

export class S3Bucket implements Bucket {
  readonly where: string;
  private readonly client: S3Client;
  private readonly name: string;
  private readonly threshold: number;
  private readonly partSize: number;
  private readonly pageSize: number;
  /** Does the server list common prefixes of objects two levels down? Learned once, by a probe. */
  private nestedPrefixes: Promise<boolean> | undefined;
  /** Does the server honour If-None-Match on PUT? Learned once, by a probe. */
  private conditional: Promise<boolean> | undefined;

  constructor(opts: S3Options) {
    this.name = opts.bucket;
    this.where = `s3://${opts.bucket} at ${opts.endpoint}`;
    this.threshold = opts.multipartThreshold ?? 64 * MiB;
    this.partSize = Math.max(5 * MiB, opts.partSize ?? 16 * MiB);
    this.pageSize = opts.pageSize ?? 1000;
    this.client = new S3Client({
      endpoint: opts.endpoint,
      region: opts.region ?? 'auto',
      forcePathStyle: opts.pathStyle ?? false,
      credentials: { accessKeyId: opts.accessKeyId, secretAccessKey: opts.secretAccessKey },
      // Checksums only where S3 requires them: many S3-compatible servers reject the newer trailers.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
  }

  async put(key: string, body: Uint8Array, opts: { ifAbsent?: boolean } = {}): Promise<boolean> {
    checkKey(key);
    if (!opts.ifAbsent) {
      await this.client.send(new PutObjectCommand({ Bucket: this.name, Key: key, Body: body }));
      return true;
    }
    if (!(await this.supportsConditional())) {
      if (await this.head(key)) return false;
      await this.client.send(new PutObjectCommand({ Bucket: this.name, Key: key, Body: body }));
      return true;
    }
    try {
      await this.client.send(new PutObjectCommand({ Bucket: this.name, Key: key, Body: body, IfNoneMatch: '*' }));
      return true;
    } catch (e) {
      if (e instanceof S3ServiceException && (e.$metadata.httpStatusCode === 412 || e.$metadata.httpStatusCode === 409)) return false;
      throw e;
    }
  }

  /** Put a probe object twice with If-None-Match: a server that honours it refuses the second. */
  private supportsConditional(): Promise<boolean> {
    this.conditional ??= (async () => {
      const key = `.isobar-probe/${crypto.randomUUID()}`;
      try {
        await this.client.send(new PutObjectCommand({ Bucket: this.name, Key: key, Body: new Uint8Array(1), IfNoneMatch: '*' }));
        try {
          await this.client.send(new PutObjectCommand({ Bucket: this.name, Key: key, Body: new Uint8Array(1), IfNoneMatch: '*' }));
          return false;
        } catch (e) {
          if (e instanceof S3ServiceException && (e.$metadata.httpStatusCode === 412 || e.$metadata.httpStatusCode === 409)) return true;
          throw e;
        }
      } finally {
        await this.client.send(new DeleteObjectCommand({ Bucket: this.name, Key: key })).catch(() => {});
      }
    })();
    return this.conditional;
  }

  /**
   * Put `.isobar-probe/<uuid>/a/x` and list the prefixes under `.isobar-probe/`:
   * a server that does not return `.isobar-probe/<uuid>/` misses prefixes whose
   * objects lie two or more levels down (s3rver does), and listPrefixes lists
   * keys instead.
   */
  private listsNestedPrefixes(): Promise<boolean> {
    this.nestedPrefixes ??= (async () => {
      const key = `.isobar-probe/${crypto.randomUUID()}/a/x`;
      try {
        await this.client.send(new PutObjectCommand({ Bucket: this.name, Key: key, Body: new Uint8Array(1) }));
        const r = await this.client.send(new ListObjectsV2Command({ Bucket: this.name, Delimiter: '/', Prefix: '.isobar-probe/' }));
        return (r.CommonPrefixes ?? []).some((p) => p.Prefix?.startsWith('.isobar-probe/'));
      } finally {
        await this.client.send(new DeleteObjectCommand({ Bucket: this.name, Key: key })).catch(() => {});
      }
    })();
    return this.nestedPrefixes;
  }

  /** Whether create-if-absent is atomic on this server (false: HEAD then PUT). */
  async atomicIfAbsent(): Promise<boolean> {
    return this.supportsConditional();
  }

  async putFile(key: string, path: string): Promise<void> {
    checkKey(key);
    const size = (await stat(path)).size;
    if (size < this.threshold) {
      await this.client.send(new PutObjectCommand({ Bucket: this.name, Key: key, Body: createReadStream(path), ContentLength: size }));
      return;
    }
    const { UploadId } = await this.client.send(new CreateMultipartUploadCommand({ Bucket: this.name, Key: key }));
    try {
      const parts: Array<{ ETag: string; PartNumber: number }> = [];
      for (let offset = 0, n = 1; offset < size; offset += this.partSize, n++) {
        const end = Math.min(size, offset + this.partSize);
        const r = await this.client.send(
          new UploadPartCommand({ Bucket: this.name, Key: key, UploadId, PartNumber: n, Body: createReadStream(path, { start: offset, end: end - 1 }), ContentLength: end - offset }),
        );
        parts.push({ ETag: r.ETag!, PartNumber: n });
      }
      await this.client.send(new CompleteMultipartUploadCommand({ Bucket: this.name, Key: key, UploadId, MultipartUpload: { Parts: parts } }));
    } catch (e) {
      await this.client.send(new AbortMultipartUploadCommand({ Bucket: this.name, Key: key, UploadId })).catch(() => {});
      throw e;
    }
  }

  async get(key: string, range?: { offset: number; length: number }): Promise<Uint8Array | undefined> {
    checkKey(key);
    if (range && range.length <= 0) return (await this.head(key)) ? new Uint8Array(0) : undefined;
    try {
      const r = await this.client.send(
        new GetObjectCommand({ Bucket: this.name, Key: key, ...(range ? { Range: `bytes=${range.offset}-${range.offset + range.length - 1}` } : {}) }),
      );
      return await r.Body!.transformToByteArray();
    } catch (e) {
      if (isNotFound(e)) return undefined;
      if (e instanceof S3ServiceException && e.$metadata.httpStatusCode === 416) return new Uint8Array(0); // range past the end
      throw e;
    }
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    checkKey(key);
    try {
      const r = await this.client.send(new HeadObjectCommand({ Bucket: this.name, Key: key }));
      return { key, size: r.ContentLength ?? 0 };
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
  }

  async list(prefix: string): Promise<ObjectInfo[]> {
    const out: ObjectInfo[] = [];
    let token: string | undefined;
    do {
      const r = await this.client.send(new ListObjectsV2Command({ Bucket: this.name, Prefix: prefix, MaxKeys: this.pageSize, ContinuationToken: token }));
      for (const o of r.Contents ?? []) if (!o.Key!.startsWith('.isobar-probe/')) out.push({ key: o.Key!, size: o.Size ?? 0 });
      token = r.IsTruncated ? r.NextContinuationToken : undefined;
    } while (token);
    return out;
  }

  async listPrefixes(prefix: string): Promise<string[]> {
    const out: string[] = [];
    if (!(await this.listsNestedPrefixes())) {
      const seen = new Set<string>();
      for (const o of await this.list(prefix)) {
        const cut = o.key.indexOf('/', prefix.length);
        if (cut !== -1) seen.add(o.key.slice(0, cut + 1));
      }
      return [...seen].sort();
    }
    let token: string | undefined;
    do {
      const r = await this.client.send(new ListObjectsV2Command({ Bucket: this.name, ...(prefix ? { Prefix: prefix } : {}), Delimiter: '/', MaxKeys: this.pageSize, ContinuationToken: token }));
      for (const p of r.CommonPrefixes ?? []) if (p.Prefix !== '.isobar-probe/') out.push(p.Prefix!);
      token = r.IsTruncated ? r.NextContinuationToken : undefined;
    } while (token);
    return out.sort();
  }

  async delete(key: string): Promise<void> {
    checkKey(key);
    await this.client.send(new DeleteObjectCommand({ Bucket: this.name, Key: key }));
  }

  close(): void {
    this.client.destroy();
  }
}
