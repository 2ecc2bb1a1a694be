package bench

import (
	"sync/atomic"
	"time"
)

// Pacer hands out request tickets, bounded by a count, and with a rate
// schedules them: ticket n is due at start + n/rate. Requests that fall
// behind are sent at once (no ticket is skipped), and their latency is
// measured from the due time, so a stalled server shows as latency rather
// than as fewer requests (no coordinated omission). It is safe for
// concurrent use.
type Pacer struct {
	start    time.Time
	interval time.Duration // 0: as fast as possible
	limit    int64         // 0: unbounded
	next     atomic.Int64
}

// NewPacer returns a Pacer starting at start, handing out at most limit
// tickets (0: no limit) at rate per second (0 or less: as fast as possible).
func NewPacer(start time.Time, rate float64, limit int64) *Pacer {
	p := &Pacer{start: start, limit: max(limit, 0)}
	if rate > 0 {
		p.interval = time.Duration(float64(time.Second) / rate)
		if p.interval <= 0 {
			p.interval = 1
		}
	}
	return p
}

// Take claims the next ticket and returns it with its due time (the start
// time when unpaced). ok is false when the count is used up.
func (p *Pacer) Take() (n int64, due time.Time, ok bool) {
	n = p.next.Add(1) - 1
	if p.limit > 0 && n >= p.limit {
		return n, time.Time{}, false
	}
	return n, p.Due(n), true
}

// Due returns ticket n's due time.
func (p *Pacer) Due(n int64) time.Time {
	return p.start.Add(time.Duration(n) * p.interval)
}

// Paced reports whether tickets have due times.
func (p *Pacer) Paced() bool { return p.interval > 0 }

// Taken returns the number of tickets handed out (capped at the limit).
func (p *Pacer) Taken() int64 {
	n := p.next.Load()
	if p.limit > 0 {
		n = min(n, p.limit)
	}
	return n
}
