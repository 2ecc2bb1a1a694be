package conncore

import (
	"context"
	"sync"
	"time"
)

// RequestContext is the context a front's handler runs under: it carries
// the request deadline, but arms a timer for it only when something asks
// for Done (or registers an AfterFunc). Most lookups only read the
// deadline (to bound their database attempts) and Err; the Watchdog
// enforces the deadline regardless. context.WithTimeout's timer and its registration with the
// server's base context cost about as much as the rest of the server's work
// for a request.
//
// It behaves as context.WithDeadline(parent, deadline) whose cancel runs
// when Release is called: Err is DeadlineExceeded once the deadline has
// passed, the parent's error when it ends first, and Canceled after
// Release; Done is closed then, once asked for.
type RequestContext struct {
	parent   context.Context
	deadline time.Time

	mu       sync.Mutex
	inner    context.Context // armed by Done or AfterFunc
	cancel   context.CancelFunc
	released bool
}

// NewRequestContext returns a context that ends at deadline, when parent
// ends, or at Release.
func NewRequestContext(parent context.Context, deadline time.Time) *RequestContext {
	return &RequestContext{parent: parent, deadline: deadline}
}

// Deadline implements context.Context.
func (c *RequestContext) Deadline() (time.Time, bool) { return c.deadline, true }

// Value implements context.Context.
func (c *RequestContext) Value(key any) any { return c.parent.Value(key) }

// arm creates the timer-backed context; c.mu is held.
func (c *RequestContext) arm() context.Context {
	if c.inner == nil {
		c.inner, c.cancel = context.WithDeadline(c.parent, c.deadline)
		if c.released {
			c.cancel()
		}
	}
	return c.inner
}

// Done implements context.Context; the first call arms a timer.
func (c *RequestContext) Done() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.arm().Done()
}

// Err implements context.Context, without arming a timer.
func (c *RequestContext) Err() error {
	c.mu.Lock()
	inner, released := c.inner, c.released
	c.mu.Unlock()
	if inner != nil {
		return inner.Err()
	}
	if err := c.parent.Err(); err != nil {
		return err
	}
	if !time.Now().Before(c.deadline) {
		return context.DeadlineExceeded
	}
	if released {
		return context.Canceled
	}
	return nil
}

// AfterFunc lets context.AfterFunc and contexts derived from c register
// without a goroutine of their own.
func (c *RequestContext) AfterFunc(f func()) func() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return context.AfterFunc(c.arm(), f)
}

func (c *RequestContext) String() string { return "conncore.RequestContext" }

// Release ends the context, as the cancel of context.WithDeadline does.
func (c *RequestContext) Release() {
	c.mu.Lock()
	c.released = true
	if c.cancel != nil {
		c.cancel()
	}
	c.mu.Unlock()
}
