package wire

import (
	"bytes"
	"testing"

	"github.com/vmihailenco/msgpack/v5"
)

func TestCheckClaims(t *testing.T) {
	nested := func(depth int) []byte {
		var b []byte
		for range depth - 1 {
			b = append(b, 0x91) // an array of one
		}
		return append(b, 0x01)
	}
	ok, _ := msgpack.Marshal(map[string]any{"k": 1, "peers": []any{map[string]any{"sid": "a", "data": []byte{1, 2}}}})
	for _, tc := range []struct {
		name  string
		b     []byte
		extra int
		good  bool
	}{
		{"a message", ok, 0, true},
		{"an array claiming billions", []byte("\x960\xc0\xc0\xc0\xdd\xdd\xdd\xc0\xc0\xc0"), 4, false},
		{"a string longer than the bytes", []byte{0xd9, 0x10, 'a'}, 0, false},
		{"data after the value", append(bytes.Clone(ok), 0x01), 0, false},
		{"empty", nil, 0, false},
		{"MaxDepth deep", nested(MaxDepth), 0, true},
		{"deeper than MaxDepth", nested(MaxDepth + 1), 0, false},
		{"deeper, with the room given", nested(MaxDepth + 4), 4, true},
	} {
		if err := CheckClaims(tc.b, tc.extra); (err == nil) != tc.good {
			t.Errorf("%s: CheckClaims = %v, want ok %v", tc.name, err, tc.good)
		}
	}
}
