/** The Hono context type every edge module shares. */
import type { Env } from '../../durable/env.js';
import type { Principal } from '../../durable/tenant-registry.js';

export type Vars = { principal: Principal };
export type AppEnv = { Bindings: Env; Variables: Vars };
