package lookup

import (
	"context"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

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
				r := s.Lookup(ctx, name, key)
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
