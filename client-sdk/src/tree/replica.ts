import { TreeError } from './errors.js';
import { TreeContent } from './content.js';
import { opSize, validateOp, type Action, type TreeOp } from './op.js';
import { transformKept } from './transform.js';

/**
 * One client's copy of a tree document, with no connection: the server's
 * content at version {@link v} plus the local actions not yet acknowledged
 * (first the op in flight, then the ones made since), shown in {@link view}.
 * Feed it local ops, the server's ops and acks; send what {@link flush}
 * returns. One op is in flight at a time. The same state machine as the Go
 * client's `tree.Replica`, kept with inverses instead of persistent copies: a
 * remote op undoes the pending actions, applies, and re-applies them rebased
 * (so while our own set of a property is pending, a remote value of it does
 * not show).
 */
export class TreeReplica {
  /** The content as the user sees it: the server's plus our pending actions. Do not apply to it directly. */
  readonly view: TreeContent;
  private version: number;
  private pending: Action[] = [];
  private undo: (TreeOp | null)[] = []; // per pending action, its inverse in the view (null: not applied)
  private ends: number[] = [];
  private inflight = 0;
  private sent = false;

  /** A replica of `content` (owned from now on) at version `v`, for the client `sid`. */
  constructor(
    readonly sid: string,
    content: TreeContent,
    v: number,
  ) {
    this.view = content;
    this.version = v;
  }

  /** The last server version the replica has. */
  get v(): number {
    return this.version;
  }

  /** True while local actions await acknowledgement or sending. */
  get hasPending(): boolean {
    return this.sent || this.pending.length > 0;
  }

  /**
   * Applies a local op to the view and queues it. Returns the op as applied
   * (what the server would drop is dropped). Throws {@link TreeError} for an
   * op the server would refuse; nothing changes then.
   */
  local(op: unknown): TreeOp {
    const valid = validateOp(op, this.view.limits);
    const { applied, inverses } = this.view.apply(valid);
    this.pending.push(...applied);
    this.undo.push(...inverses);
    this.ends.push(this.pending.length);
    return applied;
  }

  /**
   * The op to send and the version it is made against, when nothing is in
   * flight and local actions wait; null otherwise. It joins as many whole
   * local ops as fit the op size limit (at least one).
   */
  flush(): { op: TreeOp; v: number } | null {
    if (this.sent || this.ends.length === 0) return null;
    const limit = this.view.limits.maxOpBytes;
    let n = this.ends[0] as number;
    let size = 0;
    for (let k = 0; k < this.ends.length; k++) {
      const start = k > 0 ? (this.ends[k - 1] as number) : 0;
      size += opSize(this.pending.slice(start, this.ends[k]));
      if (k > 0 && size > limit) break;
      n = this.ends[k] as number;
    }
    this.sent = true;
    this.inflight = n;
    return { op: this.pending.slice(0, n), v: this.version };
  }

  /** The op in flight was committed as version `v`; returns what the server kept of it. */
  ack(v: number): TreeOp {
    if (!this.sent) throw new Error('tree: ack with nothing in flight');
    if (v !== this.version) throw new Error(`tree: ack for ${v} at ${this.version}: re-join`);
    const kept = this.pending.slice(0, this.inflight).filter((_, i) => this.undo[i] !== null);
    this.pending = this.pending.slice(this.inflight);
    this.undo = this.undo.slice(this.inflight);
    this.ends = this.ends.filter((e) => e > this.inflight).map((e) => e - this.inflight);
    this.inflight = 0;
    this.sent = false;
    this.version++;
    return kept;
  }

  /**
   * Someone else's op, committed as version `v` by `sid`: applies it under
   * the pending actions and rebases them over it. Throws when the replica can
   * no longer follow the server (a version gap, an op that does not apply):
   * re-join then.
   */
  remote(op: TreeOp, sid: string, v: number): void {
    if (v !== this.version) throw new Error(`tree: op for ${v} at ${this.version}: re-join`);
    // Back to the server's content.
    for (let i = this.undo.length - 1; i >= 0; i--) {
      const inv = this.undo[i];
      if (inv) for (const a of inv) this.view.applyEach([a]);
    }
    try {
      this.view.apply(op);
    } catch (e) {
      throw e instanceof TreeError ? new Error(`tree: remote op ${v} does not apply: ${e.message}`) : e;
    }
    this.version++;
    const { op: rebased, kept } = transformKept(this.pending, op, this.sid, sid);
    let [ends, inflight] = regroup(this.ends, this.inflight, kept);
    // Re-apply on top, as the server will: the op in flight stays as it is
    // (the server judges it when it commits it); unsent actions that no
    // longer apply are forgotten.
    const undo = this.view.applyEach(rebased);
    const keep = undo.map((u, i) => i < inflight || u !== null);
    [ends, inflight] = regroup(ends, inflight, keep);
    this.pending = rebased.filter((_, i) => keep[i]);
    this.undo = undo.filter((_, i) => keep[i]);
    this.ends = ends;
    this.inflight = inflight;
  }
}

function regroup(ends: number[], inflight: number, keep: boolean[]): [number[], number] {
  const out: number[] = [];
  let done = 0;
  let start = 0;
  let newInflight = 0;
  for (const end of ends) {
    for (let i = start; i < end; i++) if (keep[i]) done++;
    if (end <= inflight) newInflight = done;
    if (done > 0 && (out.length === 0 || out[out.length - 1] !== done)) out.push(done);
    start = end;
  }
  return [out, newInflight];
}
