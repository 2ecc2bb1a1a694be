package lookup

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"mapgate/internal/testdb"
	"mapgate/socketmap"
)

// The audit's own fix (the key column converted to utf8mb4) applied while
// mapgate runs, then a row only utf8mb4 can hold: the row is found soon
// after, never the domain's catch-all in its place for long, and a flood of
// such keys before the change costs the database about one confirmation
// query a second, not one per key.
func TestSchemaChangeSeenSoon(t *testing.T) {
	srv := sharedServer(t)
	srv.MustExec(t, "DROP DATABASE IF EXISTS fresh;"+testdb.Schema("fresh", "latin1", "latin1_general_ci"))
	hosts := []string{"inet:" + srv.Addr()}
	s := loadSet(t, hosts, PoolOptions{}, nil,
		mapDef{name: "exact", db: "fresh", body: qAlias, opts: &MapOptions{FoldCase: true, SMTPUTF8: true}},
		mapDef{name: "virtual_alias", db: "fresh", body: qAlias})
	require.Equal(t, socketmap.NotFound(), lookupReply(t, s, "exact", "ほげ@example.jp"))
	require.Equal(t, socketmap.OK("catchall@example.jp"), lookupReply(t, s, "virtual_alias", "ほげ@example.com"))

	// A flood of unrepresentable keys from 16 clients for 3 s.
	before, err := srv.GlobalStatus("Com_select")
	require.NoError(t, err)
	const clients, flood = 16, 3 * time.Second
	var wg sync.WaitGroup
	var lookups, wrong atomic.Int64
	start := time.Now()
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			for i := 0; time.Since(start) < flood; i++ {
				key := fmt.Sprintf("ほげ%d-%d@example.jp", c, i)
				if lookupReply(t, s, "exact", key) != socketmap.NotFound() {
					wrong.Add(1)
				}
				lookups.Add(1)
			}
		}(c)
	}
	wg.Wait()
	elapsed := time.Since(start)
	after, err := srv.GlobalStatus("Com_select")
	require.NoError(t, err)
	extra := after - before
	t.Logf("flood: %d lookups in %v from %d clients cost %d queries (%.2f/s)", lookups.Load(), elapsed.Round(time.Millisecond), clients, extra, float64(extra)/elapsed.Seconds())
	assert.Zero(t, wrong.Load())
	assert.LessOrEqual(t, extra, int64(elapsed/ConfirmEvery)+2, "at most one confirmation a second for the table")

	// The fix, and a row it makes possible.
	srv.MustExec(t, `ALTER TABLE fresh.alias CONVERT TO CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci;
INSERT INTO fresh.alias (address, goto, domain) VALUES ('ほげ@example.jp', 'hoge@example.jp', 'example.jp'), ('ほげ@example.com', 'hoge-com@example.jp', 'example.com');`)
	changed := time.Now()
	var exactAt, aliasAt time.Duration
	for time.Since(changed) < 10*time.Second && (exactAt == 0 || aliasAt == 0) {
		if exactAt == 0 && lookupReply(t, s, "exact", "ほげ@example.jp") == socketmap.OK("hoge@example.jp") {
			exactAt = time.Since(changed)
		}
		if aliasAt == 0 && lookupReply(t, s, "virtual_alias", "ほげ@example.com") == socketmap.OK("hoge-com@example.jp") {
			aliasAt = time.Since(changed)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("after the ALTER: the new row found in %v (exact map), %v (instead of the catch-all)", exactAt.Round(time.Millisecond), aliasAt.Round(time.Millisecond))
	assert.NotZero(t, exactAt, "the new row was not found within 10 s of the ALTER")
	assert.NotZero(t, aliasAt, "the catch-all still answered 10 s after the ALTER")

	// And back: the column converted to latin1 again (the new rows go
	// first): representable keys keep their answers.
	srv.MustExec(t, `DELETE FROM fresh.alias WHERE address LIKE 'ほげ@%';
ALTER TABLE fresh.alias CONVERT TO CHARACTER SET latin1 COLLATE latin1_general_ci;`)
	assert.Equal(t, socketmap.OK("bob@example.jp"), lookupReply(t, s, "exact", "bob@example.jp"))
}
