/**
 * Runs in Node before the workerd tests: starts a real storage node and a
 * small control server the tests (inside workerd) call to stop and restart it.
 */
import { createServer } from 'node:http';
import type { TestProject } from 'vitest/node';
import { freePort, NodeProcess } from '../support/node-process.js';

declare module 'vitest' {
  export interface ProvidedContext {
    nodePort: number;
    controlUrl: string;
  }
}

export default async function setup(project: TestProject) {
  const node = new NodeProcess(await freePort());
  await node.start();
  const control = createServer(async (req, res) => {
    try {
      if (req.url === '/stop') await node.stop('SIGKILL');
      else if (req.url === '/start') await node.start();
      else {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200).end('ok');
    } catch (e) {
      res.writeHead(500).end(String(e));
    }
  });
  await new Promise<void>((r) => control.listen(0, '127.0.0.1', () => r()));
  project.provide('nodePort', node.port);
  project.provide('controlUrl', `http://127.0.0.1:${(control.address() as { port: number }).port}`);
  return async () => {
    control.close();
    await node.stop('SIGTERM');
  };
}
