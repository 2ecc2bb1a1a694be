package socketmap

import (
	"context"
	"sync"
	"time"
)

// reqCtx is the context a handler runs under: it carries the request
// deadline, but arms a timer for it only when something asks for Done (or
// registers an AfterFunc). Most lookups only read the deadline (to bound
// their database attempts) and Err; the watchdog enforces the deadline
// regardless. context.WithTimeout's timer and its registration with the
// server's base context cost about as much as the rest of the server's work
// for a request.
//
// It behaves as context.WithDeadline(parent, deadline) whose cancel runs
// when release is called: Err is DeadlineExceeded once the deadline has
// passed, the parent's error when it ends first, and Canceled after
// release; Done is closed then, once asked for.
type reqCtx struct {
	parent   context.Context
	deadline time.Time

	mu       sync.Mutex
	inner    context.Context // armed by Done or AfterFunc
	cancel   context.CancelFunc
	released bool
}

func newReqCtx(parent context.Context, deadline time.Time) *reqCtx {
	return &reqCtx{parent: parent, deadline: deadline}
}

func (c *reqCtx) Deadline() (time.Time, bool) { return c.deadline, true }

func (c *reqCtx) Value(key any) any { return c.parent.Value(key) }

// arm creates the timer-backed context; c.mu is held.
func (c *reqCtx) arm() context.Context {
	if c.inner == nil {
		c.inner, c.cancel = context.WithDeadline(c.parent, c.deadline)
		if c.released {
			c.cancel()
		}
	}
	return c.inner
}

func (c *reqCtx) Done() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.arm().Done()
}

func (c *reqCtx) Err() error {
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
func (c *reqCtx) AfterFunc(f func()) func() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return context.AfterFunc(c.arm(), f)
}

func (c *reqCtx) String() string { return "socketmap.requestContext" }

// release ends the context, as the cancel of context.WithDeadline does.
func (c *reqCtx) release() {
	c.mu.Lock()
	c.released = true
	if c.cancel != nil {
		c.cancel()
	}
	c.mu.Unlock()
}
