package textutil

import "testing"

func TestLoneSurrogate(t *testing.T) {
	tests := []struct {
		in   string
		at   int
		code uint32
	}{
		{`"plain"`, -1, 0},
		{`"\ud83d\ude00"`, -1, 0},                         // a pair
		{`"\uD83D\uDE00 and \u00e9"`, -1, 0},              // upper case, and a BMP escape
		{`"\ud83d"`, 1, 0xd83d},                           // high at the end
		{`"\ud83dx"`, 1, 0xd83d},                          // high then a character
		{`"\ud83d\n"`, 1, 0xd83d},                         // high then another escape
		{`"\ud83d\u0041"`, 1, 0xd83d},                     // high then a non-surrogate escape
		{`"\ude00"`, 1, 0xde00},                           // low alone
		{`"ok" "\\ud83d"`, -1, 0},                         // an escaped backslash, not an escape
		{`{"a":"\ud83d\ude00","b":"\udc00"}`, 25, 0xdc00}, // a document
		{`\ud83d`, -1, 0},                                 // outside a string
		{`"\u12"`, -1, 0},                                 // malformed: the decoder's to report
		{`"\`, -1, 0},
	}
	for _, tc := range tests {
		at, u := LoneSurrogate([]byte(tc.in))
		if at != tc.at || u != tc.code {
			t.Errorf("LoneSurrogate(%s) = %d, %#x; want %d, %#x", tc.in, at, u, tc.at, tc.code)
		}
	}
}

func TestTruncate(t *testing.T) {
	tests := []struct {
		in   string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"exactly", 7, "exactly"},
		{"abcdef", 3, "abc..."},
		{"aé", 2, "a..."}, // é is two bytes: the cut moves back to a rune start
		{"😀x", 3, "..."},
	}
	for _, tc := range tests {
		if got := Truncate(tc.in, tc.n); got != tc.want {
			t.Errorf("Truncate(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
		}
	}
}
