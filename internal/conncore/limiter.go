package conncore

import (
	"sync/atomic"
	"time"
)

// LogLimiter lets one log line of a kind through per second and counts
// the ones held back, for events a client can cause at any rate (refused
// connections, failed logins). Its zero value is ready; it takes no lock.
type LogLimiter struct {
	last  atomic.Int64 // monoNow of the last line let through; 0 before
	quiet atomic.Int64 // lines held back since then
}

// logEvery is a LogLimiter's period.
const logEvery = time.Second

// epoch anchors the monotonic timestamps stored in atomics.
var epoch = time.Now()

func monoNow() int64 { return int64(time.Since(epoch)) + 1 }

// Allow reports whether to log now, and how many lines were held back
// since the last one let through.
func (l *LogLimiter) Allow() (suppressed int64, ok bool) {
	now, last := monoNow(), l.last.Load()
	if last != 0 && now-last < int64(logEvery) || !l.last.CompareAndSwap(last, now) {
		l.quiet.Add(1)
		return 0, false
	}
	return l.quiet.Swap(0), true
}
