// Package bus is what the Tandem nodes serving one store share besides the
// store: a best-effort publish/subscribe transport between them (Bus) and a
// lease per document that names the node sequencing it (Leaser).
//
// Each has two engines, in-process (LocalBus on a LocalNetwork, LocalLeases:
// the single-node default, and several servers in one process in tests) and
// Redis (RedisBus, RedisLeases: several processes). The interfaces live here,
// next to their engines, rather than in the server that uses them, for the
// reason the store keeps Store in package store: two engines and one contract
// suite share each contract, and the contract is written once, in the
// interface's doc comment. The server stays the only user; it knows what its
// payloads mean (server/actor_bus.go), the bus never looks inside them.
//
// Both bus engines keep their subscriptions and call their subscribers
// through one fan-out (fanout.go): the registry of who listens to which
// topic, the copy of a payload per extra subscription, BusLost to a set of
// subscriptions, and the cancel that waits for a call in progress. The
// engines differ only in how a message reaches the fan-out: a queue and a
// delivery goroutine per LocalBus, the receiver goroutine of a Redis
// subscriber connection per RedisBus.
//
// Locks: each engine has mu (its state and the fan-out's registry) and
// deliverMu (held while a subscriber is being called, so that cancel can wait
// for the call in progress). Where both are held, deliverMu is taken first,
// then mu; a subscriber is never called with mu held. LocalNetwork.mu is
// taken only with neither held.
package bus
