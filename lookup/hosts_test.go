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
	r := s.Lookup(ctx, name, key)
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
	waitFor(t, "host A quarantined", 10*time.Second, func() bool { return s.Pools().hostQuarantined("tcp:" + a.Addr()) })
	time.Sleep(2 * time.Second)
	require.NoError(t, a.Start())
	l.Stop()
	l.assertAllAnswered(t, "host A killed and restarted")
	require.True(t, s.Pools().hostQuarantined("tcp:"+a.Addr()), "host A should still be quarantined for this test")

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

// hostQuarantined reports whether the named host ("tcp:127.0.0.1:3306")
// is quarantined now.
func (p *Pools) hostQuarantined(name string) bool {
	p.mu.Lock()
	h, ok := p.hosts[name]
	p.mu.Unlock()
	return ok && h.quarantined(time.Now())
}
