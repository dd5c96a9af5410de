package server_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tandem-collab/tandem/auth"
	"github.com/tandem-collab/tandem/client"
	"github.com/tandem-collab/tandem/internal/testkit"
	"github.com/tandem-collab/tandem/internal/testkit/collab"
	"github.com/tandem-collab/tandem/ot"
	"github.com/tandem-collab/tandem/server"
)

// End-to-end tests of the REST API and event streams with WebSocket clients
// (the Go client package) editing at the same time, on Postgres, with token
// authentication on.

var e2eSecret = []byte("tandem-e2e-secret-0123456789")

// startAuthServer runs a server with token authentication on a fresh schema.
func startAuthServer(t *testing.T) *e2eServer {
	t.Helper()
	st := openStore(t, testkit.Schema(t))
	ja, err := auth.NewJWTAuth(e2eSecret)
	if err != nil {
		t.Fatal(err)
	}
	cfg := server.DefaultConfig()
	cfg.Authenticator = ja
	return serve(t, st, cfg, slog.LevelWarn)
}

func token(t *testing.T, sub string, docs map[string]string) string {
	t.Helper()
	tok, err := auth.MintToken(e2eSecret, sub, sub, docs, false, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func dialToken(t *testing.T, wsURL, tok string, i int) *client.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, client.Options{
		URL: wsURL, Token: tok, SID: fmt.Sprintf("rest-e2e-%02d-%s", i, testkit.RandHex(4)),
		User:    client.User{Name: fmt.Sprintf("user %d", i)},
		Backoff: client.Backoff{Initial: 20 * time.Millisecond, Max: 300 * time.Millisecond},
	})
	if err != nil {
		t.Fatalf("dial client %d: %v", i, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// restCall does one JSON request and decodes the answer into out (if not nil).
func restCall(t *testing.T, method, url, tok string, body, out any) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %v\n%s", method, url, err, b)
		}
	}
	if resp.StatusCode >= 300 {
		t.Logf("%s %s: %d %s", method, url, resp.StatusCode, b)
	}
	return resp.StatusCode
}

// streamedOp is one op event: its id and its raw data.
type streamedOp struct {
	id   int64
	data string
}

// follow reads op events from an event stream and sends them on out until
// the stream ends; it closes out.
func follow(ctx context.Context, url string, hdr http.Header, out chan<- streamedOp) (int, error) {
	defer close(out)
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		return 0, err
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return resp.StatusCode, nil
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	var id, event, data string
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if event == "op" {
				n, err := strconv.ParseInt(id, 10, 64)
				if err != nil {
					return 200, fmt.Errorf("op event id %q: %w", id, err)
				}
				select {
				case out <- streamedOp{id: n, data: data}:
				case <-ctx.Done():
					return 200, nil
				}
			}
			id, event, data = "", "", ""
		case strings.HasPrefix(line, ":"):
		default:
			k, v, _ := strings.Cut(line, ":")
			v = strings.TrimPrefix(v, " ")
			switch k {
			case "id":
				id = v
			case "event":
				event = v
			case "data":
				data += v
			}
		}
	}
	return 200, nil
}

// TestE2ESSEResumeWhileEditing: an event stream follows a document while
// WebSocket clients edit it, disconnects, resumes with Last-Event-ID and ends
// up with exactly the ops it missed, in order: together, the two streams are
// the document's whole history, byte for byte as GET .../ops gives it.
func TestE2ESSEResumeWhileEditing(t *testing.T) {
	const docID, initial = "followed", "Follow me 🦊\n"
	s := startAuthServer(t)
	createDoc(t, s.st, docID, initial)
	writer := token(t, "writer", map[string]string{docID: "rw"})
	reader := token(t, "reader", map[string]string{docID: "r"})

	var docs []*client.Doc
	for i := range 3 {
		docs = append(docs, collab.Open(t, dialToken(t, s.wsURL, writer, i), docID))
	}
	editCtx, stopEditing := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	errs := make(chan error, len(docs))
	collab.GoEditLoops(editCtx, &wg, docs, collab.TimeSeeded, editPause, errs)
	defer func() { stopEditing(); wg.Wait() }()

	// First stream, from the start, with the token in the URL as a browser
	// would send it.
	base := s.http.URL + "/v1/docs/" + docID + "/events"
	ctx1, cancel1 := context.WithCancel(context.Background())
	ch1 := make(chan streamedOp, 64)
	var status1 int
	var err1 error
	done1 := make(chan struct{})
	go func() { status1, err1 = follow(ctx1, base+"?from=0&token="+reader, nil, ch1); close(done1) }()
	var got []streamedOp
	deadline := time.After(20 * time.Second)
	for len(got) < 40 {
		select {
		case op, ok := <-ch1:
			if !ok {
				t.Fatalf("first stream ended early: status %d, %v", status1, err1)
			}
			got = append(got, op)
		case <-deadline:
			t.Fatalf("only %d ops streamed in 20s", len(got))
		}
	}
	cancel1() // the client goes away
	<-done1
	for op := range ch1 {
		got = append(got, op) // what was read before the cancel
	}
	last := got[len(got)-1].id

	// The clients keep typing while the follower is away.
	var missedUpTo int64
	waitForVersion := time.Now().Add(20 * time.Second)
	for {
		var d struct {
			V int64 `json:"v"`
		}
		if st := restCall(t, "GET", s.http.URL+"/v1/docs/"+docID, reader, nil, &d); st != 200 {
			t.Fatalf("GET doc: %d", st)
		}
		if d.V > last+20 {
			missedUpTo = d.V
			break
		}
		if time.Now().After(waitForVersion) {
			t.Fatalf("the document did not advance past v%d", last+20)
		}
		time.Sleep(20 * time.Millisecond)
	}

	// Resume: Last-Event-ID wins over the from still in the URL, as with a
	// reconnecting EventSource.
	ctx2, cancel2 := context.WithCancel(context.Background())
	defer cancel2()
	ch2 := make(chan streamedOp, 64)
	var status2 int
	var err2 error
	done2 := make(chan struct{})
	go func() {
		status2, err2 = follow(ctx2, base+"?from=0", http.Header{"Authorization": {"Bearer " + reader}, "Last-Event-Id": {strconv.FormatInt(last, 10)}}, ch2)
		close(done2)
	}()
	time.Sleep(200 * time.Millisecond)
	stopEditing()
	collab.WaitEditLoops(t, &wg, errs)
	text, v := collab.Converge(t, docs, 30*time.Second)

	resumedFrom := len(got)
	deadline = time.After(30 * time.Second)
	for got[len(got)-1].id < v-1 {
		select {
		case op, ok := <-ch2:
			if !ok {
				t.Fatalf("resumed stream ended at v%d of %d: status %d, %v", got[len(got)-1].id, v, status2, err2)
			}
			got = append(got, op)
		case <-deadline:
			t.Fatalf("resumed stream stuck at v%d of %d", got[len(got)-1].id, v)
		}
	}
	cancel2()
	<-done2
	if got[resumedFrom].id != last+1 {
		t.Fatalf("resumed with op %d, want %d (the first one missed)", got[resumedFrom].id, last+1)
	}
	if missedUpTo <= last+1 {
		t.Fatalf("nothing was missed (v%d at resume, last seen %d)", missedUpTo, last)
	}

	// Exactly the history, in order, as GET .../ops gives it.
	var history []json.RawMessage
	for from := int64(0); from < v; {
		var page struct {
			Ops []json.RawMessage `json:"ops"`
		}
		if st := restCall(t, "GET", fmt.Sprintf("%s/v1/docs/%s/ops?from=%d&limit=1000", s.http.URL, docID, from), reader, nil, &page); st != 200 || len(page.Ops) == 0 {
			t.Fatalf("GET ops from %d: %d, %d ops", from, st, len(page.Ops))
		}
		history = append(history, page.Ops...)
		from += int64(len(page.Ops))
	}
	if int64(len(got)) != v || int64(len(history)) != v {
		t.Fatalf("streamed %d ops, history has %d, version is %d", len(got), len(history), v)
	}
	replay := initial
	for i, op := range got {
		if op.id != int64(i) {
			t.Fatalf("stream position %d holds op %d: a gap or a repeat", i, op.id)
		}
		if op.data != string(history[i]) {
			t.Fatalf("op %d streamed as\n %s\nbut GET .../ops gives\n %s", i, op.data, history[i])
		}
		var rec struct {
			Op ot.Op `json:"op"`
		}
		if err := json.Unmarshal([]byte(op.data), &rec); err != nil {
			t.Fatal(err)
		}
		var err error
		if replay, err = ot.Apply(replay, rec.Op); err != nil {
			t.Fatalf("replaying streamed op %d: %v", i, err)
		}
	}
	if replay != text {
		t.Fatalf("the streamed ops give\n %q\nthe clients hold\n %q", replay, text)
	}
	collab.CheckStore(t, s.st, docID, initial, text, v)
}

// TestE2ERESTOpConverges: a bot submits ops over REST, some against old
// versions, while WebSocket clients type; everyone converges, each REST op is
// committed exactly once, and the REST view of the document is the same text.
func TestE2ERESTOpConverges(t *testing.T) {
	const docID, initial = "bot-and-people", "The bot writes here.\n"
	s := startAuthServer(t)
	createDoc(t, s.st, docID, initial)
	people := token(t, "person", map[string]string{docID: "rw"})
	bot := token(t, "bot", map[string]string{"bot-*": "rw"}) // a prefix grant

	var docs []*client.Doc
	for i := range 4 {
		docs = append(docs, collab.Open(t, dialToken(t, s.wsURL, people, i), docID))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, len(docs)+1)
	collab.GoEditLoops(ctx, &wg, docs, func(i int) *rand.Rand { return collab.TimeSeeded(i + 100) }, editPause, errs)

	const botOps = 30
	sid := "rest-bot-" + testkit.RandHex(6)
	committed := make(map[int64]int64) // seq -> version
	wg.Add(1)
	go func() {
		defer wg.Done()
		r := rand.New(rand.NewPCG(7, uint64(time.Now().UnixNano())))
		for seq := int64(1); seq <= botOps; seq++ {
			var cur struct {
				V       int64  `json:"v"`
				Content string `json:"content"`
			}
			if st := restCall(t, "GET", s.http.URL+"/v1/docs/"+docID, bot, nil, &cur); st != 200 {
				errs <- fmt.Errorf("bot GET: %d", st)
				return
			}
			// Every third op is made against an older version, read with ?v=.
			if seq%3 == 0 && cur.V > 5 {
				old := cur.V - int64(1+r.IntN(5))
				if st := restCall(t, "GET", fmt.Sprintf("%s/v1/docs/%s?v=%d", s.http.URL, docID, old), bot, nil, &cur); st != 200 {
					errs <- fmt.Errorf("bot GET ?v=%d: %d", old, st)
					return
				}
			}
			op := collab.RandomEdit(r, cur.Content)
			var ans struct {
				V int64 `json:"v"`
			}
			body := map[string]any{"v": cur.V, "op": op, "sid": sid, "seq": seq}
			if st := restCall(t, "POST", s.http.URL+"/v1/docs/"+docID+"/ops", bot, body, &ans); st != 200 {
				errs <- fmt.Errorf("bot op %d: %d", seq, st)
				return
			}
			if ans.V < cur.V {
				errs <- fmt.Errorf("bot op %d made at v%d committed as v%d", seq, cur.V, ans.V)
				return
			}
			committed[seq] = ans.V
			if seq == botOps/2 {
				// A retry after a lost answer is not applied twice.
				var again struct {
					V int64 `json:"v"`
				}
				if st := restCall(t, "POST", s.http.URL+"/v1/docs/"+docID+"/ops", bot, body, &again); st != 200 || again.V != ans.V {
					errs <- fmt.Errorf("resubmitted op %d: %d, v%d, want v%d", seq, st, again.V, ans.V)
					return
				}
			}
			time.Sleep(time.Duration(r.IntN(20)) * time.Millisecond)
		}
	}()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("%v", err)
	}
	text, v := collab.Converge(t, docs, 30*time.Second)
	log := collab.CheckStore(t, s.st, docID, initial, text, v)
	n := 0
	for _, r := range log {
		if r.SID == sid {
			n++
			if r.UserID != "bot" || committed[r.Seq] != r.Version {
				t.Fatalf("bot op seq %d: user %q at v%d, answered v%d", r.Seq, r.UserID, r.Version, committed[r.Seq])
			}
		}
	}
	if n != botOps {
		t.Fatalf("%d bot ops in the log, want %d", n, botOps)
	}
	var doc struct {
		V       int64  `json:"v"`
		Content string `json:"content"`
	}
	if st := restCall(t, "GET", s.http.URL+"/v1/docs/"+docID, people, nil, &doc); st != 200 || doc.V != v || doc.Content != text {
		t.Fatalf("REST view: %d v%d %q, clients v%d %q", st, doc.V, doc.Content, v, text)
	}
}
