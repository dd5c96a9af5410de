'use strict';
// ot-text-unicode with presence support. The type itself has no
// transformPresence, which ShareDB's doc presence requires, so we add the
// obvious one: a presence value {t, c} (t: the stamp of the move, c: a caret as
// a code point offset) keeps t and moves c with the type's own
// transformPosition. Tandem's caret rules (section 1 of the contract) are the
// same for carets of other users. Both the server and the driver register this.
const ShareDB = require('sharedb');
const textUnicode = require('ot-text-unicode').type;

const type = Object.assign({}, textUnicode, {
  transformPresence(value, op /* , isOwnOp */) {
    if (!value || typeof value.c !== 'number') return value;
    return { t: value.t, c: textUnicode.transformPosition(value.c, op) };
  },
});

ShareDB.types.register(type);
module.exports = { type, ShareDB };
