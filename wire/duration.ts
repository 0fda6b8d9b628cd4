/** Prometheus durations ("1h30m", "90d", "500ms"), shared by the PromQL parser and the admin API. */

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000, y: 31_536_000_000 };

/** The duration in ms, or undefined when `src` is not one (empty, or anything but <number><unit> runs). */
export function durationMs(src: string): number | undefined {
  if (src === '') return undefined;
  const re = /(\d+)(ms|s|m|h|d|w|y)/y;
  let total = 0;
  for (let pos = 0; pos < src.length; pos = re.lastIndex) {
    re.lastIndex = pos;
    const m = re.exec(src);
    if (!m) return undefined;
    total += Number(m[1]) * UNIT_MS[m[2]!]!;
  }
  return total;
}
