#!/usr/bin/env node
// `npm start`: the whole stack on its development defaults, in the foreground.
import { banner, settings, startEdge, startNode, stop } from './stack.mjs';

const s = settings();
console.log(`isobar: starting storage node on 127.0.0.1:${s.ISOBAR_NODE_PORT} and edge on 127.0.0.1:${s.ISOBAR_PORT} (state in ${s.ISOBAR_DATA_DIR})`);
let node;
let edge;
const shutdown = async (code = 0) => {
  await Promise.all([stop(edge), stop(node)]);
  process.exit(code);
};
process.on('SIGINT', () => shutdown(0));
process.on('SIGTERM', () => shutdown(0));
try {
  node = await startNode(s);
  console.log('isobar: storage node ready');
  edge = await startEdge(s);
  console.log(banner(s));
} catch (e) {
  console.error(`isobar: failed to start: ${e.message}`);
  await shutdown(1);
}
for (const [name, child] of [['storage node', node], ['edge', edge]]) {
  child.on('exit', (code) => {
    console.error(`isobar: ${name} exited (code ${code}); stopping`);
    shutdown(1);
  });
}
