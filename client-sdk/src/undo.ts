import type { DocSession } from './session.js';

/**
 * Undo and redo of this client's own edits only. Each step is kept in the
 * coordinates of the current content, transformed through everyone else's
 * edits, so undoing never reverts someone else's work. Undo and redo are
 * submitted as ordinary local edits (with origin `'undo'` / `'redo'`).
 */
export class UndoManager {
  /** @internal Created by a document class. */
  constructor(private readonly session: DocSession<unknown, unknown, unknown>) {}

  /** True when there is something to undo. */
  get canUndo(): boolean {
    return this.session.state.canUndo;
  }

  /** True when there is something to redo. */
  get canRedo(): boolean {
    return this.session.state.canRedo;
  }

  /** Undoes the last own edit; returns false when there is nothing to undo. */
  undo(): boolean {
    return this.session.undo();
  }

  /** Redoes the last undone edit; returns false when there is nothing to redo. */
  redo(): boolean {
    return this.session.redo();
  }

  /** Makes the next edit start a new undo step, even within the capture time. */
  stopCapturing(): void {
    this.session.state.stopCapturing();
  }

  /** Forgets all undo and redo steps. */
  clear(): void {
    this.session.state.clearUndo();
  }
}
