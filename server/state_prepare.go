package server

import (
	"errors"
	"fmt"
	"time"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/tandem-collab/tandem/doctype"
	"github.com/tandem-collab/tandem/store"
	"github.com/tandem-collab/tandem/wire"
)

// The rules of a batch of submitted ops, as the pure state decides them:
// which are resubmissions of committed ops (by their (sid, seq)), which are
// refused, and how the others move past everything committed since their
// version and each other. The state reads no store: what it does not hold
// (ops older than its window, a (sid, seq) older than its marks) it asks for
// in planPrepare, the actor reads it, and prepare decides with it.

// prepLimits are the limits prepare enforces (Config.MaxBatch, MaxOpBytes,
// MaxDocBytes).
type prepLimits struct {
	maxBatch, maxOpBytes, maxDocBytes int
}

// seqCheck is what is known of one submitted op's (sid, seq) before its
// batch: new, committed at v, or (seqAsk) a question for the store. The
// actor answers a question by setting res to seqNew or seqCommitted (and v),
// or err: errSeqNotIncreasing when the store does not have it but the sid
// has a mark (known), anything else when the store failed. A question left
// unanswered refuses the op.
type seqCheck struct {
	res   seqLookup
	v     int64
	known bool
	err   error
}

// prepReads is what prepare needs beyond the state: planPrepare fills in
// what the state knows, the actor (actor.readForPrepare) the rest.
type prepReads struct {
	// checks[i] is the (sid, seq) of the batch's op i; the ones whose res
	// is seqAsk are for the actor to answer.
	checks []seqCheck
	// hist is the ops [histFrom, v), which every op of the batch made at
	// histFrom or later moves past. It is set when the window holds them;
	// otherwise histOK is false and the actor reads them (or as many as the
	// store still has, setting histFrom to where they start, and histErr to
	// why the ones before are missing).
	hist     []store.OpRecord
	histFrom int64
	histOK   bool
	histErr  error
}

// answer is prepare's reply to an op it settled without a commit: an ack at
// v when err is nil, else the error (Code, Msg and the cause in Err; the
// actor adds the document and the seq).
type answer struct {
	m   *opMsg
	v   int64
	err *wire.Error
}

// pending is an op of the batch being committed.
type pending struct {
	m    *opMsg
	rec  store.OpRecord
	sel  doctype.Selection
	dups []*opMsg // resubmissions of the same (sid, seq) within the batch
	// adopt: the author's selection becomes its presence once committed
	// (the author is connected to this node; the actor decides, applyBatch
	// does it).
	adopt bool
	ev    *Event // apply's broadcast of it, whose frame publishOps sends along
}

type sidSeq struct {
	sid string
	seq int64
}

// planPrepare returns what prepare needs to decide msgs: the (sid, seq)
// checks the state could make and the batch's history when the window holds
// it. The result is the state's buffer, valid until the next call.
func (s *docState) planPrepare(msgs []*opMsg) *prepReads {
	r := &s.prep.reads
	r.checks = r.checks[:0]
	r.hist, r.histErr = nil, nil
	for _, m := range msgs {
		c := seqCheck{res: seqNew}
		if m.seq > 0 { // seq 0: a REST op without a client (sid, seq): never a duplicate
			c.v, c.res, c.known = s.lookupSeq(m.sid, m.seq)
		}
		r.checks = append(r.checks, c)
	}
	// The history of the whole batch, read once: every op moves past the
	// ops committed since its version, then past the batch before it, and
	// all of those are one suffix of hist and the ops prepared so far.
	// Under pipelined load the ops of a batch lag the head by hundreds of
	// versions; reading each op's history on its own made every op past
	// the window a store read of as many ops, so the actor fell further
	// behind the more it was behind.
	r.histFrom = s.v
	for _, m := range msgs {
		if m.v >= 0 && m.v < r.histFrom {
			r.histFrom = m.v
		}
	}
	r.hist, r.histOK = s.windowSince(r.histFrom)
	return r
}

// prepare deduplicates, transforms and validates msgs against the document,
// with what planPrepare asked for in r. It returns the ops to append, in
// version order from s.v; the messages left for the next round (past
// MaxBatch); and the answers to the ops settled without a commit
// (resubmissions, refusals), in message order (the state's buffer, valid
// until the next call). now is the commit time the records carry.
//
// The content after the batch is kept (s.prep.next), so that applyBatch,
// once the append is stored, does not apply every op a second time.
func (s *docState) prepare(msgs []*opMsg, r *prepReads, now time.Time) (batch []*pending, rest []*opMsg, answers []answer) {
	p := &s.prep
	clear(p.answers) // no references kept to the last batch's messages
	clear(p.ops)
	p.answers, p.ops, p.sids = p.answers[:0], p.ops[:0], p.sids[:0]
	working := s.doc.Clone()
	next := s.v
	if p.inBatchOn {
		clear(p.inBatch)
		p.inBatchOn = false
	}
	// The batch's records in one allocation: never more than this many, so
	// the pointers into it stay put.
	n := min(len(msgs), s.limits.maxBatch)
	slab := make([]pending, 0, n)
	batch = make([]*pending, 0, n)
	for _, h := range r.hist {
		p.ops, p.sids = append(p.ops, h.Op), append(p.sids, h.SID)
	}
	refuse := func(m *opMsg, code, msg string, cause error) {
		p.answers = append(p.answers, answer{m: m, err: &wire.Error{Code: code, Msg: msg, Err: cause}})
	}
	if r.histFrom+int64(len(r.hist)) != s.v {
		// Not the history up to now: no op may use it.
		r.hist, r.histFrom = nil, s.v+1
	}
	for i, m := range msgs {
		if len(batch) >= s.limits.maxBatch {
			rest = msgs[i:]
			break
		}
		if err := s.decodeRaw(m); err != nil {
			p.answers = append(p.answers, answer{m: m, err: err})
			continue
		}
		key := sidSeq{m.sid, m.seq}
		if d := p.inBatchOf(batch, key); d != nil {
			d.dups = append(d.dups, m)
			continue
		}
		if c := r.checks[i]; m.seq > 0 {
			switch {
			case errors.Is(c.err, errSeqNotIncreasing):
				refuse(m, wire.CodeBadRequest, fmt.Sprintf("seq %d is below the latest committed seq of this sid", m.seq), c.err)
				continue
			case c.err != nil || c.res == seqAsk:
				refuse(m, wire.CodeInternal, "could not check for a duplicate op", c.err)
				continue
			case c.res == seqCommitted:
				p.answers = append(p.answers, answer{m: m, v: c.v})
				continue
			}
		}
		if m.v > s.v {
			refuse(m, wire.CodeInvalidOp, fmt.Sprintf("op version %d is ahead of the document (%d)", m.v, s.v), errVersionAhead)
			continue
		}
		if m.v < r.histFrom {
			ce := (*store.CompactedError)(nil)
			switch err := r.histErr; {
			case errors.As(err, &ce):
				refuse(m, wire.CodeInvalidOp, compactedOpMsg(m.v, ce), err)
			default:
				if err == nil {
					err = fmt.Errorf("no history from version %d (read from %d)", m.v, r.histFrom)
				}
				refuse(m, wire.CodeInternal, "could not read the document history", err)
			}
			continue
		}
		off := m.v - r.histFrom
		cs, sids := p.ops[off:], p.sids[off:]
		nHistory := int(s.v - m.v)
		// The op must fit the document it was made against, as sent (text:
		// a trailing retain past the end is invalid too, and neither the
		// canonical form nor the transformed op can tell any more): s.doc
		// is that document after its history.
		if err := m.op.CheckBase(s.doc, cs[:nHistory]); err != nil {
			refuse(m, codeForOpErr(err), fmt.Sprintf("op does not fit the document at version %d: %v", m.v, err), err)
			continue
		}
		// Move the op past everything committed since its version (the
		// history, then this batch): concurrent inserts at one spot are
		// ordered by the authors' sids. The author's selection is after its
		// own op: it moves by each committed op as that looks past the
		// author's op.
		op, sel, err := doctype.TransformAll(m.op, m.sid, cs, sids, m.sel)
		if err != nil {
			refuse(m, codeForOpErr(err), "op does not fit the document: "+err.Error(), err)
			continue
		}
		if n := op.Size(); n > s.limits.maxOpBytes {
			err := fmt.Errorf("op of %d bytes is over the limit of %d: %w", n, s.limits.maxOpBytes, doctype.ErrTooLarge)
			refuse(m, wire.CodeTooLarge, err.Error(), err)
			continue
		}
		applied, err := working.Apply(op) // on error, working is unchanged
		if err != nil {
			refuse(m, codeForOpErr(err), "op does not fit the document: "+err.Error(), err)
			continue
		}
		if working.Size() > s.limits.maxDocBytes {
			// Rare: build the content before this op again rather than
			// clone it before every op.
			working = s.replay(batch)
			refuse(m, wire.CodeTooLarge, fmt.Sprintf("the document would exceed %d bytes", s.limits.maxDocBytes), nil)
			continue
		}
		if sel != nil {
			if sel, err = working.FitSelection(sel); err != nil {
				// A caret that does not fit is the client's bug; the edit
				// itself is fine, so keep the edit and drop the caret.
				sel = nil
			}
		}
		slab = append(slab, pending{m: m, sel: sel, rec: store.OpRecord{
			Version: next, Op: applied, SID: m.sid, Seq: m.seq, UserID: m.userID, CreatedAt: now,
		}})
		pe := &slab[len(slab)-1]
		next++
		batch = append(batch, pe)
		p.ops, p.sids = append(p.ops, applied), append(p.sids, m.sid)
		if m.seq > 0 && p.inBatchOn {
			p.inBatch[key] = pe
		}
	}
	p.next, p.first = nil, nil
	if len(batch) > 0 {
		p.next, p.first = working, batch[0]
	}
	return batch, rest, p.answers
}

// shortBatch is the longest batch whose resubmissions prepare finds by
// looking through it rather than by a map: under a hot document's load a
// batch is one or two ops, and a map cost a clear per batch (of its slots
// holding pointers: write barriers while the collector runs, which it
// mostly is) for a lookup that the batch itself answers in a few
// comparisons.
const shortBatch = 16

// inBatchOf returns the op of batch that has key's (sid, seq), nil when
// none (or key's seq is 0: a REST op without one, never a resubmission).
// Past shortBatch it keeps the batch in inBatch.
func (p *prepState) inBatchOf(batch []*pending, key sidSeq) *pending {
	if key.seq <= 0 {
		return nil
	}
	if !p.inBatchOn && len(batch) > shortBatch {
		if p.inBatch == nil {
			p.inBatch = make(map[sidSeq]*pending)
		}
		for _, pe := range batch {
			if pe.m.seq > 0 {
				p.inBatch[sidSeq{pe.m.sid, pe.m.seq}] = pe
			}
		}
		p.inBatchOn = true
	}
	if p.inBatchOn {
		return p.inBatch[key]
	}
	for _, pe := range batch {
		if pe.m.seq == key.seq && pe.m.sid == key.sid {
			return pe
		}
	}
	return nil
}

// replay returns the content with the prepared ops of batch applied.
func (s *docState) replay(batch []*pending) doctype.Content {
	c := s.doc.Clone()
	for _, p := range batch {
		if _, err := c.Apply(p.rec.Op); err != nil {
			// They applied in this order a moment ago.
			panic(fmt.Sprintf("a prepared op no longer applies: %v", err))
		}
	}
	return c
}

// errSeqNotIncreasing marks an op whose seq is below its sid's latest
// committed seq without having been committed itself.
var errSeqNotIncreasing = errors.New("seq is not increasing")

func codeForOpErr(err error) string {
	if errors.Is(err, doctype.ErrTooLarge) {
		return wire.CodeTooLarge
	}
	return wire.CodeInvalidOp
}

// codeForSelErr is the code of a selection the document's type refused.
func codeForSelErr(err error) string {
	if errors.Is(err, doctype.ErrTooLarge) {
		return wire.CodeTooLarge
	}
	return wire.CodeBadRequest
}

// decodeRaw decodes an op (and selection) that its connection kept raw
// because it did not know the document's type yet; an error is the answer
// the connection would have given.
func (s *docState) decodeRaw(m *opMsg) *wire.Error {
	if m.rawOp != nil {
		op, err := s.typ.DecodeOp(m.rawOp)
		if err != nil {
			return &wire.Error{Code: codeForOpErr(err), Msg: "op: " + err.Error(), Err: err}
		}
		m.op, m.rawOp = op, nil
	}
	sel, err := s.decodeSel(&m.rawSel, m.sel)
	if err != nil {
		return &wire.Error{Code: codeForSelErr(err), Msg: "sel: " + err.Error(), Err: err}
	}
	m.sel = sel
	return nil
}

// decodeSel decodes *raw, a selection a connection kept raw, with the
// document's type and clears it; sel when there is none.
func (s *docState) decodeSel(raw *msgpack.RawMessage, sel doctype.Selection) (doctype.Selection, error) {
	if *raw == nil {
		return sel, nil
	}
	sel, err := s.typ.DecodeSelection(*raw)
	*raw = nil
	return sel, err
}
