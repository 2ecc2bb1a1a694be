package conncore

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestReqCtxDeadline(t *testing.T) {
	dl := time.Now().Add(30 * time.Millisecond)
	c := NewRequestContext(context.Background(), dl)
	d, ok := c.Deadline()
	assert.True(t, ok)
	assert.Equal(t, dl, d)
	assert.NoError(t, c.Err())
	select {
	case <-c.Done():
	case <-time.After(2 * time.Second):
		t.Fatal("Done not closed at the deadline")
	}
	assert.False(t, time.Now().Before(dl))
	assert.ErrorIs(t, c.Err(), context.DeadlineExceeded)
	c.Release()
	assert.ErrorIs(t, c.Err(), context.DeadlineExceeded)
}

func TestReqCtxErrWithoutDone(t *testing.T) {
	c := NewRequestContext(context.Background(), time.Now().Add(10*time.Millisecond))
	assert.NoError(t, c.Err())
	time.Sleep(20 * time.Millisecond)
	assert.ErrorIs(t, c.Err(), context.DeadlineExceeded)
}

func TestReqCtxParentAndRelease(t *testing.T) {
	p, cancel := context.WithCancel(context.Background())
	c := NewRequestContext(p, time.Now().Add(time.Hour))
	cancel()
	assert.ErrorIs(t, c.Err(), context.Canceled)
	<-c.Done()

	c = NewRequestContext(context.Background(), time.Now().Add(time.Hour))
	c.Release()
	assert.ErrorIs(t, c.Err(), context.Canceled)
	<-c.Done() // armed after release: closed at once
}

func TestReqCtxDerived(t *testing.T) {
	c := NewRequestContext(context.Background(), time.Now().Add(time.Hour))
	child, stop := context.WithCancel(c)
	defer stop()
	fired := make(chan struct{})
	context.AfterFunc(c, func() { close(fired) })
	assert.NoError(t, child.Err())
	c.Release()
	<-child.Done()
	<-fired
	assert.ErrorIs(t, child.Err(), context.Canceled)
}

// BenchmarkRequestContext is the per-request context: the timer-less one
// against context.WithTimeout under a cancellable base.
func BenchmarkRequestContext(b *testing.B) {
	base, cancel := context.WithCancel(context.Background())
	defer cancel()
	b.Run("RequestContext", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			c := NewRequestContext(base, time.Now().Add(10*time.Second))
			_, _ = c.Deadline()
			_ = c.Err()
			c.Release()
		}
	})
	b.Run("WithTimeout", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			c, cancel := context.WithTimeout(base, 10*time.Second)
			_, _ = c.Deadline()
			_ = c.Err()
			cancel()
		}
	})
}
