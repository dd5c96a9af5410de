import { Emitter } from './emitter.js';
import type { Range, Selection } from './ot/op.js';
import { cpLength, OffsetMap } from './ot/unicode.js';
import type { PresenceData } from './protocol.js';
import type { DocSession } from './session.js';
import type { Peer } from './types.js';

/** Events of {@link Presence}. */
export interface PresenceEvents<S = Range[]> {
  /** Peers joined, moved their selection or changed their data (`peers` lists the changed ones). */
  change: { peers: Peer<S>[] };
  /** A peer left. */
  leave: { peer: Peer<S> };
}

/**
 * Presence of a document: this client's selection and data, and the peers'.
 * Local updates are throttled and sent only when no own op is in flight (the
 * selection otherwise rides on the next op, and `data` waits for the ack),
 * per docs/protocol.md ("Presence"). Remote selections are kept in local
 * coordinates: moved through pending local ops and every later edit, with
 * the caret rule (an insert exactly at a caret leaves it before the inserted
 * text, except the author's own caret after its own insert). `S` is the
 * document type's selection: for text, `[anchor, head]` ranges in code points.
 */
export class Presence<S = Range[]> extends Emitter<PresenceEvents<S>> {
  /** @internal Created by a document class. */
  constructor(protected readonly session: DocSession<unknown, unknown, S>) {
    super();
    session.on('peers', (e) => this.emit('change', e));
    session.on('leave', (e) => this.emit('leave', e));
  }

  /** This client's selection (null when hidden). */
  get localSelection(): S | null {
    return this.session.state.localSelection;
  }

  /** This client's presence data (undefined until {@link setData}). */
  get localData(): PresenceData | undefined {
    return this.session.state.localData;
  }

  /** Sets this client's selection (`null` hides it). Throttled. */
  setSelection(sel: S | null): void {
    this.session.setSelection(sel);
  }

  /** Sets this client's free presence data (at most 1 KiB encoded), e.g. `{cursor: {x, y}}`. Throttled. */
  setData(data: PresenceData): void {
    this.session.setData(data);
  }

  /** The other people in the document (this client excluded). */
  getPeers(): Peer<S>[] {
    return this.session.state.peers;
  }

  /** One peer by session id. */
  getPeer(sid: string): Peer<S> | undefined {
    return this.session.state.peer(sid);
  }
}

/**
 * Presence of a text-like document (`text`, `rich`): selections are ranges of
 * code points, and editors' UTF-16 offsets convert at the edge.
 */
export class TextPresence extends Presence<Range[]> {
  /** @internal `text` gives the document's plain text. */
  constructor(
    session: DocSession<unknown, unknown, Range[]>,
    private readonly text: () => string,
  ) {
    super(session);
  }

  /** Sets this client's selection in **UTF-16** offsets of the current text (`null` hides the caret). */
  setSelectionUtf16(sel: Selection): void {
    if (sel === null) {
      this.setSelection(null);
      return;
    }
    const map = new OffsetMap(this.text());
    this.setSelection(sel.map(([a, h]) => [map.toCodePoint(a), map.toCodePoint(h)] as Range));
  }

  /** Converts a code point selection of the current text to **UTF-16** offsets (for editors). */
  toUtf16(sel: Selection): Selection {
    if (sel === null) return null;
    const text = this.text();
    const map = new OffsetMap(text);
    const max = text.length;
    const len = cpLength(text);
    return sel.map(([a, h]) => [Math.min(max, map.toUtf16(Math.min(a, len))), Math.min(max, map.toUtf16(Math.min(h, len)))] as Range);
  }
}
