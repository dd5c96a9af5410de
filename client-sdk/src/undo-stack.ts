import type { DocType } from './doctype.js';

/** What made a local edit: the user, an undo, or a redo. */
export type EditKind = 'edit' | 'undo' | 'redo';

/**
 * The undo and redo stacks of one client's own edits: pure, no clock of its
 * own (the caller says when each edit was made). Each entry is the inverse of
 * a local edit, kept in the coordinates of the current content: every remote
 * op is transformed through the stacks, so undoing never reverts someone
 * else's work. Entries are this client's edits-to-be, so ties with a remote
 * op go by sid as any pending op's do.
 */
export class UndoStacks<O> {
  private undoStack: O[] = [];
  private redoStack: O[] = [];
  private lastRecordAt = 0;
  private capturing = false;

  /**
   * `captureMs`: consecutive edits within this many milliseconds form one
   * undo step (0 makes every edit a step of its own).
   */
  constructor(
    private readonly ops: Pick<DocType<unknown, O, unknown>, 'compose' | 'transformPair' | 'isNoop'>,
    private readonly captureMs: number,
  ) {}

  /** True when there is something to undo. */
  get canUndo(): boolean {
    return this.undoStack.length > 0;
  }

  /** True when there is something to redo. */
  get canRedo(): boolean {
    return this.redoStack.length > 0;
  }

  /** Takes the inverse of the last undo step (or redo step) off its stack; undefined when empty. */
  pop(stack: 'undo' | 'redo'): O | undefined {
    this.capturing = false;
    return (stack === 'undo' ? this.undoStack : this.redoStack).pop();
  }

  /** Makes the next edit start a new undo step, even within the capture time. */
  stopCapturing(): void {
    this.capturing = false;
  }

  /** Forgets all undo and redo steps. */
  clear(): void {
    this.undoStack = [];
    this.redoStack = [];
    this.capturing = false;
  }

  /**
   * Records the inverse of a local edit of the given kind, made at time `now`
   * (ms). `join` makes it part of the last step whatever the time (the edits
   * of one transaction are one step).
   */
  record(inverse: O, kind: EditKind, now: number, join = false): void {
    if (kind === 'undo') {
      this.redoStack.push(inverse);
      return;
    }
    if (kind === 'redo') {
      this.undoStack.push(inverse);
      return;
    }
    this.redoStack = [];
    const top = this.undoStack[this.undoStack.length - 1];
    if (top !== undefined && this.capturing && (join || (this.captureMs > 0 && now - this.lastRecordAt < this.captureMs))) {
      // Undo the newest edit first, then the older ones of this step.
      this.undoStack[this.undoStack.length - 1] = this.ops.compose(inverse, top);
    } else {
      this.undoStack.push(inverse);
    }
    this.capturing = true;
    this.lastRecordAt = now;
  }

  /**
   * Transforms both stacks through a remote op by `opSid` (`''` for a
   * resync) applied to the current content; `sid` is this client's.
   */
  transform(op: O, sid: string, opSid: string): void {
    this.undoStack = this.transformStack(this.undoStack, op, sid, opSid);
    this.redoStack = this.transformStack(this.redoStack, op, sid, opSid);
    this.capturing = false;
  }

  /**
   * Moves a stack through `op` (which applies to the current content, where
   * the top entry applies). Walking from the top down, each entry is
   * transformed against `op`, and `op` against the entry, which takes it to
   * the state the next entry applies to. Entries that come to nothing go.
   */
  private transformStack(stack: O[], op: O, sid: string, opSid: string): O[] {
    const out: O[] = [];
    let r = op;
    for (let i = stack.length - 1; i >= 0; i--) {
      const [e2, r2] = this.ops.transformPair(stack[i] as O, sid, r, opSid);
      r = r2;
      if (!this.ops.isNoop(e2)) out.push(e2);
    }
    return out.reverse();
  }
}
