/**
 * Object storage: one interface, two implementations (filesystem, S3 API),
 * both held to one conformance suite (`conformance.ts`). Keys are
 * `/`-separated paths (`<tenant>/<ULID>/chunks/000001`).
 */

export interface ObjectInfo {
  key: string;
  size: number;
}

export interface Bucket {
  /** For logs: `file:///data/bucket`, `s3://name`. */
  readonly where: string;
  /**
   * Store an object. With `ifAbsent`, only if no object has the key: false
   * when one had (nothing written). That is the write that prevents a lost
   * update (two writers of one key: the second learns it lost).
   */
  put(key: string, body: Uint8Array, opts?: { ifAbsent?: boolean }): Promise<boolean>;
  /** Store a local file (large ones in parts). */
  putFile(key: string, path: string): Promise<void>;
  /** An object's bytes, or a range of them; undefined when there is no such object. */
  get(key: string, range?: { offset: number; length: number }): Promise<Uint8Array | undefined>;
  head(key: string): Promise<ObjectInfo | undefined>;
  /** Every object whose key starts with `prefix`, in key order. */
  list(prefix: string): Promise<ObjectInfo[]>;
  /** The next path segments under `prefix` (which ends with `/`, or is '' for the root): `t/` -> [`t/01H…/`, …]. */
  listPrefixes(prefix: string): Promise<string[]>;
  /** Remove an object; removing one that is not there is not an error. */
  delete(key: string): Promise<void>;
}

export class BucketKeyError extends Error {
  constructor(key: string, why: string) {
    super(`bad object key ${JSON.stringify(key)}: ${why}`);
    this.name = 'BucketKeyError';
  }
}

/** Keys are relative paths of non-empty segments; no `.`/`..`, no backslashes, no NUL. */
export function checkKey(key: string): void {
  if (key === '' || key.length > 1024) throw new BucketKeyError(key, 'empty or over 1024 characters');
  if (/[\\\0]/.test(key)) throw new BucketKeyError(key, 'backslash or NUL');
  for (const seg of key.split('/')) if (seg === '' || seg === '.' || seg === '..') throw new BucketKeyError(key, 'empty, "." or ".." path segment');
}
