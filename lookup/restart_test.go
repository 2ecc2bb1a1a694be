package lookup

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"mapgate/internal/testdb"
	"mapgate/smfront"
	"mapgate/socketmap"
)

// TestOnlyHostRestartedIdleConns: the map's only host is restarted while
// its pool holds idle connections (each one the server has closed). Every
// lookup after the restart answers: a connection the server closed is found
// dead before its query is sent (or fails without having sent it) and the
// query goes on a fresh one. A TEMP here would be a TEMP for a healthy
// host. Then the host stalls (SIGSTOP) during a stream: lookups are TEMP
// (no host can answer), and once it resumes every lookup gets its own
// key's answer, never one read for a query that timed out on a
// connection that was kept.
func TestOnlyHostRestartedIdleConns(t *testing.T) {
	if testing.Short() {
		t.Skip("needs a private MariaDB server (not in -short)")
	}
	a := testdb.Start(t)
	a.MustExec(t, testdb.Schema("postfix", "latin1", "latin1_general_ci"))
	po := PoolOptions{DialTimeout: 500 * time.Millisecond, QueryTimeout: 500 * time.Millisecond,
		BreakerTimeout: 200 * time.Millisecond, TripAfter: 1000}
	s := loadSet(t, []string{"inet:" + a.Addr()}, po, nil,
		mapDef{name: "virtual_alias", db: "postfix", body: qAlias})
	deadline := 3 * po.QueryTimeout

	// Fill the pool with idle connections.
	l := startLoad(s, "virtual_alias", 8, deadline)
	waitFor(t, "traffic", 10*time.Second, func() bool { return l.answered() > 300 })
	l.Stop()
	l.assertAllAnswered(t, "before the restart")

	for _, how := range []string{"stop", "kill"} {
		if how == "stop" {
			require.NoError(t, a.Stop())
		} else {
			require.NoError(t, a.Kill())
		}
		require.NoError(t, a.Start())
		l = startLoad(s, "virtual_alias", 8, deadline)
		waitFor(t, "traffic after the restart", 10*time.Second, func() bool { return l.answered() > 300 })
		l.Stop()
		l.assertAllAnswered(t, "host "+how+" and start again, idle connections left from before")
	}

	l = startLoad(s, "virtual_alias", 8, deadline)
	waitFor(t, "traffic", 10*time.Second, func() bool { return l.answered() > 300 })
	require.NoError(t, a.Pause())
	time.Sleep(3 * po.QueryTimeout)
	require.NoError(t, a.Resume())
	before := l.answered()
	waitFor(t, "traffic after the stall", 20*time.Second, func() bool { return l.answered() > before+1000 })
	l.Stop()
	t.Logf("stalled and resumed: %s", l)
	assert.Zero(t, l.wrong.Load(), "wrong answers after a stall: %v", l.firstBad.Load())
	// Once resumed, every lookup answers.
	for i := range 200 {
		key, want := "bob@example.jp", socketmap.OK("bob@example.jp")
		if i%2 == 1 {
			key, want = "nobody@example.jp", socketmap.NotFound()
		}
		ctx, cancel := context.WithTimeout(context.Background(), deadline)
		r := smfront.Reply(s.Lookup(ctx, "virtual_alias", key))
		cancel()
		require.Equal(t, want, r, "lookup %d of %q after the stall", i, key)
	}
}
