/** A random id of 22 URL-safe characters (132 bits). */
export function randomId(): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  const bytes = new Uint8Array(22);
  globalThis.crypto.getRandomValues(bytes);
  let s = '';
  for (const b of bytes) s += alphabet[b & 63];
  return s;
}
