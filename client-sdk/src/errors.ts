/**
 * Raised by local edits that cannot be made (closed or read-only document,
 * invalid op), and the error `ready` and `whenSynced` reject with.
 */
export class TandemError extends Error {
  /**
   * Machine-readable code: `closed`, `read_only`, `unreachable` (the
   * connection gave up), `wrong_type` (the document is of another type than
   * the method that opened it), or a server error code (docs/protocol.md,
   * "Error codes").
   */
  readonly code: string;
  /** Creates an error with a code. */
  constructor(code: string, message: string) {
    super(message);
    this.name = 'TandemError';
    this.code = code;
  }
}
