package server

import (
	"time"

	"github.com/tandem-collab/tandem/doctype"
	"github.com/tandem-collab/tandem/store"
)

// coldOps is the older part of a document's op window: the ops kept beyond
// the latest opWindow because they were committed within windowAge of the
// newest (Config.OpWindowAge), encoded in memory the collector does not scan.
//
// On a busy document the age window holds tens of thousands of ops (10 s of
// a hot document: up to OpWindowMax, 20,000). As records (store.OpRecord:
// an op behind an interface, its components, strings) they made the live
// heap several times what the rest of a server on Postgres holds, and every
// collection marked them all: its mark phases grew from about 2 to 5-12 ms,
// and the hot scenario's ack p99 on Postgres went from 1.0x to 1.15x of the
// revision before the age window (docs/benchmarks.md, issue 13 at its close).
// Here each op is its type's MessagePack (Op.AppendMsgpack, what the store
// keeps) and its author's sid and user id, back to back in one byte buffer,
// with a fixed record of numbers per op: no pointers, nothing to mark. They
// are decoded (Type.DecodeOp, as a store read would) only when an op lags
// past the latest opWindow, which is what the age window is for: such a
// batch then reads its history from memory instead of the store.
type coldOps struct {
	first int64     // the version of recs[0]
	recs  []coldRec // in version order
	buf   []byte    // the recs' bytes; recs[i].off - shift indexes buf
	shift int       // bytes dropped from buf's start (the oldest recs' bytes)
	bytes int       // the ops' Size(), for windowMaxBytes
}

// coldRec locates one op's bytes in coldOps.buf: sid, then user id, then
// the op.
type coldRec struct {
	seq                    int64
	at                     int64 // CreatedAt in Unix nanoseconds; noTime when zero
	off                    int
	sidLen, userLen, opLen int32
	size                   int32 // Op.Size()
}

// noTime is coldRec.at for a record without a commit time.
const noTime = -1 << 63

func (c *coldOps) len() int { return len(c.recs) }

// add appends r, committed at version c.first+c.len().
func (c *coldOps) add(r *store.OpRecord, size int) {
	if len(c.recs) == 0 {
		c.first = r.Version
	}
	at := int64(noTime)
	if !r.CreatedAt.IsZero() {
		at = r.CreatedAt.UnixNano()
	}
	off := len(c.buf) + c.shift
	c.buf = append(c.buf, r.SID...)
	c.buf = append(c.buf, r.UserID...)
	n := len(c.buf)
	c.buf = r.Op.AppendMsgpack(c.buf)
	c.recs = append(c.recs, coldRec{seq: r.Seq, at: at, off: off, sidLen: int32(len(r.SID)),
		userLen: int32(len(r.UserID)), opLen: int32(len(c.buf) - n), size: int32(size)})
	c.bytes += size
}

// dropFirst forgets the oldest n records.
func (c *coldOps) dropFirst(n int) {
	if n <= 0 {
		return
	}
	if n >= len(c.recs) {
		c.reset()
		return
	}
	for _, r := range c.recs[:n] {
		c.bytes -= int(r.size)
	}
	c.recs = c.recs[n:]
	c.first += int64(n)
	// The bytes before the oldest record left go once they are half the
	// buffer, so that dropping is an amortised constant per op.
	if dead := c.recs[0].off - c.shift; dead > len(c.buf)/2 {
		c.buf = append([]byte(nil), c.buf[dead:]...)
		c.shift += dead
	}
}

func (c *coldOps) reset() { *c = coldOps{} }

// sid is record i's author's sid, aliasing buf (compare it, do not keep it).
func (c *coldOps) sidBytes(i int) []byte {
	r := &c.recs[i]
	o := r.off - c.shift
	return c.buf[o : o+int(r.sidLen)]
}

// record decodes record i with typ.
func (c *coldOps) record(typ doctype.Type, i int) (store.OpRecord, error) {
	r := &c.recs[i]
	o := r.off - c.shift
	sid := string(c.buf[o : o+int(r.sidLen)])
	o += int(r.sidLen)
	user := string(c.buf[o : o+int(r.userLen)])
	o += int(r.userLen)
	op, err := typ.DecodeOp(c.buf[o : o+int(r.opLen)])
	if err != nil {
		return store.OpRecord{}, err
	}
	rec := store.OpRecord{Version: c.first + int64(i), Op: op, SID: sid, Seq: r.seq, UserID: user}
	if r.at != noTime {
		rec.CreatedAt = time.Unix(0, r.at)
	}
	return rec, nil
}

// firstAfter is the index of the first record committed at or after t
// (records without a time count as old), len when none.
func (c *coldOps) firstAfter(t time.Time) int {
	ns := t.UnixNano()
	lo, hi := 0, len(c.recs)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if c.recs[m].at == noTime || c.recs[m].at < ns {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}
