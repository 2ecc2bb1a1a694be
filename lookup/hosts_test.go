package lookup

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sony/gobreaker/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"mapgate/internal/testdb"
	"mapgate/smfront"
	"mapgate/socketmap"
)

// load is a stream of lookups on many goroutines, as Postfix's processes
// send them, with a deadline per lookup: it counts each kind of answer and
// keeps the slowest.
type load struct {
	ok, notfound, temp, timeout, wrong atomic.Int64
	slowest                            atomic.Int64 // nanoseconds
	firstBad                           atomic.Value
	stop                               chan struct{}
	wg                                 sync.WaitGroup
}

// startLoad runs workers goroutines of lookups on map name until Stop.
// Keys cycle through a known one (shared by every worker), unknown ones
// (distinct) and one that cannot be stored (its catch-all is asked).
func startLoad(s *Set, name string, workers int, deadline time.Duration) *load {
	l := &load{stop: make(chan struct{})}
	for w := 0; w < workers; w++ {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for i := 0; i < 1_000_000; i++ {
				select {
				case <-l.stop:
					return
				default:
				}
				key, want := "bob@example.jp", socketmap.OK("bob@example.jp")
				switch i % 3 {
				case 1:
					key, want = fmt.Sprintf("nobody%d.%d@example.jp", w, i), socketmap.NotFound()
				case 2:
					key, want = "ほげ@example.jp", socketmap.NotFound()
				}
				l.record(s, name, key, want, deadline)
			}
		}()
	}
	return l
}

func (l *load) record(s *Set, name, key string, want socketmap.Reply, deadline time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	start := time.Now()
	r := smfront.Reply(s.Lookup(ctx, name, key))
	took := time.Since(start)
	cancel()
	for {
		old := l.slowest.Load()
		if int64(took) <= old || l.slowest.CompareAndSwap(old, int64(took)) {
			break
		}
	}
	switch {
	case r == want && r.Status == socketmap.StatusOK:
		l.ok.Add(1)
		return
	case r == want:
		l.notfound.Add(1)
		return
	case r.Status == socketmap.StatusTemp:
		l.temp.Add(1)
	case r.Status == socketmap.StatusTimeout:
		l.timeout.Add(1)
	default:
		l.wrong.Add(1)
	}
	l.firstBad.CompareAndSwap(nil, fmt.Sprintf("%q → %v after %v, want %v", key, r, took.Round(time.Millisecond), want))
}

// Stop ends the stream and waits for its lookups.
func (l *load) Stop() {
	close(l.stop)
	l.wg.Wait()
}

func (l *load) answered() int64 { return l.ok.Load() + l.notfound.Load() }

func (l *load) String() string {
	return fmt.Sprintf("ok=%d notfound=%d temp=%d timeout=%d wrong=%d slowest=%v",
		l.ok.Load(), l.notfound.Load(), l.temp.Load(), l.timeout.Load(), l.wrong.Load(),
		time.Duration(l.slowest.Load()).Round(time.Millisecond))
}

// assertAllAnswered: no lookup got anything but its right answer.
func (l *load) assertAllAnswered(t *testing.T, when string) {
	t.Helper()
	t.Logf("%s: %s", when, l)
	assert.Zero(t, l.wrong.Load(), "%s: wrong answers: %v", when, l.firstBad.Load())
	assert.Zero(t, l.temp.Load(), "%s: TEMP although a host was healthy: %v", when, l.firstBad.Load())
	assert.Zero(t, l.timeout.Load(), "%s: TIMEOUT although a host was healthy: %v", when, l.firstBad.Load())
}

// TestStalledHostManyClients: with the first host stalled (SIGSTOP) and 64
// clients, every lookup fails over to the healthy host within its
// deadline: waiting for one of the stalled host's connections, connecting
// and preparing all count against the attempt's QueryTimeout. The lookup
// deadline is 3 × QueryTimeout (Postfix's default ratio is 5 s to 2 s).
func TestStalledHostManyClients(t *testing.T) {
	a, b := twoHosts(t)
	po := PoolOptions{DialTimeout: 500 * time.Millisecond, QueryTimeout: 500 * time.Millisecond,
		BreakerTimeout: 2 * time.Second, TripAfter: 3}
	s := loadSet(t, []string{"inet:" + a.Addr(), "inet:" + b.Addr()}, po, nil,
		mapDef{name: "virtual_alias", db: "postfix", body: qAlias})
	deadline := 3 * po.QueryTimeout

	l := startLoad(s, "virtual_alias", 64, deadline)
	waitFor(t, "traffic", 10*time.Second, func() bool { return l.answered() > 500 })
	require.NoError(t, a.Pause())
	defer a.Resume()
	before := l.answered()
	// Long enough for A's breaker to open and for a probe to find it still
	// stalled.
	time.Sleep(po.BreakerTimeout + 3*po.QueryTimeout)
	waitFor(t, "traffic while A is stalled", 20*time.Second, func() bool { return l.answered() > before+2000 })
	l.Stop()
	l.assertAllAnswered(t, "host A stalled, 64 clients")
	// Generous: an attempt on the stalled host, then one on the healthy
	// host of a loaded machine.
	assert.LessOrEqual(t, time.Duration(l.slowest.Load()), 2*po.QueryTimeout, "slowest answer")
}

// TestQuarantinedHostIsTried: host A is killed during a stream and
// restarted two seconds later, still quarantined; then host B stalls. The
// lookups that find B broken try A before answering TEMP: none is TEMP.
func TestQuarantinedHostIsTried(t *testing.T) {
	a, b := twoHosts(t)
	po := PoolOptions{DialTimeout: 500 * time.Millisecond, QueryTimeout: 500 * time.Millisecond,
		BreakerTimeout: 20 * time.Second, TripAfter: 3}
	s := loadSet(t, []string{"inet:" + a.Addr(), "inet:" + b.Addr()}, po, nil,
		mapDef{name: "virtual_alias", db: "postfix", body: qAlias})
	deadline := 3 * po.QueryTimeout

	l := startLoad(s, "virtual_alias", 8, deadline)
	waitFor(t, "traffic", 10*time.Second, func() bool { return l.answered() > 300 })
	require.NoError(t, a.Kill())
	waitFor(t, "host A quarantined", 10*time.Second, func() bool { return s.Pools().Quarantined("tcp:" + a.Addr()) })
	time.Sleep(2 * time.Second)
	require.NoError(t, a.Start())
	l.Stop()
	l.assertAllAnswered(t, "host A killed and restarted")
	require.True(t, s.Pools().Quarantined("tcp:"+a.Addr()), "host A should still be quarantined for this test")

	l = startLoad(s, "virtual_alias", 8, deadline)
	waitFor(t, "traffic", 10*time.Second, func() bool { return l.answered() > 300 })
	require.NoError(t, b.Pause())
	defer b.Resume()
	before := l.answered()
	time.Sleep(3 * po.QueryTimeout)
	waitFor(t, "traffic while B is stalled", 20*time.Second, func() bool { return l.answered() > before+1000 })
	l.Stop()
	l.assertAllAnswered(t, "host B stalled, host A back but quarantined")
}

// qSlow sleeps a second per lookup, whatever the key (the derived table is
// read once per query).
const qSlow = "query = SELECT a.goto FROM alias a JOIN (SELECT SLEEP(1) AS s) z WHERE a.address='%s'"

// TestSlowMapDoesNotStarveOthers: a map whose query takes a second, with
// three times as many callers as it has connections, leaves virtual_alias
// on the same host its own connections: virtual_alias keeps answering
// while every slow query is still running. The slow map's callers that
// queue past their QueryTimeout get TEMP, and do not open the host's
// breaker: the host answers; the slowness is the map's.
func TestSlowMapDoesNotStarveOthers(t *testing.T) {
	srv := sharedServer(t)
	s := loadSet(t, []string{"inet:" + srv.Addr()}, PoolOptions{MaxOpen: 4, QueryTimeout: 1500 * time.Millisecond, TripAfter: 1}, nil,
		mapDef{name: "virtual_alias", db: "postfix", body: qAlias},
		mapDef{name: "slow", db: "postfix", body: qSlow, opts: &MapOptions{}})
	require.Equal(t, socketmap.OK("bob@example.jp"), lookupReply(t, s, "virtual_alias", "bob@example.jp"))

	var slowDone, slowTemp atomic.Int64
	var wg sync.WaitGroup
	for i := 0; i < 12; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := lookupReply(t, s, "slow", fmt.Sprintf("slow%d@example.jp", i))
			if r.Status == socketmap.StatusTemp {
				slowTemp.Add(1)
			} else {
				assert.Equal(t, socketmap.NotFound(), r)
			}
			slowDone.Add(1)
		}()
	}
	// Until the first slow query returns, every connection of the slow map
	// is taken by a sleeping query and its other callers queue.
	waitFor(t, "the slow map's connections all sleeping", 10*time.Second, func() bool { return sleeping(t, srv) >= 4 })
	answered := 0
	for i := 0; i < 1_000_000 && slowDone.Load() == 0; i++ {
		require.Equal(t, socketmap.NotFound(), lookupReply(t, s, "virtual_alias", fmt.Sprintf("nobody%d@example.jp", i)))
		if slowDone.Load() == 0 {
			answered++
		}
	}
	wg.Wait()
	t.Logf("virtual_alias answered %d lookups while the slow map's queries ran; the slow map's queue: %d TEMP of 12", answered, slowTemp.Load())
	assert.Greater(t, answered, 10)
	for _, h := range s.Pools().Hosts() {
		assert.Equal(t, gobreaker.StateClosed, h.State, "breaker of %s", h.Host)
	}
	require.Equal(t, socketmap.OK("bob@example.jp"), lookupReply(t, s, "virtual_alias", "bob@example.jp"))
}

// sleeping counts the server's queries in SLEEP().
func sleeping(t *testing.T, srv *testdb.Server) int {
	db, err := sql.Open("mysql", srv.RootDSN(""))
	require.NoError(t, err)
	defer db.Close()
	var n int
	require.NoError(t, db.QueryRow("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE STATE = 'User sleep'").Scan(&n))
	return n
}

// TestStalledHostBeforeFirstUse: host A is stalled before the map has
// prepared its statement there. With connections to spare (pool_size 64),
// 32 clients each prepare on A at once, none waits behind another's
// prepare (no lock is held across the round trip), and all fail over to B
// within their deadline.
func TestStalledHostBeforeFirstUse(t *testing.T) {
	a, b := twoHosts(t)
	require.NoError(t, a.Pause())
	defer a.Resume()
	po := PoolOptions{MaxOpen: 64, DialTimeout: 500 * time.Millisecond, QueryTimeout: 500 * time.Millisecond,
		BreakerTimeout: 2 * time.Second, TripAfter: 3}
	s := loadSet(t, []string{"inet:" + a.Addr(), "inet:" + b.Addr()}, po, nil,
		mapDef{name: "virtual_alias", db: "postfix", body: qAlias})
	deadline := 3 * po.QueryTimeout

	l := startLoad(s, "virtual_alias", 32, deadline)
	time.Sleep(3 * po.QueryTimeout)
	waitFor(t, "traffic", 20*time.Second, func() bool { return l.answered() > 1000 })
	l.Stop()
	l.assertAllAnswered(t, "host A stalled from the start, 32 clients")
	assert.LessOrEqual(t, time.Duration(l.slowest.Load()), 2*po.QueryTimeout, "slowest answer")
}
