/**
 * Queries share the node's event loop a slice at a time, one slice per loop
 * turn. A query that gives the loop back (every ~10 ms of work) waits for its
 * turn, and each turn resumes one waiting query only, so requests that are not
 * queries (remote write above all) are served between every two slices, not
 * once every query of a storm has had its slice.
 *
 * Which query gets the turn: the one that had the last turn, while it has had
 * turns for less than a quantum (QUANTUM_MS); else the one waiting longest. A
 * storm of queries is thus read mostly one after another, each handed to a
 * query thread as soon as it is read, rather than all read a slice at a time
 * and all handed over at the end, with the threads idle meanwhile; and a
 * query with much to read still lets the others through every quantum.
 */

/** How long one query may keep the turns while others wait for them. */
export const QUANTUM_MS = 25;

const waiting: Array<{ owner: object | undefined; resume: () => void }> = [];
let scheduled = false;
/** The query that had the last turn, and since when it has had them. */
let holder: object | undefined;
let holderSince = 0;

function resumeOne(): void {
  let i = 0;
  if (holder !== undefined && performance.now() - holderSince < QUANTUM_MS) {
    const mine = waiting.findIndex((w) => w.owner === holder);
    if (mine >= 0) i = mine;
  }
  const [next] = waiting.splice(i, 1);
  if (next && next.owner !== holder) {
    holder = next.owner;
    holderSince = performance.now();
  }
  // Queued from inside this callback, the next one runs on the next loop turn, after its I/O.
  scheduled = waiting.length > 0;
  if (scheduled) setImmediate(resumeOne);
  next?.resume();
}

/**
 * Resolves on a later loop turn, when this query's turn comes: `owner` (the
 * query) keeps the turns for up to a quantum; without one, first come, first
 * served.
 */
export function nextTurn(owner?: object): Promise<void> {
  return new Promise((resume) => {
    waiting.push({ owner, resume });
    if (!scheduled) {
      scheduled = true;
      setImmediate(resumeOne);
    }
  });
}
