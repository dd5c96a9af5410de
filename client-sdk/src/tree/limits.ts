/**
 * Limits of a tree document (docs/protocol.md, "Tree documents"; the server's
 * are configurable, these are its defaults). The client checks the same ones
 * so that it refuses locally what the server would refuse.
 */
export interface TreeLimits {
  /** Objects in one document. */
  maxObjects: number;
  /** Properties of one object. */
  maxProps: number;
  /** Nesting of objects: a top-level object is at depth 1. */
  maxDepth: number;
  /** One property value, MessagePack-encoded, in bytes. */
  maxValueBytes: number;
  /** Nesting of arrays and maps inside one value (a scalar is 0). */
  maxValueDepth: number;
  /** The whole content, MessagePack-encoded, in bytes. */
  maxBytes: number;
  /** One op, MessagePack-encoded, in bytes. */
  maxOpBytes: number;
  /** Ids in one selection. */
  maxSelection: number;
}

/** The server's default limits. */
export const DEFAULT_LIMITS: Readonly<TreeLimits> = Object.freeze({
  maxObjects: 100_000,
  maxProps: 256,
  maxDepth: 64,
  maxValueBytes: 64 << 10,
  maxValueDepth: 16,
  maxBytes: 64 << 20,
  maxOpBytes: 1 << 20,
  maxSelection: 1024,
});

/** `partial` over the defaults; zero or missing fields take the default. */
export function withDefaults(partial?: Partial<TreeLimits>): TreeLimits {
  const out = { ...DEFAULT_LIMITS };
  if (partial) {
    for (const k of Object.keys(out) as (keyof TreeLimits)[]) {
      const v = partial[k];
      if (typeof v === 'number' && v > 0) out[k] = v;
    }
  }
  return out;
}
