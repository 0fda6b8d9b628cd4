/** Constant-time comparison of a presented secret with the configured one (both hashed first). */
import { sha256 } from '../../durable/tenant-registry.js';

export async function secretMatches(given: string, expected: string | undefined): Promise<boolean> {
  if (!given || !expected) return false;
  const [a, b] = await Promise.all([sha256(given), sha256(expected)]);
  return crypto.subtle.timingSafeEqual(a, b);
}

/** The token of an `Authorization: Bearer <token>` header, or "". */
export function bearer(header: string | undefined): string {
  return header?.startsWith('Bearer ') ? header.slice(7) : '';
}
