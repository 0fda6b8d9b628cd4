/**
 * The admin API's OpenAPI 3.1 document (`GET /admin/v1/openapi.json`). Request
 * bodies are the zod schemas the handlers validate with, converted, so the
 * document cannot drift from what the API accepts.
 */
import { z } from 'zod';
import { LimitsPatchSchema, LimitsSchema } from '../../durable/limits.js';
import { CreateKey, CreateTenant } from './admin-schemas.js';
import { TENANT_ID_RE } from '../../wire/tenant-id.js';

const Tenant = z.object({
  id: z.string(),
  name: z.string(),
  createdAt: z.iso.datetime(),
  limits: LimitsSchema,
  overrides: LimitsPatchSchema,
});
const Key = z.object({
  id: z.string(),
  name: z.string(),
  scopes: z.array(z.enum(['write', 'read', 'admin'])),
  createdAt: z.iso.datetime(),
  expiresAt: z.iso.datetime().nullable(),
  revoked: z.boolean(),
});
const UsageWindow = z.object({ samplesAccepted: z.number(), samplesRejected: z.record(z.string(), z.number()), queries: z.number(), samplesRead: z.number() });
const Usage = z.object({ tenant: z.string(), activeSeries: z.number(), bytesStored: z.number(), lastHour: UsageWindow, lastDay: UsageWindow });
const KeyCreated = z.object({ id: z.string(), key: z.string().describe('the secret, shown only in this answer'), scopes: z.array(z.string()) });
const ApiError = z.object({ error: z.string().describe('what was wrong, and which limit applied'), id: z.string().describe('stable error id (docs/errors.md)') });

const schema = (s: z.ZodType) => {
  const { $schema: _, ...rest } = z.toJSONSchema(s, { io: 'input' }) as Record<string, unknown>;
  return rest;
};
const json = (s: z.ZodType, description: string) => ({ description, content: { 'application/json': { schema: schema(s) } } });
const err = (description: string) => json(ApiError, description);
const tenantId = { name: 'id', in: 'path', required: true, schema: { type: 'string', pattern: TENANT_ID_RE.source } };
const keyId = { name: 'keyId', in: 'path', required: true, schema: { type: 'string' } };
const ulidParam = { name: 'ulid', in: 'path', required: true, schema: { type: 'string', pattern: '^[0-9A-HJKMNP-TV-Z]{26}$' } };
const common = { '401': err('missing or wrong operator token') };

let cached: unknown;

export function openApiDocument(): unknown {
  cached ??= {
    openapi: '3.1.0',
    info: { title: 'Isobar admin API', version: '1', description: 'Tenants, API keys and limits. Every operation needs `Authorization: Bearer $ISOBAR_ADMIN_TOKEN`.' },
    servers: [{ url: '/admin/v1' }],
    components: { securitySchemes: { operatorToken: { type: 'http', scheme: 'bearer' } } },
    security: [{ operatorToken: [] }],
    paths: {
      '/tenants': {
        get: { summary: 'List tenants', responses: { '200': json(z.object({ tenants: z.array(Tenant) }), 'every tenant'), ...common } },
        post: {
          summary: 'Create a tenant',
          requestBody: { required: true, content: { 'application/json': { schema: schema(CreateTenant) } } },
          responses: { '201': json(Tenant, 'created'), '400': err('invalid body'), '409': err('the tenant exists'), ...common },
        },
      },
      '/tenants/{id}': {
        get: { summary: 'A tenant with its effective limits', parameters: [tenantId], responses: { '200': json(Tenant, 'the tenant'), '404': err('no such tenant'), ...common } },
        delete: {
          summary: 'Delete a tenant: keys and writes refused at once, data removed from coordinators and storage nodes (retried until done)',
          parameters: [tenantId],
          responses: {
            '202': json(
              z.object({ deleted: z.string(), dataRemoved: z.boolean(), pending: z.array(z.object({ id: z.string(), deletedAt: z.string(), attempts: z.number(), lastError: z.string().nullable() })) }),
              'deleted; `dataRemoved` false while some node or coordinator is still to be purged',
            ),
            '404': err('no such tenant'),
            ...common,
          },
        },
      },
      '/tenants/{id}/limits': {
        patch: {
          summary: 'Change some limits; answers with all of them',
          parameters: [tenantId],
          requestBody: { required: true, content: { 'application/json': { schema: schema(LimitsPatchSchema) } } },
          responses: { '200': json(LimitsSchema, 'the effective limits'), '400': err('invalid body'), '404': err('no such tenant'), ...common },
        },
      },
      '/tenants/{id}/usage': {
        get: {
          summary: 'Samples accepted and refused (by error id), active series, bytes stored, queries and samples read, over the last hour and day',
          parameters: [tenantId],
          responses: { '200': json(Usage, 'the usage'), '404': err('no such tenant'), ...common },
        },
      },
      '/tenants/{id}/keys': {
        get: { summary: 'List keys (never their secrets)', parameters: [tenantId], responses: { '200': json(z.object({ keys: z.array(Key) }), 'the keys'), '404': err('no such tenant'), ...common } },
        post: {
          summary: 'Create a key; its secret is in this answer only',
          parameters: [tenantId],
          requestBody: { required: true, content: { 'application/json': { schema: schema(CreateKey) } } },
          responses: { '201': json(KeyCreated, 'created'), '400': err('invalid body'), '404': err('no such tenant'), ...common },
        },
      },
      '/tenants/{id}/keys/{keyId}': {
        delete: { summary: 'Revoke a key (refused at every edge within the key cache time)', parameters: [tenantId, keyId], responses: { '204': { description: 'revoked' }, '404': err('no such key'), ...common } },
      },
      '/flush': {
        post: {
          summary: 'Cut storage nodes\u2019 heads into blocks now',
          parameters: [{ name: 'tenant', in: 'query', required: false, schema: { type: 'string' } }],
          responses: { '200': { description: 'per node: time taken and tenants flushed' }, ...common },
        },
      },
      '/tenants/{id}/import/{ulid}': {
        get: {
          summary: 'Backfill: what the storage node holds of a block being imported (`absent`, `staged` with file sizes, or `imported`)',
          parameters: [tenantId, ulidParam],
          responses: { '200': { description: '{"state": …, "files": {"index": bytes, …}}' }, '404': err('no such tenant'), ...common },
        },
      },
      '/tenants/{id}/import/{ulid}/file': {
        put: {
          summary: 'Backfill: a part (at most 32 MiB) of one file of a Prometheus block, at the offset where the staged copy ends',
          parameters: [
            tenantId,
            ulidParam,
            { name: 'path', in: 'query', required: true, schema: { type: 'string', pattern: '^(meta\\.json|index|chunks/\\d{6})$' } },
            { name: 'offset', in: 'query', required: true, schema: { type: 'integer', minimum: 0 } },
          ],
          requestBody: { required: true, content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } } },
          responses: { '200': { description: 'staged; the new size' }, '409': { description: 'the offset is not where the staged copy ends (the answer says where)' }, '413': { description: 'part too large' }, ...common },
        },
      },
      '/tenants/{id}/import/{ulid}/commit': {
        post: {
          summary: 'Backfill: check the staged block (index, chunks, samples inside the retention) and take it; repeating is harmless',
          parameters: [tenantId, ulidParam],
          responses: { '200': { description: 'imported: series, samples, time range' }, '400': { description: 'the block was refused; the answer says why' }, ...common },
        },
      },
      '/tenants/{id}/shards/{shard}/log': {
        get: {
          summary: 'A shard coordinator\u2019s commit-log state',
          parameters: [tenantId, { name: 'shard', in: 'path', required: true, schema: { type: 'integer', minimum: 0 } }],
          responses: { '200': { description: 'sequence numbers, rows and bytes held' }, ...common },
        },
      },
    },
  };
  return cached;
}
