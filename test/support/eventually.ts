/** Poll `f` until `ok` holds or `ms` pass; returns the last value (the caller asserts on it). */
export async function eventually<T>(f: () => Promise<T>, ok: (t: T) => boolean, ms = 15_000, everyMs = 200): Promise<T> {
  const until = Date.now() + ms;
  let last = await f();
  while (!ok(last) && Date.now() < until) {
    await new Promise((r) => setTimeout(r, everyMs));
    last = await f();
  }
  return last;
}
