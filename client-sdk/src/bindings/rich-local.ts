/**
 * TEMPORARY local declaration of the `rich` document shapes (docs/protocol.md,
 * "Rich-text documents"), used by the editor mappings until the SDK's own rich
 * OT module (`src/rich/`) lands on main. When it does, delete this file and
 * import these types from `../rich/` instead; the shapes here are the wire
 * shapes, so only the import lines change.
 *
 * Every position and length is in Unicode code points.
 * @module
 */

/** An attribute or embed value: a JSON scalar. In a retain's attributes `null` removes the attribute. */
export type AttrValue = string | number | boolean | null;

/** Attributes of a character, an embed or (on a paragraph's closing "\n") a paragraph. */
export type Attributes = { [key: string]: AttrValue };

/** An embed: exactly one key, its type, with a scalar value, such as `{image: "https://..."}`. Length 1. */
export type Embed = { [type: string]: AttrValue };

/** Insert text carrying attributes. */
export interface TextInsert {
  i: string;
  a?: Attributes | null;
}

/** Insert one embed (length 1) carrying attributes. */
export interface EmbedInsert {
  e: Embed;
  a?: Attributes | null;
}

/** Retain `r` code points, setting attributes on them (`null` removes one). */
export interface FormatRetain {
  r: number;
  a?: Attributes | null;
}

/**
 * One component of a rich op: a positive integer retains, a negative integer
 * deletes, a string inserts plain text, and the three maps above.
 */
export type RichComponent = number | string | TextInsert | EmbedInsert | FormatRetain;

/** A rich op: components walked left to right over the document. A trailing plain retain may be omitted. */
export type RichOp = RichComponent[];

/** One insert of a document's content (plain text, attributed text or an embed). */
export type DeltaInsert = string | TextInsert | EmbedInsert;

/** A whole rich document as a Delta of inserts (canonically: text without attributes as a plain string). It always ends with "\n". */
export type Delta = DeltaInsert[];
