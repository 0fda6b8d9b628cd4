/**
 * Queries share the node's event loop a slice at a time, one slice per loop
 * turn. A query that gives the loop back (every ~10 ms of work) waits for its
 * turn, and each turn resumes one waiting query only, so requests that are not
 * queries (remote write above all) are served between every two slices, not
 * once every query of a storm has had its slice.
 */
const waiting: Array<() => void> = [];
let scheduled = false;

function resumeOne(): void {
  const next = waiting.shift();
  // Queued from inside this callback, the next one runs on the next loop turn, after its I/O.
  scheduled = waiting.length > 0;
  if (scheduled) setImmediate(resumeOne);
  next?.();
}

/** Resolves on a later loop turn, when this query's turn comes (first come, first served). */
export function nextTurn(): Promise<void> {
  return new Promise((resolve) => {
    waiting.push(resolve);
    if (!scheduled) {
      scheduled = true;
      setImmediate(resumeOne);
    }
  });
}
