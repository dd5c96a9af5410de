// Package wire is the MessagePack codec of the Tandem WebSocket protocol
// (docs/protocol.md, sections 4-5), used by the server and by the Go client.
//
// Client frames are untrusted. DecodeClient never allocates by what a
// MessagePack header claims: before anything is decoded, one structural pass
// checks every container count and every str/bin/ext length against the bytes
// that remain in the frame, bounds the nesting depth and rejects trailing
// bytes. This matters because vmihailenco/msgpack/v5 preallocates by the
// claimed count (its slice decoder ignores its own sliceAllocLimit, maps are
// presized up to 1e6 entries and strings up to 1 MiB), so a 10-byte frame
// claiming an array32 of 2^32-1 items would otherwise allocate gigabytes.
//
// Messages are encoded by appenders generated from their schemas (schema.go,
// schema_gen.go) into a pooled scratch buffer and returned as exact-size frames, so one broadcast is encoded once and
// the same []byte is queued to every receiver. EncodeBatch joins already encoded
// maps into one array frame without re-encoding them.
package wire
