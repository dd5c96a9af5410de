package tree

import (
	"context"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/tandem-collab/tandem/internal/testkit"
)

// BenchmarkSnapshotPostgres measures the two ways a tree snapshot could be
// kept in Postgres: the content's MessagePack in a bytea column (what
// joined carries, so a load sends it on as it is) or its JSON in a jsonb
// column. For each: the time to encode and INSERT one snapshot, the time to
// SELECT and decode it, the bytes encoded and the bytes Postgres stores
// (pg_column_size, after TOAST compression). Needs the test Postgres
// (TANDEM_TEST_DATABASE_URL); it fails, never skips, when that is down.
func BenchmarkSnapshotPostgres(b *testing.B) {
	ctx := context.Background()
	schema := testkit.Schema(b)
	conn, err := pgx.Connect(ctx, testkit.WithSearchPath(b, testkit.DatabaseURL(), schema))
	if err != nil {
		b.Fatalf("connect: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `CREATE TABLE snap_mp (id bigserial PRIMARY KEY, body bytea NOT NULL);
		CREATE TABLE snap_js (id bigserial PRIMARY KEY, body jsonb NOT NULL)`); err != nil {
		b.Fatal(err)
	}
	for _, n := range []int{10_000, 100_000} {
		c, _ := benchContent(b, n)
		formats := []struct {
			name, table, column string
			encode              func() (any, int)
			decode              func(row pgx.Row) error
		}{
			{"msgpack-bytea", "snap_mp", "body",
				func() (any, int) { enc, _ := c.MarshalMsgpack(); return enc, len(enc) },
				func(row pgx.Row) error {
					var body []byte
					if err := row.Scan(&body); err != nil {
						return err
					}
					_, err := DecodeContent(body, Limits{})
					return err
				}},
			{"json-jsonb", "snap_js", "body::text",
				func() (any, int) { enc, _ := c.MarshalJSON(); return string(enc), len(enc) },
				func(row pgx.Row) error {
					var body string
					if err := row.Scan(&body); err != nil {
						return err
					}
					_, err := ParseContentJSON([]byte(body), Limits{})
					return err
				}},
		}
		for _, f := range formats {
			var lastID int64
			b.Run(fmt.Sprintf("write/%s/objects=%d", f.name, n), func(b *testing.B) {
				encoded := 0
				loop(b, func() {
					body, size := f.encode()
					encoded = size
					if err := conn.QueryRow(ctx, "INSERT INTO "+f.table+" (body) VALUES ($1) RETURNING id", body).Scan(&lastID); err != nil {
						b.Fatal(err)
					}
				})
				var stored int64
				if err := conn.QueryRow(ctx, "SELECT pg_column_size(body) FROM "+f.table+" WHERE id = $1", lastID).Scan(&stored); err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(float64(encoded), "encoded-B")
				b.ReportMetric(float64(stored), "stored-B")
			})
			b.Run(fmt.Sprintf("read/%s/objects=%d", f.name, n), func(b *testing.B) {
				loop(b, func() {
					if err := f.decode(conn.QueryRow(ctx, "SELECT "+f.column+" FROM "+f.table+" WHERE id = $1", lastID)); err != nil {
						b.Fatal(err)
					}
				})
			})
		}
	}
}
