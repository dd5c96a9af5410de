package bus

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Leaser grants each document's ownership to one node at a time: the owner's
// actor sequences the document's ops, the other nodes forward theirs to it
// (server/actor_owner.go). A lease expires unless its holder extends it; each grant
// gets a fencing token larger than every earlier grant of the document, so a
// holder that lost the lease (paused, partitioned) is told apart from the
// current one.
//
//   - Claim takes doc's lease for node when nobody holds it (a new token),
//     extends it (same token, ttl from now) when node holds it, and in every
//     case returns the holder after the call. It never takes a lease another
//     node holds.
//   - Release gives the lease up if node still holds it with token; it is a
//     courtesy (a clean shutdown), the lease would expire anyway.
//
// Engines: RedisLeases (a key per document with PX expiry and an INCR
// counter, one Lua script per call) and LocalLeases (in-process, for several
// servers in one process). Both pass the contract suite in lease_test.go.
type Leaser interface {
	Claim(ctx context.Context, doc, node string, ttl time.Duration) (Lease, error)
	Release(ctx context.Context, doc, node string, token int64) error
}

// Lease is who holds a document's lease, under which fencing token.
type Lease struct {
	Node  string
	Token int64
}

// ErrLeaseUnavailable wraps a Leaser failure (the lease service cannot be
// reached): nobody knows who owns the document until it is back.
var ErrLeaseUnavailable = errors.New("lease service unavailable")

// RedisLeases keeps leases in Redis: key <prefix>lease:<doc> holds
// "<token> <node>" with a PX expiry, and <prefix>fence:<doc> is the counter
// the tokens come from (it outlives the lease, so tokens only grow; it is
// dropped a week after the last grant, when no node can remember a token).
// A token is never below Redis's clock in milliseconds, so tokens keep
// growing across a Redis restart that lost the counter.
type RedisLeases struct {
	client *redis.Client
	prefix string
}

var _ Leaser = (*RedisLeases)(nil)

// NewRedisLeases returns leases kept by client under prefix.
func NewRedisLeases(client *redis.Client, prefix string) *RedisLeases {
	return &RedisLeases{client: client, prefix: prefix}
}

// Leases returns the leases kept in the bus's Redis, under its prefix: a
// deployment that has the Redis bus gets its leases with no second
// connection to configure.
func (b *RedisBus) Leases() *RedisLeases { return NewRedisLeases(b.client, b.prefix) }

// claimScript: KEYS lease, fence; ARGV node, ttl ms. Returns the holder's
// "<token> <node>". Atomic in Redis, so two nodes never both take a free
// lease.
var claimScript = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if cur then
  local sp = string.find(cur, ' ', 1, true)
  if sp and string.sub(cur, sp + 1) == ARGV[1] then
    redis.call('PEXPIRE', KEYS[1], ARGV[2])
  end
  return cur
end
local tok = redis.call('INCR', KEYS[2])
local now = redis.call('TIME')
local floor = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
if tok < floor then
  redis.call('SET', KEYS[2], string.format('%.0f', floor))
  tok = floor
end
redis.call('PEXPIRE', KEYS[2], 604800000)
cur = string.format('%.0f', tok) .. ' ' .. ARGV[1]
redis.call('SET', KEYS[1], cur, 'PX', ARGV[2])
return cur
`)

// releaseScript: KEYS lease; ARGV "<token> <node>". Deletes only our own.
var releaseScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
`)

// Claim implements Leaser.
func (l *RedisLeases) Claim(ctx context.Context, doc, node string, ttl time.Duration) (Lease, error) {
	keys := []string{l.prefix + "lease:" + doc, l.prefix + "fence:" + doc}
	s, err := claimScript.Run(ctx, l.client, keys, node, max(ttl.Milliseconds(), 1)).Text()
	if err != nil {
		return Lease{}, fmt.Errorf("claim the lease of %q: %w: %v", doc, ErrLeaseUnavailable, err)
	}
	tok, holder, ok := strings.Cut(s, " ")
	t, perr := strconv.ParseInt(tok, 10, 64)
	if !ok || perr != nil || holder == "" {
		return Lease{}, fmt.Errorf("claim the lease of %q: malformed lease value %q", doc, s)
	}
	return Lease{Node: holder, Token: t}, nil
}

// Release implements Leaser.
func (l *RedisLeases) Release(ctx context.Context, doc, node string, token int64) error {
	v := strconv.FormatInt(token, 10) + " " + node
	if err := releaseScript.Run(ctx, l.client, []string{l.prefix + "lease:" + doc}, v).Err(); err != nil {
		return fmt.Errorf("release the lease of %q: %w: %v", doc, ErrLeaseUnavailable, err)
	}
	return nil
}

// LocalLeases is the in-process Leaser, shared by the servers of one
// process (tests), with the same semantics as RedisLeases.
type LocalLeases struct {
	mu     sync.Mutex
	leases map[string]localLease // guarded by mu
	fence  map[string]int64      // guarded by mu
	now    func() time.Time
}

type localLease struct {
	Lease
	until time.Time
}

var _ Leaser = (*LocalLeases)(nil)

// NewLocalLeases returns an empty set of leases.
func NewLocalLeases() *LocalLeases {
	return &LocalLeases{leases: make(map[string]localLease), fence: make(map[string]int64), now: time.Now}
}

// Claim implements Leaser.
func (l *LocalLeases) Claim(ctx context.Context, doc, node string, ttl time.Duration) (Lease, error) {
	if err := ctx.Err(); err != nil {
		return Lease{}, fmt.Errorf("claim the lease of %q: %w: %v", doc, ErrLeaseUnavailable, err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	cur, ok := l.leases[doc]
	if ok && now.Before(cur.until) {
		if cur.Node == node {
			cur.until = now.Add(ttl)
			l.leases[doc] = cur
		}
		return cur.Lease, nil
	}
	l.fence[doc]++
	cur = localLease{Lease: Lease{Node: node, Token: l.fence[doc]}, until: now.Add(ttl)}
	l.leases[doc] = cur
	return cur.Lease, nil
}

// Release implements Leaser.
func (l *LocalLeases) Release(_ context.Context, doc, node string, token int64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if cur, ok := l.leases[doc]; ok && cur.Node == node && cur.Token == token {
		delete(l.leases, doc)
	}
	return nil
}
