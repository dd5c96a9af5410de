package auth

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tandem-collab/tandem/wire"
)

// The access rules: the exact id wins, then the longest matching prefix; no
// grants at all (nil) is open mode; an empty map grants nothing.
func TestPrincipalAccess(t *testing.T) {
	grants := map[string]Mode{
		"*":        ModeRead,
		"team-*":   ModeReadWrite,
		"team-x-*": ModeNone,
		"team-x-1": ModeRead,
		"doc":      ModeReadWrite,
	}
	for _, tc := range []struct {
		name   string
		grants map[string]Mode
		doc    string
		want   Mode
	}{
		{"open mode grants everything", nil, "anything", ModeReadWrite},
		{"an empty map grants nothing", map[string]Mode{}, "doc", ModeNone},
		{"exact id", grants, "doc", ModeReadWrite},
		{"catch-all prefix", grants, "other", ModeRead},
		{"longer prefix wins", grants, "team-9", ModeReadWrite},
		{"longest prefix wins, even when it takes away", grants, "team-x-2", ModeNone},
		{"exact id wins over every prefix", grants, "team-x-1", ModeRead},
		{"a pattern's star is not a character", grants, "team-", ModeReadWrite},
		{"no match", map[string]Mode{"a*": ModeRead}, "b", ModeNone},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := (Principal{Grants: tc.grants}).Access(tc.doc); got != tc.want {
				t.Fatalf("Access(%q) = %v, want %v", tc.doc, got, tc.want)
			}
		})
	}
	for m, s := range map[Mode]string{ModeNone: "none", ModeRead: "r", ModeReadWrite: "rw"} {
		if m.String() != s {
			t.Errorf("%d.String() = %q, want %q", m, m.String(), s)
		}
	}
}

// The identity a session shows: the token's user and name win; in open mode
// the id comes from the sid (stable, and not the sid itself), and the client
// proposes its name and color.
func TestSessionUser(t *testing.T) {
	const sid = "sid-0123456789abcdef"
	open := OpenAuth{}
	p, err := open.Authenticate(httptest.NewRequest("GET", "/v1/ws", nil))
	if err != nil || !p.Admin || p.Grants != nil || !open.Open() {
		t.Fatalf("OpenAuth: %+v, %v", p, err)
	}
	anon := p.SessionUser(sid, nil)
	if !strings.HasPrefix(anon.ID, "anon-") || strings.Contains(anon.ID, sid) || anon.Name != anon.ID || anon.Color == "" {
		t.Fatalf("open-mode user %+v", anon)
	}
	if again := p.SessionUser(sid, nil); again != anon {
		t.Fatalf("the same sid gave %+v, then %+v", anon, again)
	}
	if other := p.SessionUser("sid-another-one-0000", nil); other.ID == anon.ID {
		t.Fatalf("two sids share the user id %q", anon.ID)
	}
	proposed := p.SessionUser(sid, &wire.UserInfo{Name: "Ann", Color: "#123456"})
	if proposed.ID != anon.ID || proposed.Name != "Ann" || proposed.Color != "#123456" {
		t.Fatalf("open mode with a proposal: %+v", proposed)
	}

	tok := Principal{UserID: "u1", Name: "Una"}
	u := tok.SessionUser(sid, &wire.UserInfo{Name: "Mallory", Color: "#654321"})
	if u.ID != "u1" || u.Name != "Una" || u.Color != "#654321" {
		t.Fatalf("token user with a proposal: %+v, want id u1 and the token's name", u)
	}
	if u := (Principal{UserID: "u2"}).SessionUser(sid, &wire.UserInfo{Name: "Bo"}); u.Name != "Bo" || u.Color != colorFor("u2") {
		t.Fatalf("token without a name: %+v, want the proposed name and u2's color", u)
	}

	for _, tc := range []struct {
		p    Principal
		sid  string
		want string
	}{
		{Principal{UserID: "u1"}, sid, "u1"},
		{Principal{UserID: "u1"}, "", "u1"},
		{Principal{}, sid, anon.ID},
		{Principal{}, "", "anonymous"},
	} {
		if got := tc.p.UserIDFor(tc.sid); got != tc.want {
			t.Errorf("%+v.UserIDFor(%q) = %q, want %q", tc.p, tc.sid, got, tc.want)
		}
	}
}
