import { KindError } from '../ot/errors.js';

/**
 * Kind of a {@link RichError}, named as in the shared test vectors
 * (testdata/rich-vectors.json) and as the Go package `rich` names them:
 * - `invalid`: malformed op, attribute, embed, content or selection (including
 *   lone surrogates);
 * - `does_not_fit`: a well-formed op that runs past the end of the document, or
 *   a count over 2^31-1;
 * - `too_large`: over an attribute, value or embed limit;
 * - `final_newline`: an op that would delete the document's final `"\n"` or
 *   insert after it, or content that does not end with `"\n"`.
 */
export type RichErrorKind = 'invalid' | 'does_not_fit' | 'too_large' | 'final_newline';

/** The only error type thrown by the `rich` module. */
export class RichError extends KindError<RichErrorKind> {
  /** Creates an error of the given kind about component (or range) `index` (-1 for none). */
  constructor(kind: RichErrorKind, message: string, index = -1) {
    super('rich', kind, message, 'component', index);
    this.name = 'RichError';
  }
}
