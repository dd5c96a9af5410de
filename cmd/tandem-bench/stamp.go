package main

import (
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tandem-collab/tandem/ot"
)

// Remote-apply and presence latency need the moment an edit or a caret move was
// made to travel with it to the other clients. All clients of a run live in
// this one process, so a reading of one monotonic clock (nanoseconds since
// clockBase) is comparable across them; no wall-clock skew is involved.
//
// In an op the stamp is text: each generated insert is "{<base-36 ns>}" (about
// ten ASCII characters; the generated documents hold no other braces). Transform
// never splits an insert component, so the stamp reaches every receiver intact
// inside its op. In presence it is the data map {"t": <ns>}.
var clockBase = time.Now()

// now is the shared clock reading carried by stamps.
func now() int64 { return int64(time.Since(clockBase)) }

const (
	stampOpen  = "{"
	stampClose = "}"
)

// stampText is the insert that carries t.
func stampText(t int64) string {
	return stampOpen + strconv.FormatInt(t, 36) + stampClose
}

// stampsIn calls fn with every complete stamp inside s. Fragments (a stamp a
// deletion cut into) are skipped.
func stampsIn(s string, fn func(t int64)) {
	for {
		i := strings.Index(s, stampOpen)
		if i < 0 {
			return
		}
		s = s[i+len(stampOpen):]
		j := strings.Index(s, stampClose)
		if j < 0 {
			return
		}
		if k := strings.Index(s[:j], stampOpen); k >= 0 {
			s = s[k:] // a fragment followed by a full stamp: restart at the inner one
			continue
		}
		if t, err := strconv.ParseInt(s[:j], 36, 64); err == nil && j > 0 {
			fn(t)
		}
		s = s[j+len(stampClose):]
	}
}

// opStamps calls fn with every stamp inserted by op.
func opStamps(op ot.Op, fn func(t int64)) {
	for _, c := range op {
		if c.Insert != "" {
			stampsIn(c.Insert, fn)
		}
	}
}

// stampOp is a steady-workload edit: insert a stamp (made at t) at a random
// position that is not inside an earlier stamp, or, once the document is
// longer than maxLen code points, every other time delete 10 to 40 code points
// (more than a stamp on average, so the length stays near maxLen). Deletions
// carry no stamp.
func stampOp(rnd func(n int) int, text string, t int64, maxLen int) ot.Op {
	n := utf8.RuneCountInString(text)
	if n > maxLen && rnd(2) == 0 {
		pos := rnd(n)
		return opAt(pos, ot.Component{Delete: min(10+rnd(31), n-pos)})
	}
	pos := stampBoundary(text, rnd(n+1))
	return opAt(pos, ot.Component{Insert: stampText(t)})
}

func opAt(pos int, c ot.Component) ot.Op {
	if pos > 0 {
		return ot.Op{{Retain: pos}, c}
	}
	return ot.Op{c}
}

// stampBoundary moves code point position pos out of a stamp: if an opening
// bracket before pos has no closing one between it and pos, and a closing one
// follows, pos moves past that closing bracket. (A new insert nested inside an
// earlier one that is still buffered would otherwise be composed into it and
// break both stamps.)
func stampBoundary(text string, pos int) int {
	// Work in bytes, return code points.
	b := byteOffset(text, pos)
	before := text[:b]
	open := strings.LastIndex(before, stampOpen)
	if open < 0 || strings.LastIndex(before, stampClose) > open {
		return pos
	}
	closeAt := strings.Index(text[b:], stampClose)
	if closeAt < 0 {
		return pos
	}
	return pos + utf8.RuneCountInString(text[b:b+closeAt]) + 1
}

// byteOffset is the byte offset of code point pos in s (len(s) past the end).
func byteOffset(s string, pos int) int {
	for i := range s {
		if pos == 0 {
			return i
		}
		pos--
	}
	return len(s)
}

// presenceData is the presence data map {"t": t} in MessagePack, written by
// hand so that readers can take it apart without a generic decoder.
func presenceData(t int64) []byte {
	b := []byte{0x81, 0xa1, 't', 0xd3}
	u := uint64(t)
	for s := 56; s >= 0; s -= 8 {
		b = append(b, byte(u>>s))
	}
	return b
}

// presenceStamp reads t back from a data map {"t": int} in any MessagePack
// integer encoding (other encoders than presenceData may have written it).
func presenceStamp(b []byte) (int64, bool) {
	if len(b) < 4 || b[0] != 0x81 || b[1] != 0xa1 || b[2] != 't' {
		return 0, false
	}
	b = b[3:]
	be := func(n int) (uint64, bool) {
		if len(b) != 1+n {
			return 0, false
		}
		var u uint64
		for _, x := range b[1:] {
			u = u<<8 | uint64(x)
		}
		return u, true
	}
	switch c := b[0]; {
	case c <= 0x7f:
		return int64(c), len(b) == 1
	case c >= 0xe0:
		return int64(int8(c)), len(b) == 1
	case c == 0xcc || c == 0xcd || c == 0xce || c == 0xcf:
		u, ok := be(1 << (c - 0xcc))
		return int64(u), ok
	case c == 0xd0:
		u, ok := be(1)
		return int64(int8(u)), ok
	case c == 0xd1:
		u, ok := be(2)
		return int64(int16(u)), ok
	case c == 0xd2:
		u, ok := be(4)
		return int64(int32(u)), ok
	case c == 0xd3:
		u, ok := be(8)
		return int64(u), ok
	}
	return 0, false
}
