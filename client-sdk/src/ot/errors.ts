/**
 * Kind of an {@link OTError}, named as in the shared test vectors
 * (testdata/ot-vectors.json):
 * - `invalid`: malformed op, selection or text (zero count, empty insert, wrong
 *   item type, non-integral number, lone surrogate, not an array);
 * - `does_not_fit`: a well-formed op or position that runs past the end of the document.
 */
export type OTErrorKind = 'invalid' | 'does_not_fit';

/**
 * The base of the errors of the document types (`OTError`, `RichError`,
 * `TreeError`): a kind, named as in the type's shared test vectors, and the
 * message `<type>: <kind>: [<item> <n>: ]<detail>`.
 */
export abstract class KindError<K extends string> extends Error {
  /** What kind of problem this is. */
  readonly kind: K;
  /** Index of the offending item (component, range, action), -1 when not about one item. */
  readonly index: number;

  /** `item` names what `index` counts (`component`, `action`). */
  protected constructor(type: string, kind: K, message: string, item: string, index: number) {
    super(index >= 0 ? `${type}: ${kind}: ${item} ${index}: ${message}` : `${type}: ${kind}: ${message}`);
    this.kind = kind;
    this.index = index;
  }
}

/** The only error type thrown by the `ot` module. */
export class OTError extends KindError<OTErrorKind> {
  /** Creates an error of the given kind about component (or range) `index` (-1 for none). */
  constructor(kind: OTErrorKind, message: string, index = -1) {
    super('ot', kind, message, 'component', index);
    this.name = 'OTError';
  }
}
