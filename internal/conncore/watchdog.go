package conncore

import (
	"sync"
	"time"
)

// Watchdog bounds a front's handler, which runs on the connection's own
// goroutine (a goroutine and a channel per request would cost two
// goroutine hand-offs and a timer each): when the handler has not
// returned by its limit, the watchdog's timer takes the connection over
// and runs the front's Expire function (which answers the client with a
// timeout and closes the connection); the handler's result is then
// discarded. One timer per connection serves every request.
//
// Begin and End are called by the connection's goroutine only, around
// each handler call. Between them, that goroutine must not touch what
// Expire uses (the connection's writer); once End has returned false,
// Expire owns the connection, and the goroutine must only return.
type Watchdog struct {
	// Expire is the front's answer to a handler that overran; set it
	// before the first Begin.
	Expire func()

	mu        sync.Mutex
	inHandler bool
	timedOut  bool
	deadline  int64 // monoNow after which Expire may run
	// The timer is left armed between requests: a request that ends
	// before it fires costs no timer operation, and a firing that finds a
	// later deadline re-arms it for that one (so it fires about once per
	// limit while requests keep coming, and stays off on an idle
	// connection). firesAt is when it is due (monoNow), 0 when it is off.
	timer   *time.Timer
	firesAt int64
}

// Begin arms the watchdog before the handler runs: Expire runs if End has
// not been called limit after now.
func (w *Watchdog) Begin(now time.Time, limit time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.deadline = int64(now.Sub(epoch)) + 1 + int64(limit) // as monoNow counts
	w.inHandler = true
	switch {
	case w.timer == nil:
		w.timer = time.AfterFunc(limit, w.fire)
	case w.firesAt == 0 || w.firesAt > w.deadline:
		w.timer.Reset(limit)
	default:
		return // due before the deadline: it re-arms itself then
	}
	w.firesAt = w.deadline
}

// End disarms the watchdog after the handler returned. It returns false
// when Expire has run or is running: the connection is no longer the
// caller's.
func (w *Watchdog) End() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.inHandler = false
	return !w.timedOut
}

// Stop stops the timer (when the connection ends).
func (w *Watchdog) Stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.timer != nil {
		w.timer.Stop()
		w.firesAt = 0
	}
}

// fire runs in the timer's goroutine: it expires a handler past its
// deadline, re-arms the timer for a handler whose deadline is later, and
// leaves it off when no handler runs.
func (w *Watchdog) fire() {
	w.mu.Lock()
	w.firesAt = 0
	if !w.inHandler || w.timedOut {
		w.mu.Unlock()
		return
	}
	if left := w.deadline - monoNow(); left > 0 {
		w.timer.Reset(time.Duration(left))
		w.firesAt = w.deadline
		w.mu.Unlock()
		return
	}
	w.timedOut = true
	w.mu.Unlock()
	w.Expire()
}
