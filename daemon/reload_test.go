package daemon

import (
	"log/slog"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"mapgate/hosts"
	"mapgate/lookup"
)

func emptyGeneration(t *testing.T) *generation {
	t.Helper()
	set, err := lookup.Load(nil, hosts.PoolOptions{}, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		t.Fatal(err)
	}
	return &generation{set: set, idle: make(chan struct{}, 1)}
}

// TestRetireWaitsForLookupsInFlight: a generation swapped out is closed as
// soon as the last lookup that started on it ends (not after a fixed
// timer), never while one runs, and at the latest after its bound; a
// lookup that starts after the swap gets the new generation.
func TestRetireWaitsForLookupsInFlight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := &Daemon{}
		old, next := emptyGeneration(t), emptyGeneration(t)
		d.cur.Store(old)
		a, b := d.acquire(), d.acquire()
		if a != old || b != old {
			t.Fatal("acquire did not return the current generation")
		}
		d.cur.Store(next)
		if g := d.acquire(); g != next {
			t.Fatal("a lookup after the swap got the old generation")
		} else {
			g.release()
		}
		var closed atomic.Bool
		var took time.Duration
		go func() {
			took = old.retire(7*time.Second, slog.New(slog.DiscardHandler))
			closed.Store(true)
		}()
		time.Sleep(time.Second)
		synctest.Wait()
		if closed.Load() {
			t.Fatal("closed with two lookups running on it")
		}
		a.release()
		synctest.Wait()
		if closed.Load() {
			t.Fatal("closed with one lookup running on it")
		}
		time.Sleep(500 * time.Millisecond)
		b.release()
		synctest.Wait()
		if !closed.Load() {
			t.Fatal("not closed once its lookups ended")
		}
		if took != 1500*time.Millisecond {
			t.Errorf("retire took %v, want the 1.5 s its lookups ran", took)
		}

		// A lookup that never ends: closed after the bound.
		stuck := emptyGeneration(t)
		d.cur.Store(stuck)
		d.acquire()
		d.cur.Store(next)
		if got := stuck.retire(7*time.Second, slog.New(slog.DiscardHandler)); got != 7*time.Second {
			t.Errorf("a stuck lookup: retire took %v, want its bound 7s", got)
		}
	})
}

// TestReloadRequestsCoalesce: requests made while a reload runs leave one
// more reload pending, not one each.
func TestReloadRequestsCoalesce(t *testing.T) {
	d := &Daemon{reloadReq: make(chan struct{}, 1)}
	for range 100 {
		d.Reload()
	}
	if n := len(d.reloadReq); n != 1 {
		t.Errorf("%d reloads pending after 100 requests, want 1", n)
	}
}
