package server

import (
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"time"

	"github.com/tandem-collab/tandem/auth"
	"github.com/tandem-collab/tandem/bus"
)

// Authenticator tells who is making a request: auth.JWTAuth with a secret,
// auth.OpenAuth without (Config.Authenticator nil selects OpenAuth). The same
// principal rules WebSocket, REST and SSE requests, and a WebSocket's token
// renewal is checked by the same Authenticator (conn_auth.go). It is defined
// here, by its one user; its implementations live in package auth.
type Authenticator interface {
	// Authenticate returns the caller's principal, or an error wrapping
	// auth.ErrUnauthenticated that says what is wrong with the credentials.
	Authenticate(r *http.Request) (auth.Principal, error)
	// Open reports whether the server runs without authentication (logged at
	// start-up so that nobody runs open by accident).
	Open() bool
}

// The authenticators of package auth.
var (
	_ Authenticator = (*auth.JWTAuth)(nil)
	_ Authenticator = auth.OpenAuth{}
)

// Config tunes a Server. Start from DefaultConfig and change what you need; a
// zero field is not replaced by its default (New rejects invalid values), so
// that a test can, for example, set a tiny outbox on purpose.
type Config struct {
	// AllowedOrigins are the WebSocket Origin values accepted (scheme://host[:port]).
	// Empty means same host only; "*" accepts any. Requests without an Origin
	// header (non-browser clients) are always accepted.
	AllowedOrigins []string

	// MaxFrameBytes is the largest client frame; a larger one is closed with 1009.
	MaxFrameBytes int64
	// MaxDocBytes bounds a document's text in UTF-8 bytes; an op that would grow
	// it past this gets too_large.
	MaxDocBytes int
	// MaxOpBytes bounds an op's MessagePack encoding; past it: too_large.
	MaxOpBytes int
	// MaxDataBytes bounds a presence "data" map's encoding; past it: too_large.
	MaxDataBytes int

	// OpRate and OpBurst are the per-connection token bucket for ops (per second).
	OpRate  float64
	OpBurst int
	// PresenceRate and PresenceBurst are the per-connection bucket for presence.
	PresenceRate  float64
	PresenceBurst int

	// OpWindow is how many recent ops an actor keeps in memory: enough to
	// transform a lagging op, deduplicate a resubmission and answer a re-join
	// without reading the store.
	OpWindow int
	// OpWindowAge keeps, beyond OpWindow, every op committed within this long
	// of the newest one (0: count only), up to OpWindowMax ops: on a busy
	// document (1,500 ops/s of a canvas) OpWindow ops are under a second,
	// and an op that lags further (a stall of the machine, a slow network)
	// would otherwise make its batch read its history from the store.
	OpWindowAge time.Duration
	// OpWindowMax bounds the window kept for OpWindowAge (it holds up to
	// twice this many between trims).
	OpWindowMax int
	// OpWindowMaxBytes bounds it by the ops' sizes: past it an actor keeps
	// OpWindow ops only, so that big ops cannot make the age window a memory
	// sink.
	OpWindowMaxBytes int
	// MaxJoinOps is the largest gap a join with v is answered with ops rather
	// than the whole text.
	MaxJoinOps int
	// MaxBatch is the most messages an actor takes from its mailbox in one
	// round; the ops among them are committed with one store append.
	MaxBatch int
	// MailboxSize is the capacity of an actor's mailbox; a full mailbox makes
	// the senders (session read goroutines) wait, which is the back-pressure.
	MailboxSize int
	// AppendWorkers is the most store appends in flight at once, all
	// documents together: the goroutines of the server's append pool
	// (appendpool.go), started on demand. An actor has at most one append
	// in flight and never waits for a worker (its append queues), so this
	// bounds goroutines, not documents; it should let the store group as
	// many appends as it can take (the Postgres store: two committers of
	// up to 64 appends each). The memory store's appends do not use it.
	AppendWorkers int
	// CommitRetries bounds how often an actor re-transforms a batch after losing
	// a version race in the store before it answers internal.
	CommitRetries int
	// StoreTimeout bounds every store call an actor makes that may wait on
	// I/O: all but the appends of a store that never waits (the memory
	// store, inlineAppender), which go without a deadline.
	StoreTimeout time.Duration

	// PresenceInterval is how long presence changes are coalesced into one
	// presence message per document: at most one per interval, the first
	// change after a quiet interval at once, the later ones at its end.
	PresenceInterval time.Duration
	// IdleUnload is how long an actor with no subscribers stays loaded.
	IdleUnload time.Duration

	// PingPeriod is how often the server pings; PongWait how long it waits for
	// any frame (a pong included) before dropping the peer; WriteWait bounds one
	// frame write, so a stalled peer is dropped after it.
	PingPeriod time.Duration
	PongWait   time.Duration
	WriteWait  time.Duration

	// OutboxMaxBytes and OutboxMaxFrames bound what may wait for one connection
	// beyond the frames already handed to its writer; past either the connection
	// is closed with 1013 so that nothing is ever dropped silently.
	OutboxMaxBytes  int
	OutboxMaxFrames int
	// OutboxBudget bounds the bytes claimed by all connections' outboxes
	// together (queued plus handed to the writers); the claims never pass it,
	// and as they near it the connections with the largest claims are closed
	// with 1013 (outbox.go). The default is DefaultOutboxBudget: an eighth of
	// the memory the process may use.
	OutboxBudget int64
	// CoalesceMaxBytes bounds one coalesced array frame; a connection's writer
	// is handed at most 32 KiB at a time in any case (maxInflightBytes).
	CoalesceMaxBytes int
	// SocketSendBuffer is the kernel send buffer (SO_SNDBUF) of each
	// WebSocket's TCP connection, in bytes; 0 leaves the kernel's default and
	// its autotuning. Bounding it is what makes a client that stops reading
	// stop taking data within a few frames: with autotuning Linux lets one
	// socket take up to net.ipv4.tcp_wmem's maximum (4 MiB by default), so a
	// thousand stalled clients absorb seconds of a busy document's broadcast,
	// at the cost of the CPU of writing it, and gigabytes of kernel memory
	// that the outbox budget does not see (DefaultSocketSendBuffer). It also caps one
	// connection's throughput at about the buffer per round trip.
	SocketSendBuffer int
	// SocketNotSentLowat is TCP_NOTSENT_LOWAT of each WebSocket's TCP
	// connection (Linux, macOS): a write blocks while more than this many
	// bytes wait in the kernel unsent (the client's window is closed), so a
	// client that stops reading stops taking data; unlike SocketSendBuffer it
	// does not limit the bytes in flight on a long fat link. 0 leaves it unset.
	SocketNotSentLowat int
	// OutboxPacing stops handing frames to a connection's writer while its
	// client has not taken what the kernel holds for it: more than 32 KiB
	// plus what it is sent in a round trip, unacknowledged, unsent or left
	// unread in its receive window (Linux, from TCP_INFO; the rule is in
	// pacing.go): they wait in its outbox, where
	// the outbox bounds and budget count them, instead of filling the
	// kernel's buffers for a client that does not read, which costs a
	// socket write per frame and a wake-up of its writer per broadcast
	// (pacing.go; docs/benchmarks.md, issue 18). Off, frames go to the
	// kernel until its buffers are full.
	OutboxPacing bool

	// RESTRate and RESTBurst are the token bucket of the REST API per client
	// (a token's subject; in open mode, or without a valid token, the
	// client's address), in requests per second. RESTRate 0 turns the limit
	// off. Event streams count once, when they open.
	RESTRate  float64
	RESTBurst int
	// TrustedProxies are the addresses of reverse proxies whose
	// X-Forwarded-For the REST rate limit believes; empty means the header
	// is ignored and the peer's address is the client's.
	TrustedProxies []netip.Prefix

	// Authenticator decides who a connection is and what it may do. Nil means
	// open mode: everyone may read and write every document.
	Authenticator Authenticator

	// Bus connects this node to the other nodes serving the same store (a
	// bus.RedisBus, or a bus.LocalBus on a shared bus.LocalNetwork in tests).
	// Nil means single node: New makes a private LocalBus.
	Bus bus.Bus
	// Leases, with a Bus, gives each document one owner node that sequences
	// its ops; the others forward theirs to it (actor_owner.go). Its leases
	// last PresenceTTL/2, so another node takes over a dead owner's
	// documents within PresenceTTL. Nil (or no Bus) means no owners: every
	// node commits its clients' ops and the store's version check orders
	// them.
	Leases bus.Leaser
	// PresenceTTL is how long a peer relayed from another node stays without
	// that node's heartbeat (sent every third of it): the carets of a node
	// that died vanish after it.
	PresenceTTL time.Duration
}

// DefaultAppendWorkers is the default Config.AppendWorkers: enough for the
// Postgres store's two committers to each send a full group (2 x 64) while
// more appends queue.
const DefaultAppendWorkers = 256

// DefaultConfig returns the defaults of docs/protocol.md, section 9 "Limits",
// and generous rates for fast typing.
func DefaultConfig() Config {
	return Config{
		MaxFrameBytes:    1 << 20,
		MaxDocBytes:      8 << 20,
		MaxOpBytes:       1 << 20,
		MaxDataBytes:     1 << 10,
		OpRate:           200,
		OpBurst:          400,
		PresenceRate:     60,
		PresenceBurst:    120,
		OpWindow:         1000,
		OpWindowAge:      10 * time.Second,
		OpWindowMax:      20000,
		OpWindowMaxBytes: 32 << 20,
		MaxJoinOps:       1000,
		MaxBatch:         256,
		MailboxSize:      1024,
		AppendWorkers:    DefaultAppendWorkers,
		CommitRetries:    32,
		StoreTimeout:     10 * time.Second,
		PresenceInterval: 50 * time.Millisecond,
		IdleUnload:       30 * time.Second,
		PingPeriod:       25 * time.Second,
		PongWait:         60 * time.Second,
		WriteWait:        10 * time.Second,
		OutboxMaxBytes:   2 << 20,
		OutboxPacing:     true,
		OutboxBudget:     DefaultOutboxBudget(),
		OutboxMaxFrames:  8192,
		CoalesceMaxBytes: 1 << 20,
		SocketSendBuffer: DefaultSocketSendBuffer,
		PresenceTTL:      10 * time.Second,
		RESTRate:         50,
		RESTBurst:        100,
	}
}

// ErrConfig is wrapped by New for an invalid Config.
var ErrConfig = errors.New("invalid server config")

func (c Config) validate() error {
	pos := []struct {
		name string
		ok   bool
	}{
		{"MaxFrameBytes", c.MaxFrameBytes > 0},
		{"MaxDocBytes", c.MaxDocBytes > 0},
		{"MaxOpBytes", c.MaxOpBytes > 0},
		{"MaxDataBytes", c.MaxDataBytes > 0},
		{"OpRate", c.OpRate > 0},
		{"OpBurst", c.OpBurst > 0},
		{"PresenceRate", c.PresenceRate > 0},
		{"PresenceBurst", c.PresenceBurst > 0},
		{"OpWindow", c.OpWindow > 0},
		{"OpWindowAge", c.OpWindowAge >= 0},
		{"OpWindowMax", c.OpWindowMax >= c.OpWindow},
		{"OpWindowMaxBytes", c.OpWindowMaxBytes >= 0},
		{"MaxJoinOps", c.MaxJoinOps >= 0},
		{"MaxBatch", c.MaxBatch > 0},
		{"MailboxSize", c.MailboxSize > 0},
		{"AppendWorkers", c.AppendWorkers > 0},
		{"CommitRetries", c.CommitRetries > 0},
		{"StoreTimeout", c.StoreTimeout > 0},
		{"PresenceInterval", c.PresenceInterval > 0},
		{"IdleUnload", c.IdleUnload > 0},
		{"PingPeriod", c.PingPeriod > 0},
		{"PongWait", c.PongWait > c.PingPeriod},
		{"WriteWait", c.WriteWait > 0},
		{"OutboxMaxBytes", c.OutboxMaxBytes > 0},
		{"OutboxMaxFrames", c.OutboxMaxFrames > 0},
		{"OutboxBudget", c.OutboxBudget > 0},
		{"CoalesceMaxBytes", c.CoalesceMaxBytes > 0},
		{"SocketSendBuffer", c.SocketSendBuffer >= 0},
		{"SocketNotSentLowat", c.SocketNotSentLowat >= 0},
		{"PresenceTTL", c.PresenceTTL > 0},
		{"RESTRate", c.RESTRate >= 0},
		{"RESTBurst", c.RESTRate == 0 || c.RESTBurst > 0},
	}
	for _, p := range pos {
		if !p.ok {
			return fmt.Errorf("%w: %s out of range (PongWait must exceed PingPeriod; sizes, rates and durations must be positive)", ErrConfig, p.name)
		}
	}
	return nil
}
