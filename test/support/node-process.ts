/**
 * A real storage-node process for tests: built from source, run on the
 * machine's Node.js (20), on a free port, with its own data directory.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildStorageNode } from '../../scripts/build.mjs';

export const TEST_NODE_SECRET = 'test-node-secret-0123456789';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

export class NodeProcess {
  child: ChildProcess | undefined;
  readonly dataDir = mkdtempSync(join(tmpdir(), 'isobar-node-'));
  constructor(readonly port: number) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const main = await buildStorageNode();
    const bin = process.env.ISOBAR_NODE || process.execPath;
    this.child = spawn(bin, [main], {
      stdio: ['ignore', 'ignore', 'inherit'],
      env: { ...process.env, ISOBAR_NODE_PORT: String(this.port), ISOBAR_NODE_SECRET: TEST_NODE_SECRET, ISOBAR_DATA_DIR: this.dataDir, ISOBAR_LOG_LEVEL: 'warn' },
    });
    const until = Date.now() + 20_000;
    while (Date.now() < until) {
      if (this.child.exitCode !== null) throw new Error(`storage node exited with ${this.child.exitCode}`);
      try {
        if ((await fetch(`${this.url}/-/ready`)).ok) return;
      } catch {}
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error('storage node did not become ready');
  }

  /** Stop the process: SIGKILL by default, as a crash would. */
  async stop(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const c = this.child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    await new Promise<void>((r) => {
      c.once('exit', () => r());
      c.kill(signal);
    });
  }
}
