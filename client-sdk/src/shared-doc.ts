import { Emitter } from './emitter.js';
import { TandemError } from './errors.js';
import { Presence } from './presence.js';
import type { ServerUser } from './protocol.js';
import type { DocEvents, DocSession } from './session.js';
import type { DocMode, DocStatus } from './types.js';
import { UndoManager } from './undo.js';

const EVENTS = ['change', 'status', 'synced', 'ack', 'error', 'invalid_op', 'deleted', 'unsynced', 'storage_error'] as const;

/**
 * What every shared document offers, whatever its type: local edits that
 * apply at once and sync in the background, status, `ready` and
 * `whenSynced`, presence, own-edit undo, `close`. `C` is the type's content,
 * `O` its op, `S` its selection. The document classes (TextDoc) extend it
 * with their type's own API; they are opened with a {@link Connection}
 * method (`openDoc`), never constructed directly.
 */
export class SharedDoc<C, O, S, E extends DocEvents<O, C> = DocEvents<O, C>> extends Emitter<E> {
  /** Document id. */
  readonly id: string;
  /** Live carets and selections of the people in this document. */
  readonly presence: Presence<S>;
  /** Undo/redo of this client's own edits. */
  readonly undoManager: UndoManager;
  /** Resolves when the document first synchronised with the server; rejects if it could not be joined. */
  readonly ready: Promise<void>;
  /**
   * Resolves once what offline storage kept of this document (the text last
   * synced, and this tab's unsynced edits) is in place: at once without
   * storage. Offline, the document shows the stored content from then on.
   */
  readonly loaded: Promise<void>;

  /** @internal Created by a document class, over the session a connection opened. */
  constructor(
    protected readonly session: DocSession<C, O, S>,
    presence?: Presence<S>,
  ) {
    super();
    this.id = session.id;
    this.presence = presence ?? new Presence(session as DocSession<unknown, unknown, S>);
    this.undoManager = new UndoManager(session as DocSession<unknown, unknown, unknown>);
    this.ready = session.ready;
    this.loaded = session.loaded;
    for (const name of EVENTS) {
      session.on(name, (payload) => this.relay(name, payload));
    }
  }

  /** Re-emits one of the session's events; a document class may enrich the payload (TreeDoc's `change`). */
  protected relay<K extends (typeof EVENTS)[number]>(name: K, payload: DocEvents<O, C>[K]): void {
    this.emit(name, payload as never);
  }

  /** The local content (includes local edits not yet acknowledged). Treat it as read-only. */
  get content(): C {
    return this.session.state.content;
  }

  /** The server version the local state is based on (-1 before the first sync). */
  get version(): number {
    return this.session.state.version;
  }

  /** `rw`, or `r` when the token only allows reading. */
  get mode(): DocMode {
    return this.session.state.mode;
  }

  /** Current synchronisation status. */
  get status(): DocStatus {
    return this.session.state.status;
  }

  /** True while local edits are unacknowledged (in flight or buffered). */
  get hasPendingOps(): boolean {
    return this.session.state.hasPendingOps;
  }

  /**
   * True while local edits are not yet acknowledged by the server (durably
   * stored there); see the `unsynced` event. With offline storage they
   * survive a reload; without it, warn before the page is closed.
   */
  get hasUnsyncedChanges(): boolean {
    return this.session.state.unsynced > 0;
  }

  /** How many local edits are not yet acknowledged by the server. */
  get unsyncedCount(): number {
    return this.session.state.unsynced;
  }

  /** True when this document is kept in offline storage (IndexedDB in browsers). */
  get offlineStorage(): boolean {
    return this.session.stored;
  }

  /** Resolves when every change so far is written to offline storage (at once without it). */
  flushStorage(): Promise<void> {
    return this.session.flushed();
  }

  /** The connection's session id. */
  get sid(): string {
    return this.session.state.sid;
  }

  /** The local user as the server knows it, once online. */
  get user(): ServerUser | null {
    return this.session.user;
  }

  /**
   * Applies a local edit at once and queues it for the server. `origin` is
   * passed back in the `change` event, so a binding can ignore its own
   * edits. Throws the type's error (`OTError` for text) when the op is
   * malformed or does not fit, and {@link TandemError} when the document is
   * closed or read-only.
   */
  submitOp(op: O, origin?: unknown): void {
    this.session.submit(op, origin);
  }

  /** Undoes this client's last edit (transformed through everyone else's); false if there is none. */
  undo(): boolean {
    return this.session.undo();
  }

  /** Redoes the last undone edit; false if there is none. */
  redo(): boolean {
    return this.session.redo();
  }

  /**
   * Resolves when nothing of this client's is pending: every local edit made
   * so far is acknowledged, i.e. durably stored by the server, and the
   * document is synced (at once when that is already so). While offline it
   * waits for the reconnect. Rejects with a {@link TandemError} when a pending
   * edit is refused by the server (`invalid_op`, `too_large`, `forbidden`),
   * when the document is closed or deleted first, and with the `ready` error
   * when the first sync fails. For a script: edit, `await doc.whenSynced()`, exit.
   */
  whenSynced(): Promise<void> {
    if (this.status === 'synced') return Promise.resolve();
    const events = this as unknown as Emitter<DocEvents<O, C>>;
    if (this.status === 'closed') return Promise.reject(new TandemError('closed', `document ${this.id} is closed`));
    return new Promise<void>((resolve, reject) => {
      const offs: (() => void)[] = [];
      const settle = (err?: Error): void => {
        for (const off of offs.splice(0)) off();
        if (err === undefined) resolve();
        else reject(err);
      };
      offs.push(events.on('invalid_op', (e) => settle(new TandemError(e.code, `an edit to ${this.id} was refused: ${e.msg}`))));
      offs.push(events.on('deleted', ({ msg }) => settle(new TandemError('deleted', msg))));
      offs.push(
        events.on('status', ({ status }) => {
          if (status === 'synced') settle();
          else if (status === 'closed') settle(new TandemError('closed', `document ${this.id} was closed before its edits were stored`));
        }),
      );
      this.ready.catch((e: unknown) => settle(e instanceof Error ? e : new TandemError('internal', String(e))));
    });
  }

  /** Leaves the document: peers see this client gone; the object is closed. */
  close(): void {
    this.session.close();
  }
}
