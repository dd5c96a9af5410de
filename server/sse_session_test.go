package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tandem-collab/tandem/ot"
	"github.com/tandem-collab/tandem/wire"
)

// sessionEvent decodes the data of one event of a session stream.
func sessionEvent(t *testing.T, ev sseEvent, want string) map[string]any {
	t.Helper()
	if ev.event != want {
		t.Fatalf("got event %q (%s), want %q", ev.event, ev.data, want)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(ev.data), &m); err != nil {
		t.Fatalf("event %s data %q: %v", ev.event, ev.data, err)
	}
	return m
}

// TestSSESessionStream: a stream opened with ?sid= is a full client without
// WebSockets: it starts with joined (text, peers, its own user), is a peer a
// WebSocket client sees with its name, posts ops with sid, seq and sel (its
// own op comes back on the stream as the ack, a resubmit is deduplicated),
// posts presence, and its peers see it gone when it ends.
func TestSSESessionStream(t *testing.T) {
	ts := newStreamServer(t, memStore(t), time.Hour, 64, nil)
	createDoc(t, ts.st, "s", "hello")
	const sid = "sse-session-sid-0001"

	s := ts.openSSE(t, "/v1/docs/s/events?sid="+sid+"&name=Ada&color=%23e91e63", "")
	j := sessionEvent(t, s.nextWithin(t, 5*time.Second), "joined")
	user := j["user"].(map[string]any)
	if j["v"].(float64) != 0 || j["text"] != "hello" || j["mode"] != "rw" || j["type"] != "text" || user["name"] != "Ada" || user["color"] != "#e91e63" {
		t.Fatalf("joined %v", j)
	}
	if peers := j["peers"].([]any); len(peers) != 1 || peers[0].(map[string]any)["sid"] != sid {
		t.Fatalf("joined peers %v", j["peers"])
	}

	c := ts.connect(t, "sse-session-ws-0001")
	joined := c.join("s", nil)
	found := false
	for _, p := range joined["peers"].([]any) {
		pm := p.(map[string]any)
		if pm["sid"] == sid && pm["user"].(map[string]any)["name"] == "Ada" {
			found = true
		}
	}
	if !found {
		t.Fatalf("the WebSocket client does not see the stream's peer: %v", joined["peers"])
	}
	// The stream's own arrival may be flushed first: wait for the WebSocket client's.
	for {
		if ev := sessionEvent(t, s.nextWithin(t, 5*time.Second), "presence"); strings.Contains(fmt.Sprint(ev["peers"]), "sse-session-ws-0001") {
			break
		}
	}

	// An op with sid, seq and sel: the stream gets it back as its ack, the
	// WebSocket client with the author's selection.
	body := map[string]any{"v": 0, "op": []any{5, " world"}, "sid": sid, "seq": 1, "sel": [][2]int{{11, 11}}}
	if r := ts.call(t, "POST", "/v1/docs/s/ops", "", body).want(t, http.StatusOK).obj(t); r["v"].(float64) != 0 {
		t.Fatalf("post op %v", r)
	}
	op := sessionEvent(t, s.nextSkipping(t, 5*time.Second), "op")
	if op["sid"] != sid || op["seq"].(float64) != 1 || op["v"].(float64) != 0 {
		t.Fatalf("own op on the stream %v", op)
	}
	if sel, _ := op["sel"].([]any); len(sel) != 1 {
		t.Fatalf("op event without the author's selection: %v", op)
	}
	m := c.expectSkipping("op", "presence")
	if m["sid"] != sid || m["sel"] == nil {
		t.Fatalf("the WebSocket client got %v", m)
	}
	// The same (sid, seq) again: the original version, nothing new.
	if r := ts.call(t, "POST", "/v1/docs/s/ops", "", body).want(t, http.StatusOK).obj(t); r["v"].(float64) != 0 {
		t.Fatalf("resubmit %v", r)
	}

	// Presence through POST: the WebSocket client sees the caret.
	ts.call(t, "POST", "/v1/docs/s/presence", "", map[string]any{"sid": sid, "v": 1, "sel": [][2]int{{2, 3}}, "data": map[string]any{"status": "typing"}}).want(t, http.StatusAccepted)
	for {
		m := c.expectSkipping("presence")
		peers := m["peers"].([]any)
		if len(peers) == 1 && peers[0].(map[string]any)["sid"] == sid && peers[0].(map[string]any)["sel"] != nil {
			// The op's own selection may still be on its way as a
			// presence change (it is coalesced apart from the op).
			got := fmt.Sprint(peers[0].(map[string]any)["sel"])
			if got == "[[2 3]]" {
				break
			}
			if got != "[[11 11]]" {
				t.Fatalf("the posted selection arrived as %s", got)
			}
		}
	}
	// A presence the actor refuses comes back on the stream as an error event.
	ts.call(t, "POST", "/v1/docs/s/presence", "", map[string]any{"sid": sid, "v": 1, "sel": [][2]int{{50, 50}}}).want(t, http.StatusAccepted)
	for {
		ev := s.nextSkipping(t, 5*time.Second)
		if ev.event == "error" {
			if e := sessionEvent(t, ev, "error"); e["code"] != wire.CodeBadRequest {
				t.Fatalf("error event %v", e)
			}
			break
		}
	}
	// No stream with that sid: 409; a bad body: 422.
	ts.call(t, "POST", "/v1/docs/s/presence", "", map[string]any{"sid": "no-such-stream-0001", "v": 1, "sel": nil}).problem(t, http.StatusConflict, wire.CodeBadRequest)
	ts.call(t, "POST", "/v1/docs/s/presence", "", map[string]any{"sid": "short", "v": 1}).problem(t, http.StatusUnprocessableEntity, wire.CodeBadRequest)
	ts.getProblems(t, "", http.StatusUnprocessableEntity, wire.CodeBadRequest, "/v1/docs/s/events?sid=short", "/v1/docs/s/events?name=Ada")

	// The stream ends: its peers see it gone.
	s.close()
	for {
		m := c.expectSkipping("presence")
		if gone, _ := m["gone"].([]any); len(gone) == 1 && gone[0] == sid {
			break
		}
	}
}

// TestSSESessionResume: a session stream resumed from a version replays the
// ops since, then says joined at the current version, without the text.
func TestSSESessionResume(t *testing.T) {
	ts := newStreamServer(t, memStore(t), time.Hour, 64, nil)
	createDoc(t, ts.st, "r", "")
	for i, txt := range []string{"a", "b", "c"} {
		if _, err := ts.srv.SubmitOp(t.Context(), "r", int64(i), ot.Op{{Insert: txt}}, "", 0, "u"); err != nil {
			t.Fatal(err)
		}
	}
	s := ts.openSSE(t, "/v1/docs/r/events?sid=sse-session-sid-0002&from=1", "")
	for want := 1; want <= 2; want++ {
		ev := s.nextWithin(t, 5*time.Second)
		op := sessionEvent(t, ev, "op")
		if int(op["v"].(float64)) != want {
			t.Fatalf("replayed %v, want version %d", op, want)
		}
	}
	j := sessionEvent(t, s.nextWithin(t, 5*time.Second), "joined")
	if j["v"].(float64) != 3 || j["text"] != nil {
		t.Fatalf("joined after the replay %v", j)
	}
}
