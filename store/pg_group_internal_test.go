package store

import (
	"context"
	"testing"

	"github.com/tandem-collab/tandem/ot"
)

// BenchmarkPrepareAppend is the work and the garbage of one append of one op
// before it reaches a committer (the fleet scenario's 2,500 a second): the
// server's GC cycles, which set the fleet's latency tail, come at a rate set
// by its garbage (docs/benchmarks.md, fleet). The request is given back as
// AppendOps gives it back once answered.
func BenchmarkPrepareAppend(b *testing.B) {
	ctx := context.Background()
	ops := []OpRecord{{Version: 41, Op: ot.Op{{Retain: 120}, {Insert: "{k2j3h4g5}"}}, SID: "c0FtcGxlLXNlc3Npb24taWQ", Seq: 17, UserID: "u-17"}}
	b.ReportAllocs()
	for b.Loop() {
		r, err := prepareAppend(ctx, "fleet1-1234", 41, ops)
		if err != nil {
			b.Fatal(err)
		}
		r.release()
	}
}
