package mpack

import (
	"bytes"
	"math"
	"testing"

	"github.com/vmihailenco/msgpack/v5"
)

// TestAgainstMsgpack: what the appenders write, msgpack/v5 reads back, and
// what msgpack/v5 writes, the readers read.
func TestAgainstMsgpack(t *testing.T) {
	ints := []int64{0, 1, 127, 128, 255, 256, 65535, 65536, math.MaxUint32, math.MaxUint32 + 1, math.MaxInt64,
		-1, -32, -33, -128, -129, -32768, -32769, math.MinInt32, math.MinInt32 - 1, math.MinInt64}
	for _, n := range ints {
		var got int64
		if err := msgpack.Unmarshal(AppendInt(nil, n), &got); err != nil || got != n {
			t.Errorf("AppendInt(%d) reads back as %d, %v", n, got, err)
		}
		ref, _ := msgpack.Marshal(n)
		if x, next, ok := ReadInt(ref, 0); !ok || x != n || next != len(ref) {
			t.Errorf("ReadInt(%x) = %d, %d, %v", ref, x, next, ok)
		}
	}
	for _, n := range []int{0, 15, 16, 31, 32, 255, 256, 65535, 65536} {
		s := string(make([]byte, n))
		var got string
		b := AppendString(nil, s)
		if err := msgpack.Unmarshal(b, &got); err != nil || got != s {
			t.Errorf("AppendString of %d bytes: %v", n, err)
		}
		if l, next, ok := ReadStringHeader(b, 0); !ok || l != n || next+l != len(b) {
			t.Errorf("ReadStringHeader of %d bytes = %d, %d, %v", n, l, next, ok)
		}
		arr := AppendArrayHeader(nil, n)
		if l, next, ok := ReadArrayHeader(arr, 0); !ok || l != n || next != len(arr) {
			t.Errorf("ReadArrayHeader(%d) = %d, %d, %v", n, l, next, ok)
		}
		bin := AppendBin(nil, []byte(s))
		var gotBin []byte
		if err := msgpack.Unmarshal(bin, &gotBin); err != nil || !bytes.Equal(gotBin, []byte(s)) {
			t.Errorf("AppendBin of %d bytes: %v", n, err)
		}
		refBin, _ := msgpack.Marshal([]byte(s))
		if l, next, ok := ReadBinHeader(refBin, 0); !ok || l != n || next+l != len(refBin) {
			t.Errorf("ReadBinHeader of %d bytes = %d, %d, %v", n, l, next, ok)
		}
		m := AppendMapHeader(nil, n)
		if c, err := msgpack.NewDecoder(bytes.NewReader(m)).DecodeMapLen(); err != nil || c != n {
			t.Errorf("AppendMapHeader(%d) reads back as %d, %v", n, c, err)
		}
	}
	for _, f := range []float64{0, 1.5, 3} {
		ref, _ := msgpack.Marshal(f)
		if got, next, ok := ReadFloat(ref, 0); !ok || got != f || next != len(ref) {
			t.Errorf("ReadFloat(%x) = %v, %v", ref, got, ok)
		}
	}
}

// TestReadersBounded: truncated input and lengths past the end are refused.
func TestReadersBounded(t *testing.T) {
	for _, b := range [][]byte{{0xcd, 0x01}, {0xd3, 0, 0, 0}, {0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, {}} {
		if _, _, ok := ReadInt(b, 0); ok {
			t.Errorf("ReadInt(%x) accepted", b)
		}
	}
	if _, _, ok := ReadStringHeader([]byte{0xdb, 0xff, 0xff, 0xff, 0xff, 'x'}, 0); ok {
		t.Error("a str claiming 4 GiB in 6 bytes was accepted")
	}
	if _, _, ok := ReadBinHeader([]byte{0xc6, 0xff, 0xff, 0xff, 0xff, 'x'}, 0); ok {
		t.Error("a bin claiming 4 GiB in 6 bytes was accepted")
	}
	if _, _, ok := ReadArrayHeader([]byte{0xdc, 0x01}, 0); ok {
		t.Error("a truncated array header was accepted")
	}
}
