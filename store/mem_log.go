package store

import (
	"fmt"
	"math"
	"time"

	"github.com/tandem-collab/tandem/doctype"
)

// memLog is a document's op log in the memory store, kept where the garbage
// collector never has to look: its records and its bytes hold no pointers.
// A log of OpRecords held each op's slices, strings and interface box, so
// every collection traced every op the document ever committed; with the
// memory store as the zero-configuration default, a busy document's log made
// the collector's marking the largest per-op cost of the whole process
// (BenchmarkHotPath: 28% of its CPU in the mark workers, against 14% before
// ops became interface values). Appends encode each op once (the bytes
// Postgres would store); reads decode, and reads are rare (catch-up, load,
// background snapshots).
//
// Appends only add past the end of recs and data and never modify what is
// there, so a reader that copied the memLog value under the store's lock may
// keep reading its prefix after the lock is released, as with any slice.
type memLog struct {
	recs []memRec
	data []byte
}

// memRec is one op's record; its sid, user id and encoded op lie in order in
// memLog.data from off. The record's version is implicit: the log's floor
// plus its index.
type memRec struct {
	off     int64
	sidLen  int32
	userLen int32
	opLen   int32
	seq     int64
	created int64 // unix microseconds; the store keeps times to the microsecond, in UTC
}

func (l memLog) len() int { return len(l.recs) }

// add appends r; callers hold the store's lock exclusively and have validated
// r. It fails only for a field too long for a record (2 GiB; the server's
// limits are far below), having added nothing: truncating back is safe, as no
// reader's copy reaches past the old end.
func (l *memLog) add(r OpRecord) error {
	off := int64(len(l.data))
	l.data = append(l.data, r.SID...)
	l.data = append(l.data, r.UserID...)
	l.data = r.Op.AppendMsgpack(l.data)
	opLen := int64(len(l.data)) - off - int64(len(r.SID)) - int64(len(r.UserID))
	if len(r.SID) > math.MaxInt32 || len(r.UserID) > math.MaxInt32 || opLen > math.MaxInt32 {
		l.data = l.data[:off]
		return fmt.Errorf("%w: record at version %d is over 2 GiB", ErrInvalidArgument, r.Version)
	}
	l.recs = append(l.recs, memRec{
		off:     off,
		sidLen:  int32(len(r.SID)),
		userLen: int32(len(r.UserID)),
		opLen:   int32(opLen),
		seq:     r.Seq,
		created: r.CreatedAt.UnixMicro(),
	})
	return nil
}

// truncate drops records from n on, undoing adds of a batch that failed.
func (l *memLog) truncate(n int) {
	if n >= len(l.recs) {
		return
	}
	l.data = l.data[:l.recs[n].off]
	l.recs = l.recs[:n]
}

func (l memLog) sid(i int) string {
	r := l.recs[i]
	return string(l.data[r.off : r.off+int64(r.sidLen)])
}

func (l memLog) createdAt(i int) time.Time {
	return time.UnixMicro(l.recs[i].created).UTC()
}

func (l memLog) opBytes(i int) []byte {
	r := l.recs[i]
	start := r.off + int64(r.sidLen) + int64(r.userLen)
	return l.data[start : start+int64(r.opLen)]
}

// record decodes the i-th record, which is at version v, as an op of typ.
func (l memLog) record(typ doctype.Type, i int, v int64) (OpRecord, error) {
	r := l.recs[i]
	op, err := typ.DecodeOp(l.opBytes(i))
	if err != nil {
		// The bytes are our own encoding of an op the type accepted: a failure
		// here is a bug, not bad input.
		return OpRecord{}, fmt.Errorf("decode op at version %d: %w", v, err)
	}
	userAt := r.off + int64(r.sidLen)
	return OpRecord{
		Version:   v,
		Op:        op,
		SID:       l.sid(i),
		Seq:       r.seq,
		UserID:    string(l.data[userAt : userAt+int64(r.userLen)]),
		CreatedAt: l.createdAt(i),
	}, nil
}

// ops decodes the ops of records [i, j).
func (l memLog) ops(typ doctype.Type, i, j int, floor int64) ([]doctype.Op, error) {
	out := make([]doctype.Op, 0, j-i)
	for k := i; k < j; k++ {
		op, err := typ.DecodeOp(l.opBytes(k))
		if err != nil {
			return nil, fmt.Errorf("decode op at version %d: %w", floor+int64(k), err)
		}
		out = append(out, op)
	}
	return out, nil
}

// from returns a copy of the log's records [i, len), in new arrays, so that
// what is dropped can be collected while readers of the old value keep it.
func (l memLog) from(i int) memLog {
	if i >= len(l.recs) {
		return memLog{}
	}
	base := l.recs[i].off
	out := memLog{
		recs: make([]memRec, len(l.recs)-i),
		data: append([]byte(nil), l.data[base:]...),
	}
	for k, r := range l.recs[i:] {
		r.off -= base
		out.recs[k] = r
	}
	return out
}

// seqKey is a (sid, seq) pair with the sid replaced by its index in the
// document's sid table, so that the map of every committed pair holds no
// pointers either.
type seqKey struct {
	sid int32
	seq int64
}

// seqIndex finds committed ops by (sid, seq).
type seqIndex struct {
	sids  map[string]int32
	bySeq map[seqKey]int64
}

func newSeqIndex() seqIndex {
	return seqIndex{sids: make(map[string]int32), bySeq: make(map[seqKey]int64)}
}

// find returns the version of the op committed as (sid, seq).
func (x seqIndex) find(sid string, seq int64) (int64, bool) {
	s, ok := x.sids[sid]
	if !ok {
		return 0, false
	}
	v, ok := x.bySeq[seqKey{s, seq}]
	return v, ok
}

func (x seqIndex) add(sid string, seq, version int64) {
	s, ok := x.sids[sid]
	if !ok {
		s = int32(len(x.sids))
		x.sids[sid] = s
	}
	x.bySeq[seqKey{s, seq}] = version
}

func (x seqIndex) remove(sid string, seq int64) {
	if s, ok := x.sids[sid]; ok {
		delete(x.bySeq, seqKey{s, seq})
	}
}
