package conncore

import (
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// TestWatchdog: the timer left armed between requests never expires a
// request before its own deadline, however many requests ran before it
// (each re-arms nothing), and expires one that overruns at its deadline;
// End then reports that the connection is the watchdog's.
func TestWatchdog(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const limit = 10 * time.Second
		var w Watchdog
		var expired atomic.Int64 // fake time of the expiry, unix nanoseconds
		w.Expire = func() { expired.Store(time.Now().UnixNano()) }
		defer w.Stop()
		// Requests of 3 s back to back, then idle gaps of 15 s (the timer
		// goes off), then requests again.
		for i := range 20 {
			w.Begin(time.Now(), limit)
			time.Sleep(3 * time.Second)
			if !w.End() || expired.Load() != 0 {
				t.Fatalf("request %d expired within its limit", i)
			}
			if i%7 == 6 {
				time.Sleep(15 * time.Second)
			}
		}
		start := time.Now()
		w.Begin(start, limit)
		time.Sleep(limit - time.Millisecond)
		if expired.Load() != 0 {
			t.Fatal("expired before its deadline")
		}
		time.Sleep(2 * time.Millisecond)
		synctest.Wait()
		if got := time.Duration(expired.Load() - start.UnixNano()); got != limit {
			t.Fatalf("expired %v after Begin, want %v", got, limit)
		}
		if w.End() {
			t.Fatal("End after expiry: true, want false")
		}
	})
}
