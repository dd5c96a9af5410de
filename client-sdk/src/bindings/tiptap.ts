/**
 * `@tandem/client/tiptap`: the Tiptap extension over the ProseMirror binding
 * (`@tandem/client/prosemirror`). Add it to an editor together with
 * `StarterKit.configure({ undoRedo: false })` (undo goes through the shared
 * document, so it undoes only this client's edits):
 *
 * ```ts
 * new Editor({ extensions: [StarterKit.configure({ undoRedo: false }), TandemCollaboration.configure({ doc })] });
 * ```
 *
 * `@tiptap/core` is an optional peer dependency.
 * @module
 */
import { Extension } from '@tiptap/core';
import type { RichDoc } from '../rich-doc.js';
import { tandemPlugin, type ProseMirrorCollabOptions } from './prosemirror.js';

declare module '@tiptap/core' {
  interface Commands<ReturnType> {
    tandemCollaboration: {
      /** Undoes this client's last edit through the shared document. */
      undo: () => ReturnType;
      /** Redoes the last undone edit through the shared document. */
      redo: () => ReturnType;
    };
  }
}

/** Options of {@link TandemCollaboration}. */
export interface TandemCollaborationOptions extends ProseMirrorCollabOptions {
  /** The shared document (from `conn.openRich(id)`). */
  doc: RichDoc | null;
}

/**
 * Binds a Tiptap editor to a {@link RichDoc}: edits in both directions,
 * named carets of the other people, own-edit undo (Mod-z, Mod-y,
 * Mod-Shift-z) and the `undo`/`redo` commands through the document.
 */
export const TandemCollaboration = Extension.create<TandemCollaborationOptions>({
  name: 'tandemCollaboration',
  // Before the keymaps of other extensions, so that Mod-z reaches the document.
  priority: 1000,
  addOptions() {
    return { doc: null };
  },
  addProseMirrorPlugins() {
    const { doc, ...options } = this.options;
    if (doc === null) throw new Error('TandemCollaboration needs a document: TandemCollaboration.configure({ doc: conn.openRich(id) })');
    return [tandemPlugin(doc, options)];
  },
  addCommands() {
    // The document dispatches its own transaction: the command's stays unsent.
    const through =
      (step: 'undo' | 'redo') =>
      () =>
      ({ tr, dispatch }: { tr: { setMeta(key: string, value: unknown): unknown }; dispatch?: unknown }): boolean => {
        const doc = this.options.doc;
        if (doc === null) return false;
        if (!dispatch) return step === 'undo' ? doc.undoManager.canUndo : doc.undoManager.canRedo;
        tr.setMeta('preventDispatch', true);
        return step === 'undo' ? doc.undo() : doc.redo();
      };
    return { undo: through('undo'), redo: through('redo') };
  },
});

export { tandemPlugin, tandemKey, remoteCarets, type ProseMirrorCollabOptions, type RemoteCaret } from './prosemirror.js';
