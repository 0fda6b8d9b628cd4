// Types of `env` from cloudflare:test / cloudflare:workers in the workerd tests.
import type { Env as IsobarEnv } from '../../durable/env.js';

declare global {
  namespace Cloudflare {
    interface Env extends IsobarEnv {
      /** Control server of the test storage node (test/workers/global-setup.ts). */
      CONTROL_URL: string;
    }
  }
}
export {};
