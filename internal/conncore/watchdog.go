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
	timer     *time.Timer
}

// Begin arms the watchdog before the handler runs: Expire runs if End has
// not been called limit after now.
func (w *Watchdog) Begin(now time.Time, limit time.Duration) {
	w.mu.Lock()
	w.deadline = int64(now.Sub(epoch)) + int64(limit)
	w.inHandler = true
	w.mu.Unlock()
	if w.timer == nil {
		w.timer = time.AfterFunc(limit, w.fire)
	} else {
		w.timer.Reset(limit)
	}
}

// End disarms the watchdog after the handler returned. It returns false
// when Expire has run or is running: the connection is no longer the
// caller's.
func (w *Watchdog) End() bool {
	w.mu.Lock()
	timedOut := w.timedOut
	w.inHandler = false
	w.mu.Unlock()
	if timedOut {
		return false
	}
	w.timer.Stop()
	return true
}

// fire runs in the timer's goroutine. A late firing armed for an earlier
// request finds the handler returned, or a later deadline.
func (w *Watchdog) fire() {
	w.mu.Lock()
	if !w.inHandler || w.timedOut || monoNow() < w.deadline {
		w.mu.Unlock()
		return
	}
	w.timedOut = true
	w.mu.Unlock()
	w.Expire()
}
