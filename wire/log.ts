/**
 * Structured logs: one JSON object per line on stdout (stderr for errors), with
 * a level, a component and a message; fields carry the rest. Never pass a key,
 * token or secret as a field: nothing here redacts for you.
 */
export type Level = 'debug' | 'info' | 'warn' | 'error';
const ORDER: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
}

export function createLogger(component: string, minLevel: Level = 'info', base: Record<string, unknown> = {}): Logger {
  const emit = (level: Level, msg: string, fields?: Record<string, unknown>) => {
    if (ORDER[level] < ORDER[minLevel]) return;
    const line = JSON.stringify({ ts: new Date().toISOString(), level, component, msg, ...base, ...fields });
    if (level === 'error' || level === 'warn') console.error(line);
    else console.log(line);
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
    child: (f) => createLogger(component, minLevel, { ...base, ...f }),
  };
}

/** Error fields for a log line, without stack noise for expected errors. */
export function errorFields(e: unknown): Record<string, unknown> {
  if (e instanceof Error) return { error: e.message, errorName: e.name };
  return { error: String(e) };
}
