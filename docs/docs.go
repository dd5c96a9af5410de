// Package docs embeds this folder's Markdown pages (the REST API, the wire
// protocol, the architecture, the benchmarks) so that a running server can
// serve them at /docs/ (package server/home): a newcomer who opens the
// server's address finds the documentation of exactly the version running.
package docs

import "embed"

// FS holds every *.md file of this folder, at its own name ("api.md").
//
//go:embed *.md
var FS embed.FS
