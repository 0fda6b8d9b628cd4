/**
 * `isobar`: the operator's command line over the admin API (/admin/v1).
 *
 *   isobar tenant list | create <id> [--name N] [--shards N] | get <id> | delete <id>
 *   isobar key create <tenant> [--scopes write,read] [--name N] [--expires RFC3339]
 *   isobar key list <tenant> | revoke <tenant> <key id>
 *   isobar limits get <tenant> | set <tenant> --ingestion-rate N --max-label-names-per-series N ...
 *   isobar usage <tenant>
 *   isobar import --tenant <id> <dir-or-file> [--part-size MiB]
 *
 * Endpoint and token come from --url / --token or ISOBAR_URL / ISOBAR_ADMIN_TOKEN.
 * Output is a readable table; --json prints the API's JSON instead.
 */
import { parseArgs } from 'node:util';
import { BUILTIN_LIMITS, limitName, type Limits } from '../durable/limits.js';
import { DEFAULT_PART_BYTES, importCommand } from './import.js';

const USAGE = `usage: isobar [--url URL] [--token TOKEN] [--json] <command>

  tenant list                               every tenant
  tenant create <id> [--name N] [--shards N]
  tenant get <id>                           a tenant and its effective limits
  tenant delete <id>                        refuses its keys and writes at once, removes its data
  key create <tenant> [--scopes write,read] [--name N] [--expires 2027-01-01T00:00:00Z]
                                            prints the key once: store it now
  key list <tenant>                         keys without their secrets
  key revoke <tenant> <key id>
  usage <tenant>                            samples accepted and refused, series, bytes, queries
  limits get <tenant>
  limits set <tenant> --<limit> N ...       e.g. --ingestion-rate 200000 --max-label-names-per-series 30
  import --tenant <id> <dir-or-file>        backfill: Prometheus blocks (a block, or a folder of them)
                                            or an OpenMetrics file; checked first, resumable, rerun-safe
         [--part-size MiB]                  size of each upload request (default 16)

  limits: ${Object.keys(BUILTIN_LIMITS).map((k) => '--' + limitName(k as keyof Limits).replace(/_/g, '-')).join(' ')}
  environment: ISOBAR_URL (default http://127.0.0.1:8787), ISOBAR_ADMIN_TOKEN`;

class UsageError extends Error {}

interface Ctx {
  url: string;
  token: string;
  json: boolean;
  out: (s: string) => void;
}

async function api(ctx: Ctx, method: string, path: string, body?: unknown): Promise<any> {
  let r: Response;
  try {
    r = await fetch(`${ctx.url.replace(/\/+$/, '')}/admin/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${ctx.token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (e) {
    throw new Error(`cannot reach ${ctx.url}: ${(e as Error).message}`);
  }
  const text = await r.text();
  if (!r.ok) {
    let msg = text;
    try {
      const j = JSON.parse(text) as { error?: string; id?: string };
      if (j.error) msg = `${j.error}${j.id ? ` (${j.id})` : ''}`;
    } catch {}
    throw new Error(`${method} ${path}: ${r.status} ${msg.trim()}`);
  }
  return text ? JSON.parse(text) : null;
}

/** Columns padded to their widest cell. */
function table(rows: Array<Record<string, unknown>>, columns: string[]): string {
  const cells = [columns, ...rows.map((r) => columns.map((c) => (r[c] === null || r[c] === undefined ? '-' : String(r[c]))))];
  const widths = columns.map((_, i) => Math.max(...cells.map((row) => row[i]!.length)));
  return cells.map((row) => row.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
}

function limitsTable(limits: Limits, overrides: Partial<Limits> = {}): string {
  return table(
    (Object.keys(limits) as Array<keyof Limits>).map((k) => ({ limit: limitName(k), value: limits[k], set: k in overrides ? 'tenant' : 'default' })),
    ['limit', 'value', 'set'],
  );
}

const LIMIT_FLAGS = Object.fromEntries((Object.keys(BUILTIN_LIMITS) as Array<keyof Limits>).map((k) => [limitName(k).replace(/_/g, '-'), k])) as Record<string, keyof Limits>;

function need(args: string[], n: number, what: string): string[] {
  if (args.length < n) throw new UsageError(`missing ${what}`);
  return args;
}

/** Progress on stderr: one line redrawn on a terminal; elsewhere, a line at most every second. */
function stderrProgress(): (line: string, transient: boolean) => void {
  const tty = process.stderr.isTTY;
  let last = 0;
  let lastKind = '';
  return (line, transient) => {
    if (tty) {
      process.stderr.write(`\r\x1b[K${line}${transient ? '' : line ? '\n' : ''}`);
      return;
    }
    if (line === '') return;
    const now = Date.now();
    const kind = line.split(' ', 2).join(' '); // "block 2/5", "checking block": a new step always shows
    if (transient && kind === lastKind && now - last < 1000) return;
    last = now;
    lastKind = kind;
    process.stderr.write(line + '\n');
  };
}

export async function run(argv: string[], env: NodeJS.ProcessEnv, out: (s: string) => void, progress = stderrProgress()): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        url: { type: 'string' },
        token: { type: 'string' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
        name: { type: 'string' },
        scopes: { type: 'string' },
        expires: { type: 'string' },
        tenant: { type: 'string' },
        'part-size': { type: 'string' },
        // Every limit is a flag (--shards among them).
        ...Object.fromEntries(Object.keys(LIMIT_FLAGS).map((f) => [f, { type: 'string' as const }])),
      },
    });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const positionals = parsed.positionals;
  const values = parsed.values as Record<string, string | boolean | undefined>;
  if (values.help || positionals.length === 0) {
    out(USAGE);
    return;
  }
  const token = (values.token as string | undefined) ?? env.ISOBAR_ADMIN_TOKEN;
  if (!token) throw new UsageError('no admin token: pass --token or set ISOBAR_ADMIN_TOKEN');
  const ctx: Ctx = { url: (values.url as string | undefined) ?? env.ISOBAR_URL ?? 'http://127.0.0.1:8787', token, json: values.json === true, out };
  const show = (data: unknown, text: () => string) => out(ctx.json ? JSON.stringify(data, null, 2) : text());
  const [group, action, ...args] = positionals;
  const num = (flag: string, raw: unknown, min = 1): number => {
    const n = Number(raw);
    if (typeof raw !== 'string' || !Number.isInteger(n) || n < min) throw new UsageError(`--${flag} needs a ${min === 0 ? 'non-negative' : 'positive'} whole number, got ${JSON.stringify(raw ?? '')}`);
    return n;
  };

  if (group === 'import') {
    const tenant = values.tenant as string | undefined;
    if (!tenant) throw new UsageError('import needs --tenant <id>');
    const path = need(action ? [action, ...args] : [], 1, 'a block folder, a folder of blocks, or an OpenMetrics file')[0]!;
    const part = values['part-size'] === undefined ? DEFAULT_PART_BYTES : Math.round(Number(values['part-size']) * 1024 * 1024);
    if (!(part >= 1024 && part <= 32 * 1024 * 1024)) throw new UsageError('--part-size is in MiB, between 0.001 and 32');
    return importCommand({ url: ctx.url, token: ctx.token, json: ctx.json, out, progress }, tenant, path, part);
  }

  if (group === 'usage') {
    const tenant = need(action ? [action] : [], 1, 'tenant id')[0]!;
    const u = await api(ctx, 'GET', `/tenants/${encodeURIComponent(tenant)}/usage`);
    const rows = (w: any) => [
      ['samples accepted', w.samplesAccepted],
      ...Object.entries(w.samplesRejected as Record<string, number>).map(([id, n]) => [`samples refused: ${id}`, n]),
      ['queries', w.queries],
      ['samples read', w.samplesRead],
    ];
    const hour = rows(u.lastHour);
    const day = new Map(rows(u.lastDay).map(([k, v]) => [k, v]));
    const keys = [...new Set([...hour.map(([k]) => k), ...day.keys()])];
    return show(u, () =>
      `${tenant}: ${u.activeSeries} active series, ${u.bytesStored} bytes stored\n\n` +
      table(keys.map((k) => ({ what: k, 'last hour': hour.find(([x]) => x === k)?.[1] ?? 0, 'last day': day.get(k) ?? 0 })), ['what', 'last hour', 'last day']),
    );
  }

  switch (`${group} ${action ?? ''}`.trim()) {
    case 'tenant list': {
      const { tenants } = await api(ctx, 'GET', '/tenants');
      return show(tenants, () => table(tenants.map((t: any) => ({ ...t, shards: t.limits.shards })), ['id', 'name', 'shards', 'createdAt']));
    }
    case 'tenant create': {
      const [id] = need(args, 1, 'tenant id');
      const t = await api(ctx, 'POST', '/tenants', { id, ...(values.name ? { name: values.name } : {}), ...(values.shards ? { shards: num('shards', values.shards) } : {}) });
      return show(t, () => `created tenant ${t.id} (${t.limits.shards} shard${t.limits.shards === 1 ? '' : 's'})`);
    }
    case 'tenant get': {
      const [id] = need(args, 1, 'tenant id');
      const t = await api(ctx, 'GET', `/tenants/${encodeURIComponent(id!)}`);
      return show(t, () => `${t.id}  ${t.name}  created ${t.createdAt}\n\n${limitsTable(t.limits, t.overrides)}`);
    }
    case 'tenant delete': {
      const [id] = need(args, 1, 'tenant id');
      const r = await api(ctx, 'DELETE', `/tenants/${encodeURIComponent(id!)}`);
      return show(r, () => (r.dataRemoved ? `deleted tenant ${id} and its data` : `deleted tenant ${id}; its data is being removed (retried every minute): ${JSON.stringify(r.pending)}`));
    }
    case 'key create': {
      const [tenant] = need(args, 1, 'tenant id');
      const scopes = ((values.scopes as string | undefined) ?? 'write,read').split(',').map((s) => s.trim()).filter(Boolean);
      const k = await api(ctx, 'POST', `/tenants/${encodeURIComponent(tenant!)}/keys`, {
        scopes,
        ...(values.name ? { name: values.name } : {}),
        ...(values.expires ? { expiresAt: values.expires } : {}),
      });
      return show(k, () => `key ${k.id} for ${tenant} (${k.scopes.join(', ')}):\n\n  ${k.key}\n\nThis is the only time the key is shown; store it now.`);
    }
    case 'key list': {
      const [tenant] = need(args, 1, 'tenant id');
      const { keys } = await api(ctx, 'GET', `/tenants/${encodeURIComponent(tenant!)}/keys`);
      return show(keys, () => table(keys.map((k: any) => ({ ...k, scopes: k.scopes.join(','), state: k.revoked ? 'revoked' : 'active' })), ['id', 'name', 'scopes', 'state', 'createdAt', 'expiresAt']));
    }
    case 'key revoke': {
      const [tenant, keyId] = need(args, 2, 'tenant id and key id');
      await api(ctx, 'DELETE', `/tenants/${encodeURIComponent(tenant!)}/keys/${encodeURIComponent(keyId!)}`);
      return show({ revoked: keyId }, () => `revoked key ${keyId} of ${tenant} (edges refuse it within their key cache time)`);
    }
    case 'limits get': {
      const [tenant] = need(args, 1, 'tenant id');
      const t = await api(ctx, 'GET', `/tenants/${encodeURIComponent(tenant!)}`);
      return show(t.limits, () => limitsTable(t.limits, t.overrides));
    }
    case 'limits set': {
      const [tenant] = need(args, 1, 'tenant id');
      const patch: Partial<Limits> = {};
      for (const [flag, raw] of Object.entries(values)) {
        const k = LIMIT_FLAGS[flag];
        if (k) patch[k] = num(flag, raw, k === 'retention5mSeconds' || k === 'retention1hSeconds' ? 0 : 1); // 0 turns a tier off
      }
      if (Object.keys(patch).length === 0) throw new UsageError('say which limits to set, e.g. --ingestion-rate 200000');
      const limits = await api(ctx, 'PATCH', `/tenants/${encodeURIComponent(tenant!)}/limits`, patch);
      return show(limits, () => limitsTable(limits, patch));
    }
    default:
      throw new UsageError(`unknown command ${JSON.stringify(positionals.join(' '))}`);
  }
}

/** Entry point: exit code 2 for usage errors, 1 for failed requests. */
export async function main(): Promise<void> {
  try {
    await run(process.argv.slice(2), process.env, (s) => console.log(s));
  } catch (e) {
    console.error(`isobar: ${(e as Error).message}`);
    if (e instanceof UsageError) console.error(`\n${USAGE}`);
    process.exitCode = e instanceof UsageError ? 2 : 1;
  }
}
