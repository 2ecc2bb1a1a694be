package lookup

import (
	"context"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"mapgate/smfront"
	"mapgate/socketmap"
)

// measuring skips a measurement unless MAPGATE_MEASURE is set: these runs
// take long and report figures; they assert nothing about timing.
func measuring(t *testing.T) {
	t.Helper()
	if os.Getenv("MAPGATE_MEASURE") == "" {
		t.Skip("measurement: set MAPGATE_MEASURE=1 to run")
	}
}

// hammer runs lookups of distinct keys (nothing shared) on workers
// goroutines for d and returns the answers per second and the count of
// answers that were not NOTFOUND.
func hammer(s *Set, name string, workers int, d time.Duration) (perSec float64, bad int64) {
	var n, errs atomic.Int64
	var seq atomic.Int64
	stop := time.Now().Add(d)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(stop) {
				key := fmt.Sprintf("nobody%d@example.jp", seq.Add(1))
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				r := smfront.Reply(s.Lookup(ctx, name, key))
				cancel()
				if r.Status != socketmap.StatusNotFound {
					errs.Add(1)
				}
				n.Add(1)
			}
		}()
	}
	wg.Wait()
	return float64(n.Load()) / d.Seconds(), errs.Load()
}

// TestMeasureLookupThroughput reports lookups per second on one host with
// 16 callers.
func TestMeasureLookupThroughput(t *testing.T) {
	measuring(t)
	srv := sharedServer(t)
	s := loadSet(t, []string{"inet:" + srv.Addr()}, PoolOptions{}, nil,
		mapDef{name: "exact", db: "postfix", body: qAlias, opts: &MapOptions{}})
	hammer(s, "exact", 16, time.Second) // warm up
	for i := 0; i < 3; i++ {
		ps, bad := hammer(s, "exact", 16, 3*time.Second)
		t.Logf("run %d: %.0f lookups/s (%d not NOTFOUND)", i, ps, bad)
	}
}

// TestMeasureStalledHost64 is the first goal: two hosts, 64
// clients for 30 s, host A stalled (SIGSTOP) after 10 s, with the default
// pool settings and Postfix-like lookup deadline (5 s).
func TestMeasureStalledHost64(t *testing.T) {
	measuring(t)
	a, b := twoHosts(t)
	po := PoolOptions{} // defaults: query_timeout 2s
	s := loadSet(t, []string{"inet:" + a.Addr(), "inet:" + b.Addr()}, po, nil,
		mapDef{name: "virtual_alias", db: "postfix", body: qAlias})
	qt := s.Pools().Options().QueryTimeout
	l := startLoad(s, "virtual_alias", 64, 5*time.Second)
	time.Sleep(10 * time.Second)
	require.NoError(t, a.Pause())
	defer a.Resume()
	time.Sleep(20 * time.Second)
	l.Stop()
	t.Logf("64 clients, 30 s, host A stalled after 10 s: %s (query_timeout %v, goal: slowest <= %v)", l, qt, qt+500*time.Millisecond)
}

// TestMeasureKillRestartStall is the second goal, with the default
// pool settings: A killed, restarted 2 s later (still quarantined), then B
// stalled: TEMP while a host is healthy.
func TestMeasureKillRestartStall(t *testing.T) {
	measuring(t)
	a, b := twoHosts(t)
	s := loadSet(t, []string{"inet:" + a.Addr(), "inet:" + b.Addr()}, PoolOptions{}, nil,
		mapDef{name: "virtual_alias", db: "postfix", body: qAlias})
	l := startLoad(s, "virtual_alias", 16, 5*time.Second)
	time.Sleep(3 * time.Second)
	require.NoError(t, a.Kill())
	time.Sleep(2 * time.Second)
	require.NoError(t, a.Start())
	time.Sleep(time.Second)
	require.NoError(t, b.Pause())
	defer b.Resume()
	time.Sleep(10 * time.Second)
	l.Stop()
	t.Logf("kill A, restart A 2 s later, stall B: %s", l)
}

// TestMeasureSlowMapFairness is the third goal: virtual_alias's
// throughput (12 clients) alone, then beside a map whose query sleeps a
// second (32 clients) on the same host.
func TestMeasureSlowMapFairness(t *testing.T) {
	measuring(t)
	srv := sharedServer(t)
	s := loadSet(t, []string{"inet:" + srv.Addr()}, PoolOptions{}, nil,
		mapDef{name: "virtual_alias", db: "postfix", body: qAlias},
		mapDef{name: "slow", db: "postfix", body: qSlow, opts: &MapOptions{}})
	hammer(s, "virtual_alias", 12, time.Second) // warm up
	alone, _ := hammer(s, "virtual_alias", 12, 5*time.Second)
	stop := make(chan struct{})
	var slow atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < 32; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 1000; i++ {
				select {
				case <-stop:
					return
				default:
				}
				ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
				s.Lookup(ctx, "slow", fmt.Sprintf("slow%d.%d@example.jp", w, i))
				cancel()
				slow.Add(1)
			}
		}()
	}
	time.Sleep(2 * time.Second)
	beside, bad := hammer(s, "virtual_alias", 12, 5*time.Second)
	close(stop)
	wg.Wait()
	t.Logf("virtual_alias alone %.0f/s, beside the slow map %.0f/s (%d not NOTFOUND): ratio %.2f; slow map %d lookups",
		alone, beside, bad, beside/alone, slow.Load())
}

// TestMeasureLookupSequential reports one caller's lookups per second and
// allocations per lookup (run with -cpuprofile to see where a lookup's
// time goes outside the socketmap server).
func TestMeasureLookupSequential(t *testing.T) {
	measuring(t)
	srv := sharedServer(t)
	s := loadSet(t, []string{"inet:" + srv.Addr()}, PoolOptions{}, nil,
		mapDef{name: "exact", db: "postfix", body: qAlias, opts: &MapOptions{}})
	hammer(s, "exact", 1, time.Second) // warm up
	for i := 0; i < 3; i++ {
		c0 := cpuTime()
		ps, bad := hammer(s, "exact", 1, 3*time.Second)
		cpu := cpuTime() - c0
		t.Logf("run %d: %.0f lookups/s (%d not NOTFOUND), %.1f µs CPU per lookup", i, ps, bad, float64(cpu.Microseconds())/(ps*3))
	}
	n := 2000
	allocs := testing.AllocsPerRun(n, func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		s.Lookup(ctx, "exact", "nobody@example.jp")
		cancel()
	})
	t.Logf("%.1f allocations per lookup (context included)", allocs)
}

// cpuTime is the process's user and system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
