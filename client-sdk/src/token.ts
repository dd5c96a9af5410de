/**
 * Token timing for renewal (docs/protocol.md, section 16): when a JWT
 * expires, read without verifying it (the server verifies; the client only
 * needs to know when to ask for the next one), and when to renew it.
 * Internal.
 * @module
 */

/** Renewal happens at most this long before `exp`. */
export const RENEW_MAX_MARGIN_MS = 30_000;
/** ... and at least this share of the remaining lifetime before it. */
export const RENEW_MARGIN_SHARE = 0.1;

/**
 * The `exp` of a JWT in milliseconds since the epoch, or null when `token` is
 * not a JWT with a numeric `exp` (an opaque token: it is then renewed only
 * when the server says it expired). The signature is not checked.
 */
export function jwtExpiry(token: string): number | null {
  const parts = token.split('.');
  if (parts.length !== 3 || parts[1] === undefined || parts[1].length > 64 * 1024) return null;
  try {
    const b64 = parts[1].replace(/-/g, '+').replace(/_/g, '/');
    const bin = atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4));
    const bytes = Uint8Array.from(bin, (c) => c.charCodeAt(0));
    const claims: unknown = JSON.parse(new TextDecoder().decode(bytes));
    const exp = (claims as { exp?: unknown } | null)?.exp;
    return typeof exp === 'number' && Number.isFinite(exp) && exp > 0 ? exp * 1000 : null;
  } catch {
    return null;
  }
}

/**
 * How long to wait before renewing a token that expires at `expMs`, seen at
 * `nowMs`: 10% of the remaining lifetime before `exp`, at most 30 s before
 * it. A token with 1 hour left is renewed 30 s before its `exp`, one with
 * 60 s left 6 s before. null when it has already expired by this clock
 * (renewing at once could loop on a clock that is wrong: the server ends the
 * connection instead, and the reconnection asks for a new token).
 */
export function renewDelay(expMs: number, nowMs: number): number | null {
  const left = expMs - nowMs;
  if (!(left > 0)) return null;
  return Math.max(0, Math.round(left - Math.min(RENEW_MAX_MARGIN_MS, left * RENEW_MARGIN_SHARE)));
}
