package lookup

import (
	"sync"
	"time"
)

// freshGroup shares one query among lookups that need the very same query
// at the same moment, like singleflight, with one difference that keeps
// answers linearizable: a lookup never takes a result read by a query
// that was sent before the lookup arrived. Such a query may have read the
// database before a change the lookup must see (a row deleted just before
// the lookup began, say).
//
// A lookup that finds a query running joins the next one, shared with
// every lookup that arrives meanwhile. When the running query ends, the
// next one takes its result if the attempt that produced it was sent after
// the last of them arrived (a query that failed over from a stalled host
// to a healthy one, typically); otherwise it is sent. So per key at most
// one query runs and one waits, and a flood of identical lookups costs the
// database about one query per round trip, as before.
type freshGroup struct {
	mu sync.Mutex
	m  map[string]*freshEntry
}

type freshEntry struct {
	running *freshCall // sent: its result is for the lookups that joined before
	next    *freshCall // not sent yet: lookups arriving now join it
	first   freshCall  // the entry's first call (one allocation for both)
}

type freshCall struct {
	// done is made when a lookup first waits for the call (most calls
	// have no other lookup waiting), and closed when it ends; ended
	// tells a lookup that arrives later not to wait. Both under the
	// group's mu.
	done   chan struct{}
	ended  bool
	last   time.Time // when the last lookup joined (next only)
	val    any
	sentAt time.Time // when the attempt that produced val was sent
	err    error
}

// freshFunc runs a query; sentAt is when the attempt whose result it
// returns was sent.
type freshFunc func() (val any, sentAt time.Time, err error)

// do runs fn, or shares a run of fn for key whose result was read after
// the call to do began, and returns its result.
func (g *freshGroup) do(key string, fn freshFunc) (any, error) {
	now := time.Now()
	g.mu.Lock()
	if g.m == nil {
		g.m = map[string]*freshEntry{}
	}
	e := g.m[key]
	switch {
	case e == nil:
		e = &freshEntry{}
		e.running = &e.first
		g.m[key] = e
		g.mu.Unlock()
		return g.run(key, e.running, fn)
	case e.next != nil:
		c := e.next
		c.last = now
		g.wait(c) // unlocks g.mu
		return c.val, c.err
	default:
		c := &freshCall{last: now}
		e.next = c
		prev := e.running
		g.wait(prev) // unlocks g.mu
		g.mu.Lock()
		e.running, e.next = c, nil
		adopt := !prev.sentAt.Before(c.last)
		g.mu.Unlock()
		if adopt {
			// Every lookup of c arrived before prev's answer was asked
			// for: it is fresh enough for all of them.
			c.val, c.sentAt, c.err = prev.val, prev.sentAt, prev.err
			g.finish(key, c)
			return c.val, c.err
		}
		return g.run(key, c, fn)
	}
}

// wait unlocks g.mu, which is held, and waits until c has ended.
func (g *freshGroup) wait(c *freshCall) {
	if c.ended {
		g.mu.Unlock()
		return
	}
	if c.done == nil {
		c.done = make(chan struct{})
	}
	done := c.done
	g.mu.Unlock()
	<-done
}

// run sends c's query and hands its result to every lookup that joined c.
func (g *freshGroup) run(key string, c *freshCall, fn freshFunc) (any, error) {
	defer g.finish(key, c)
	c.val, c.sentAt, c.err = fn()
	return c.val, c.err
}

// finish wakes c's lookups and forgets the key when nothing waits on it.
func (g *freshGroup) finish(key string, c *freshCall) {
	g.mu.Lock()
	c.ended = true
	if c.done != nil {
		close(c.done)
	}
	if e := g.m[key]; e != nil && e.running == c && e.next == nil {
		delete(g.m, key)
	}
	g.mu.Unlock()
}
