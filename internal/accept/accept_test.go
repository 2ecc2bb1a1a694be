package accept

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

func TestLoopServesUntilClosed(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var closing atomic.Bool
	served := make(chan struct{}, 2)
	done := make(chan error, 1)
	go func() {
		done <- Loop(l, closing.Load, nil, slog.Default(), "test", func(nc net.Conn) {
			nc.Close()
			served <- struct{}{}
		})
	}()
	for i := 0; i < 2; i++ {
		c, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
		select {
		case <-served:
		case <-time.After(10 * time.Second):
			t.Fatal("connection not served")
		}
	}
	closing.Store(true)
	l.Close()
	select {
	case err := <-done:
		if !errors.Is(err, ErrClosed) {
			t.Fatalf("Loop returned %v, want ErrClosed", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Loop did not return")
	}
}

func TestLoopReturnsAFatalError(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l.Close() // Accept fails at once, and not temporarily
	err = Loop(l, func() bool { return false }, nil, slog.Default(), "test", func(net.Conn) {})
	if err == nil || errors.Is(err, ErrClosed) {
		t.Fatalf("Loop returned %v, want the listener's error", err)
	}
}

func TestTemporary(t *testing.T) {
	for _, e := range []error{syscall.EMFILE, syscall.ENFILE, syscall.ECONNABORTED} {
		if !Temporary(e) {
			t.Errorf("%v: want temporary", e)
		}
	}
	for _, e := range []error{io.EOF, net.ErrClosed} {
		if Temporary(e) {
			t.Errorf("%v: want not temporary", e)
		}
	}
}
