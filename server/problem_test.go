package server

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestCheckSurrogates(t *testing.T) {
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{`{}`, true},
		{`{"a":"plain"}`, true},
		{`{"a":"\ud83d\ude00"}`, true},
		{`{"a":"\uD83D\uDE00"}`, true},
		{`{"a":"\u00e9\u4e2d"}`, true},
		{`{"a":"\\ud800"}`, true},       // an escaped backslash, then text
		{`{"\ud800":1}`, false},         // keys count too
		{`{"a":"\ud800"}`, false},       // high alone
		{`{"a":"\ud800x"}`, false},      // high then text
		{`{"a":"\ud800\u0041"}`, false}, // high then a non-surrogate escape
		{`{"a":"\udc00"}`, false},       // low alone
		{`{"a":"\ude00\ud83d"}`, false}, // pair reversed
		{`{"a":"x\\\ud800"}`, false},    // \\ then a real escape
		{`{"a":"\u12"}`, true},          // malformed: left to the decoder
		{`["\ud800"]`, false},
	} {
		if err := checkSurrogates([]byte(tc.in)); (err == nil) != tc.ok {
			t.Errorf("checkSurrogates(%s) = %v, want ok=%v", tc.in, err, tc.ok)
		}
	}
}

// FuzzDecodeBody: whatever bytes a client sends, the decoder answers a 4xx
// problem or hands over a body whose strings are valid UTF-8 without U+FFFD
// smuggled in for a lone surrogate, and never panics.
func FuzzDecodeBody(f *testing.F) {
	for _, s := range []string{`{}`, ``, `{"id":"a","content":"x","title":"t","metadata":{"k":[1,null]}}`,
		`{"content":"\ud800"}`, `{"content":"\ud83d\ude00"}`, `{"id":1}`, `[1]`, `{"a":1}`, "{\"content\":\"\xff\"}",
		`{"content":"\\ud800"}`, `{"id":"x"} {}`, `{"metadata":{"a":{"b":{"c":[[[]]]}}}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		r := httptest.NewRequest("POST", "/v1/docs", strings.NewReader(string(body)))
		r.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		var b createBody
		e := decodeBody(w, r, 1<<16, &b)
		if e != nil {
			if e.status < 400 || e.status >= 500 || e.detail == "" {
				t.Fatalf("decode error %+v", e)
			}
			writeProblem(w, r, e)
			var p Problem
			if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil || p.Status != e.status {
				t.Fatalf("problem %q: %v", w.Body.Bytes(), err)
			}
			return
		}
		if !utf8.Valid(body) {
			t.Fatalf("accepted invalid UTF-8 %q", body)
		}
		// b.Content stays raw JSON here: the document's type parses it.
		for _, s := range []*string{b.ID, b.Type, b.Title} {
			if s != nil && strings.ContainsRune(*s, utf8.RuneError) && !strings.Contains(string(body), "\ufffd") && !strings.Contains(strings.ToLower(string(body)), `\ufffd`) {
				t.Fatalf("accepted %q, which decoded to a replacement character", body)
			}
		}
		_ = validateBody(&b) // must not panic either
		_ = http.StatusOK
	})
}
