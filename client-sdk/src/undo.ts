import { compose, isNoop, transformPair, type Op } from './ot/op.js';
import type { TextDoc } from './doc.js';

/**
 * Undo and redo of this client's own edits only. Each stack entry is the
 * inverse of a local edit, kept in the coordinates of the current text: every
 * remote op is transformed through the stacks, so undoing never reverts
 * someone else's work. Undo and redo are submitted as ordinary local ops.
 */
export class UndoManager {
  private undoStack: Op[] = [];
  private redoStack: Op[] = [];
  private lastRecordAt = 0;
  private capturing = false;

  /** @internal Created by {@link TextDoc}. */
  constructor(
    private readonly doc: TextDoc,
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

  /** Undoes the last own edit; returns false when there is nothing to undo. */
  undo(): boolean {
    const inv = this.undoStack.pop();
    if (inv === undefined) return false;
    this.capturing = false;
    this.doc._applyLocal(inv, 'undo', 'undo');
    return true;
  }

  /** Redoes the last undone edit; returns false when there is nothing to redo. */
  redo(): boolean {
    const inv = this.redoStack.pop();
    if (inv === undefined) return false;
    this.capturing = false;
    this.doc._applyLocal(inv, 'redo', 'redo');
    return true;
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

  /** @internal Records the inverse of a local op. */
  _recordLocal(inverse: Op, kind: 'edit' | 'undo' | 'redo'): void {
    if (kind === 'undo') {
      this.redoStack.push(inverse);
      return;
    }
    if (kind === 'redo') {
      this.undoStack.push(inverse);
      return;
    }
    this.redoStack = [];
    const now = Date.now();
    const top = this.undoStack[this.undoStack.length - 1];
    if (this.captureMs > 0 && this.capturing && top !== undefined && now - this.lastRecordAt < this.captureMs) {
      // Undo the newest edit first, then the older ones of this step.
      this.undoStack[this.undoStack.length - 1] = compose(inverse, top);
    } else {
      this.undoStack.push(inverse);
    }
    this.capturing = true;
    this.lastRecordAt = now;
  }

  /**
   * @internal Transforms both stacks through a remote op by `sid` (absent for
   * a resync) applied to the current text. The entries are this client's
   * edits-to-be, so ties with the remote op go by sid as any pending op's do.
   */
  _transformRemote(op: Op, sid: string | undefined): void {
    this.undoStack = transformStack(this.undoStack, op, this.doc.sid, sid ?? '');
    this.redoStack = transformStack(this.redoStack, op, this.doc.sid, sid ?? '');
    this.capturing = false;
  }
}

/**
 * Moves a stack of inverse ops through `op` (which applies to the current
 * text, where the top entry applies). Walking from the top down, each entry is
 * transformed against `op`, and `op` against the entry, which takes it to the
 * state the next entry applies to.
 */
function transformStack(stack: Op[], op: Op, sid: string, opSid: string): Op[] {
  const out: Op[] = [];
  let r = op;
  for (let i = stack.length - 1; i >= 0; i--) {
    const [e2, r2] = transformPair(stack[i] as Op, sid, r, opSid);
    r = r2;
    if (!isNoop(e2)) out.push(e2);
  }
  return out.reverse();
}
