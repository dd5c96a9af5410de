import type { Action } from './op.js';

/**
 * Actions that transform returned past a non-empty committed op. apply drops
 * such an action, instead of failing its op, when the concurrent changes make
 * it break a limit that depends on the document (as the Go server does). A
 * WeakSet keeps the mark off the wire form.
 */
export const rebasedActions = new WeakSet<Action>();
