/**
 * Kind of an {@link OTError}, named as in the shared test vectors
 * (testdata/ot-vectors.json):
 * - `invalid`: malformed op, selection or text (zero count, empty insert, wrong
 *   item type, non-integral number, lone surrogate, not an array);
 * - `does_not_fit`: a well-formed op or position that runs past the end of the document.
 */
export type OTErrorKind = 'invalid' | 'does_not_fit';

/** The only error type thrown by the `ot` module. */
export class OTError extends Error {
  /** What kind of problem this is. */
  readonly kind: OTErrorKind;
  /** Index of the offending component (or range), -1 when not about one item. */
  readonly index: number;

  /** Creates an error of the given kind about item `index` (-1 for none). */
  constructor(kind: OTErrorKind, message: string, index = -1) {
    super(index >= 0 ? `ot: ${kind}: component ${index}: ${message}` : `ot: ${kind}: ${message}`);
    this.name = 'OTError';
    this.kind = kind;
    this.index = index;
  }
}
