/**
 * How the edge and the coordinators reach storage nodes: one interface, two
 * implementations.
 *  - UrlTransport: plain HTTP base URLs (development, self-hosted NVMe nodes).
 *  - ContainerTransport: Cloudflare Containers, one container-backed Durable
 *    Object per node (production).
 * A tenant×shard is placed on a node by jump hash, so adding nodes moves only
 * a proportional share of shards.
 */
import { jumpHash, seriesHash } from '../wire/hash.js';
import { edgeConfig, type EdgeVars } from './vars.js';

export interface NodeClient {
  /** Stable id for logs (`http://10.0.0.5:8790`, `container-3`). */
  readonly id: string;
  /** Request a path of the node's internal API; the secret is added here. */
  fetch(path: string, init?: RequestInit): Promise<Response>;
}

export interface NodeTransport {
  nodeFor(tenant: string, shard: number): NodeClient;
  /** Every node, for fan-out reads. */
  all(): NodeClient[];
  /**
   * The base URL another node uses to reach `node` (with the node secret):
   * its own URL, or, for containers (which cannot call each other), the
   * edge's relay `<edgeOrigin>/internal/v1/nodes/<index>`.
   */
  peerBase(node: NodeClient, edgeOrigin: string): string;
}

/** The edge route relaying a node's internal request to another node (containers). */
export const RELAY_PREFIX = '/internal/v1/nodes/';

function placement(tenant: string, shard: number, nodes: number): number {
  const h = seriesHash([['shard', String(shard)], ['tenant', tenant]]); // sorted, as every label set we hash
  return jumpHash(h.hi, h.lo, nodes);
}

function withSecret(init: RequestInit | undefined, secret: string): RequestInit {
  const headers = new Headers(init?.headers);
  headers.set('authorization', `Bearer ${secret}`);
  return { ...init, headers };
}

export class UrlTransport implements NodeTransport {
  private readonly nodes: NodeClient[];
  constructor(urls: readonly string[], secret: string) {
    if (urls.length === 0) throw new Error('UrlTransport needs at least one storage-node URL');
    this.nodes = urls.map((u) => {
      const base = u.replace(/\/+$/, '');
      return { id: base, fetch: (path: string, init?: RequestInit) => fetch(base + path, withSecret(init, secret)) };
    });
  }
  nodeFor(tenant: string, shard: number): NodeClient {
    return this.nodes[placement(tenant, shard, this.nodes.length)]!;
  }
  all(): NodeClient[] {
    return this.nodes;
  }
  peerBase(node: NodeClient): string {
    return node.id;
  }
}

export class ContainerTransport implements NodeTransport {
  private readonly nodes: NodeClient[];
  constructor(ns: DurableObjectNamespace, count: number, secret: string) {
    this.nodes = Array.from({ length: count }, (_, i) => {
      const stub = ns.get(ns.idFromName(`storage-node-${i}`));
      // The container listens on its default port; the host part of the URL is ignored.
      return { id: `container-${i}`, fetch: (path: string, init?: RequestInit) => stub.fetch(`http://storage-node${path}`, withSecret(init, secret)) };
    });
  }
  nodeFor(tenant: string, shard: number): NodeClient {
    return this.nodes[placement(tenant, shard, this.nodes.length)]!;
  }
  all(): NodeClient[] {
    return this.nodes;
  }
  peerBase(node: NodeClient, edgeOrigin: string): string {
    return `${edgeOrigin}${RELAY_PREFIX}${this.nodes.indexOf(node)}`;
  }
}

/** The transport the environment configures: URLs when given, else containers. */
export function transportFrom(env: EdgeVars): NodeTransport {
  const config = edgeConfig(env);
  if (config.nodeUrls.length > 0) return new UrlTransport(config.nodeUrls, config.nodeSecret);
  if (env.STORAGE_NODE) return new ContainerTransport(env.STORAGE_NODE, config.nodeCount, config.nodeSecret);
  throw new Error('no storage nodes configured: set ISOBAR_NODE_URLS or bind STORAGE_NODE');
}
