/** scripts/build.mjs: bundles the storage node; resolves to dist/storage-node/main.mjs. */
export function buildStorageNode(): Promise<string>;
