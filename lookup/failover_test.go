package lookup

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"mapgate/internal/testdb"
	"mapgate/smfront"
	"mapgate/socketmap"
)

// twoHosts starts two private servers with the same latin1 data.
func twoHosts(t *testing.T) (*testdb.Server, *testdb.Server) {
	t.Helper()
	if testing.Short() {
		t.Skip("needs private MariaDB servers (not in -short)")
	}
	a, b := testdb.Start(t), testdb.Start(t)
	for _, s := range []*testdb.Server{a, b} {
		s.MustExec(t, testdb.Schema("postfix", "latin1", "latin1_general_ci"))
	}
	return a, b
}

// faultPool is tuned so faults show within a test's time.
var faultPool = PoolOptions{DialTimeout: 500 * time.Millisecond, QueryTimeout: 500 * time.Millisecond,
	BreakerTimeout: time.Second, TripAfter: 2}

// stream runs lookups of known and unknown keys on several goroutines until
// stop is closed (or n lookups each), and counts answers.
type streamResult struct {
	ok, notfound, temp, wrong atomic.Int64
	firstWrong                atomic.Value
}

func runStream(t *testing.T, s *Set, workers, n int, stop <-chan struct{}) *streamResult {
	t.Helper()
	res := &streamResult{}
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < n; i++ {
				select {
				case <-stop:
					return
				default:
				}
				key, want := "bob@example.jp", socketmap.OK("bob@example.jp")
				switch i % 3 {
				case 1:
					key, want = fmt.Sprintf("nobody%d@example.jp", i), socketmap.NotFound()
				case 2:
					key, want = "ほげ@example.jp", socketmap.NotFound()
				}
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				r := smfront.Reply(s.Lookup(ctx, "virtual_alias", key))
				cancel()
				switch {
				case r == want && r.Status == socketmap.StatusOK:
					res.ok.Add(1)
				case r == want:
					res.notfound.Add(1)
				case r.Status == socketmap.StatusTemp || r.Status == socketmap.StatusTimeout:
					res.temp.Add(1)
				default:
					res.wrong.Add(1)
					res.firstWrong.CompareAndSwap(nil, fmt.Sprintf("%q → %v, want %v", key, r, want))
				}
			}
		}()
	}
	t.Cleanup(wg.Wait)
	go func() { wg.Wait() }()
	return res
}

func waitFor(t *testing.T, what string, limit time.Duration, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for time.Since(start) < limit {
		if cond() {
			return time.Since(start)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s: not within %v", what, limit)
	return 0
}

// TestFailoverKillAndStall cuts the first host (SIGKILL) and stalls it
// (SIGSTOP) during streams of lookups: no lookup is lost or answered wrongly.
// With both hosts gone an existing key gets TEMP, never NOTFOUND; a host
// that returns is used again.
func TestFailoverKillAndStall(t *testing.T) {
	a, b := twoHosts(t)
	hosts := []string{"inet:" + a.Addr(), "inet:" + b.Addr()}
	s := loadSet(t, hosts, faultPool, nil, mapDef{name: "virtual_alias", db: "postfix", body: qAlias},
		mapDef{name: "exact", db: "postfix", body: qAlias, opts: &MapOptions{}})

	// 1. SIGKILL host A in the middle of a stream.
	stop := make(chan struct{})
	res := runStream(t, s, 4, 3000, stop)
	waitFor(t, "traffic", 10*time.Second, func() bool { return res.ok.Load() > 100 })
	require.NoError(t, a.Kill())
	before := res.ok.Load()
	waitFor(t, "traffic after the kill", 20*time.Second, func() bool { return res.ok.Load() > before+300 })
	close(stop)
	time.Sleep(100 * time.Millisecond)
	assert.Zero(t, res.wrong.Load(), "wrong answers after SIGKILL: %v", res.firstWrong.Load())
	assert.Zero(t, res.temp.Load(), "lookups lost (TEMP) although host B was up")
	t.Logf("SIGKILL of host A: ok=%d notfound=%d temp=%d wrong=%d", res.ok.Load(), res.notfound.Load(), res.temp.Load(), res.wrong.Load())

	// 2. Host A returns and is used again (after its breaker's timeout).
	require.NoError(t, a.Start())
	comAStart, err := a.GlobalStatus("Com_stmt_execute")
	require.NoError(t, err)
	recoverStart := time.Now()
	waitFor(t, "host A back in use", 20*time.Second, func() bool {
		lookupReply(t, s, "virtual_alias", "bob@example.jp")
		n, err := a.GlobalStatus("Com_stmt_execute")
		return err == nil && n > comAStart
	})
	t.Logf("host A back in use %v after it restarted (breaker timeout %v)", time.Since(recoverStart).Round(time.Millisecond), faultPool.BreakerTimeout)

	// 3. SIGSTOP host A during a stream: lookups fail over after the
	// per-attempt timeout.
	stop = make(chan struct{})
	res = runStream(t, s, 4, 3000, stop)
	waitFor(t, "traffic", 10*time.Second, func() bool { return res.ok.Load() > 100 })
	require.NoError(t, a.Pause())
	before = res.ok.Load()
	waitFor(t, "traffic while A is stalled", 30*time.Second, func() bool { return res.ok.Load() > before+300 })
	close(stop)
	time.Sleep(100 * time.Millisecond)
	require.NoError(t, a.Resume())
	assert.Zero(t, res.wrong.Load(), "wrong answers after SIGSTOP: %v", res.firstWrong.Load())
	assert.Zero(t, res.temp.Load(), "lookups lost (TEMP) although host B was up")
	t.Logf("SIGSTOP of host A: ok=%d notfound=%d temp=%d wrong=%d", res.ok.Load(), res.notfound.Load(), res.temp.Load(), res.wrong.Load())

	// 4. Both hosts gone: TEMP, never NOTFOUND, within the deadline.
	require.NoError(t, a.Kill())
	require.NoError(t, b.Kill())
	for i := 0; i < 5; i++ {
		start := time.Now()
		r := lookupReply(t, s, "virtual_alias", "bob@example.jp")
		took := time.Since(start)
		assert.Contains(t, []socketmap.Status{socketmap.StatusTemp, socketmap.StatusTimeout}, r.Status, "both hosts down: %v", r)
		t.Logf("both hosts down, lookup %d: %v in %v", i, r, took.Round(time.Millisecond))
	}
	// Unknown keys too: the database could not say no.
	assert.Equal(t, socketmap.StatusTemp, lookupReply(t, s, "virtual_alias", "nobody@example.jp").Status)
	// With the address search, ほげ@example.jp's own row cannot exist, but
	// its @example.jp catch-all could: TEMP.
	assert.Equal(t, socketmap.StatusTemp, lookupReply(t, s, "virtual_alias", "ほげ@example.jp").Status)
	// Without it, the key provably cannot match the schema as it was last
	// seen; with every host down nobody can confirm the schema is still
	// that one (see ConfirmEvery): TEMP, never a NOTFOUND on old facts.
	time.Sleep(ConfirmEvery)
	assert.Equal(t, socketmap.StatusTemp, lookupReply(t, s, "exact", "ほげ@example.jp").Status)

	// 5. Host B returns: lookups recover.
	require.NoError(t, b.Start())
	recoverStart = time.Now()
	waitFor(t, "recovery after host B returned", 20*time.Second, func() bool {
		return lookupReply(t, s, "virtual_alias", "bob@example.jp") == socketmap.OK("bob@example.jp")
	})
	t.Logf("recovered %v after host B restarted", time.Since(recoverStart).Round(time.Millisecond))
}

// TestAllHostsStalled: with every host stalled, an existing key gets TEMP or
// TIMEOUT within the lookup deadline, never NOTFOUND.
func TestAllHostsStalled(t *testing.T) {
	a, b := twoHosts(t)
	hosts := []string{"inet:" + a.Addr(), "inet:" + b.Addr()}
	s := loadSet(t, hosts, faultPool, nil, mapDef{name: "virtual_alias", db: "postfix", body: qAlias})
	require.Equal(t, socketmap.OK("bob@example.jp"), lookupReply(t, s, "virtual_alias", "bob@example.jp"))
	require.NoError(t, a.Pause())
	require.NoError(t, b.Pause())
	defer a.Resume()
	defer b.Resume()
	for i := 0; i < 4; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		start := time.Now()
		r := smfront.Reply(s.Lookup(ctx, "virtual_alias", "bob@example.jp"))
		cancel()
		assert.Contains(t, []socketmap.Status{socketmap.StatusTemp, socketmap.StatusTimeout}, r.Status, "%v", r)
		t.Logf("all hosts stalled, lookup %d: %v in %v", i, r, time.Since(start).Round(time.Millisecond))
	}
}
