package wire

import (
	"fmt"
	"testing"
)

// The rules checkClientRules checks in code answer as the validator does
// (checkStruct): the same first failure, in the same words, and nothing for
// a message that passes; a message with rules it does not write out is
// left to the validator.
func TestCheckClientRulesAsValidator(t *testing.T) {
	long := make([]byte, 129)
	for i := range long {
		long[i] = 'a'
	}
	cases := []Message{
		&Op{Doc: "d", V: 0, Seq: 1},
		&Op{Doc: "", V: 0, Seq: 1},
		&Op{Doc: "bad doc", V: 0, Seq: 1},
		&Op{Doc: string(long), V: 0, Seq: 1},
		&Op{Doc: "d", V: -1, Seq: 1},
		&Op{Doc: "d", V: 3, Seq: 0},
		&Op{Doc: "d", V: 3, Seq: -5},
		&Op{Doc: "bad/doc", V: -1, Seq: 0}, // the first rule wins
		&Op{Doc: "d", V: -1, Seq: 0},
		&Presence{Doc: "d", V: 2},
		&Presence{Doc: "d/", V: 2},
		&Presence{Doc: "d", V: -2},
		&Leave{Doc: "team-notes_2026"},
		&Leave{Doc: "é"},
	}
	for _, msg := range cases {
		t.Run(fmt.Sprintf("%T%+v", msg, msg), func(t *testing.T) {
			ok, got := checkClientRules(msg)
			if !ok {
				t.Fatal("not checked in code")
			}
			want := checkStruct(msg)
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("checkClientRules: %v; the validator: %v", got, want)
			}
		})
	}
	for _, msg := range []Message{&Hello{Proto: 1, SID: "0123456789abcdef"}, &Join{Doc: "d"}, &Auth{Token: "x"}} {
		if ok, err := checkClientRules(msg); ok || err != nil {
			t.Fatalf("%T: checked in code (%v, %v), want it left to the validator", msg, ok, err)
		}
	}
}
