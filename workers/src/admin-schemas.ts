/**
 * The admin API's request bodies, as zod schemas: the admin routes validate
 * with them and the OpenAPI document (openapi.ts) is generated from them.
 */
import { z } from 'zod';
import { LimitsPatchSchema, LimitsSchema, RetentionSchema } from '../../durable/limits.js';
import { TENANT_ID_RE, TENANT_ID_RULE } from '../../wire/tenant-id.js';

export const CreateTenant = z
  .object({
    id: z.string().regex(TENANT_ID_RE, TENANT_ID_RULE),
    name: z.string().max(200).optional(),
    limits: LimitsPatchSchema.optional(),
    /** Shorthand for limits.retentionSeconds and the tiers' (`{"raw": "30d", "5m": "1y", "1h": "5y"}`). */
    retention: RetentionSchema.optional(),
    /** Shorthand for limits.shards. */
    shards: LimitsSchema.shape.shards.optional(),
  })
  .strict();
export const CreateKey = z.object({
  scopes: z.array(z.enum(['write', 'read', 'admin'])).min(1),
  name: z.string().max(200).optional(),
  expiresAt: z.iso.datetime({ offset: true }).optional(),
});
