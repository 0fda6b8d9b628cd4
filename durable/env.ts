/** Bindings and variables of the Worker and its Durable Objects (see wrangler.toml). */
import type { ShardCoordinator } from './shard-coordinator.js';
import type { TenantRegistry } from './tenant-registry.js';
import type { EdgeVars } from './vars.js';

export { edgeConfig, type EdgeConfig, type EdgeVars } from './vars.js';

/** The Worker's whole environment: the variables, and the Durable Object namespaces. */
export interface Env extends EdgeVars {
  SHARD_COORDINATOR: DurableObjectNamespace<ShardCoordinator>;
  TENANT_REGISTRY: DurableObjectNamespace<TenantRegistry>;
}
