package nbio

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// pair returns a wrapped client connection and the server's end, over
// network ("tcp" on loopback, or "unix").
func pair(t *testing.T, network string) (*Conn, net.Conn) {
	t.Helper()
	addr := "127.0.0.1:0"
	if network == "unix" {
		addr = filepath.Join(t.TempDir(), "s")
	}
	l, err := net.Listen(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	nc, err := net.Dial(network, l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	srv, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close(); srv.Close() })
	c, ok := Wrap(nc).(*Conn)
	if !ok {
		t.Fatalf("%s connection not wrapped", network)
	}
	return c, srv
}

func TestReadWrite(t *testing.T) {
	for _, network := range []string{"tcp", "unix"} {
		t.Run(network, func(t *testing.T) {
			c, srv := pair(t, network)
			if _, err := c.Write([]byte("ping")); err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, 4)
			if _, err := io.ReadFull(srv, buf); err != nil || string(buf) != "ping" {
				t.Fatalf("server read %q, %v", buf, err)
			}
			if _, err := srv.Write([]byte("pong")); err != nil {
				t.Fatal(err)
			}
			if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "pong" {
				t.Fatalf("client read %q, %v", buf, err)
			}
			if n, err := c.Read(nil); n != 0 || err != nil {
				t.Fatalf("empty read: %d, %v", n, err)
			}
			srv.Close()
			if n, err := c.Read(buf); n != 0 || err != io.EOF {
				t.Fatalf("read after the peer closed: %d, %v; want io.EOF", n, err)
			}
		})
	}
}

// TestLargeWrite: a write larger than the socket buffers, to a reader
// that takes it in small pieces, waits in the netpoller (EAGAIN) and
// arrives whole and in order.
func TestLargeWrite(t *testing.T) {
	c, srv := pair(t, "tcp")
	data := make([]byte, 8<<20)
	for i := range data {
		data[i] = byte(i*7 + i>>13)
	}
	got := make(chan []byte, 1)
	go func() {
		var b bytes.Buffer
		buf := make([]byte, 1000)
		for b.Len() < len(data) {
			n, err := srv.Read(buf)
			b.Write(buf[:n])
			if err != nil {
				break
			}
		}
		got <- b.Bytes()
	}()
	n, err := c.Write(data)
	if n != len(data) || err != nil {
		t.Fatalf("write: %d, %v", n, err)
	}
	if !bytes.Equal(<-got, data) {
		t.Fatal("the reader got other bytes than were written")
	}
}

// TestDeadlines: the connection's deadlines bound a read that waits and a
// write that waits for a peer that does not read, with net's errors.
func TestDeadlines(t *testing.T) {
	c, _ := pair(t, "tcp")
	c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	_, err := c.Read(make([]byte, 10))
	var ne net.Error
	if !errors.Is(err, os.ErrDeadlineExceeded) || !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("read past the deadline: %v; want a timeout", err)
	}
	c.SetWriteDeadline(time.Now().Add(50 * time.Millisecond))
	big := make([]byte, 64<<20)
	n, err := c.Write(big)
	if !errors.Is(err, os.ErrDeadlineExceeded) || n >= len(big) {
		t.Fatalf("write to a peer that does not read: %d, %v; want a timeout", n, err)
	}
	var oe *net.OpError
	if !errors.As(err, &oe) || oe.Op != "write" {
		t.Fatalf("write error %#v: want a *net.OpError of op write", err)
	}
}

func TestClosed(t *testing.T) {
	c, _ := pair(t, "tcp")
	c.Close()
	if _, err := c.Read(make([]byte, 1)); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("read on a closed connection: %v", err)
	}
	if _, err := c.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("write on a closed connection: %v", err)
	}
}

// TestWrapOther: what is not a socket is returned as it is.
func TestWrapOther(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	if Wrap(a) != a {
		t.Fatal("net.Pipe wrapped")
	}
}

// TestNoAllocs: a read and a write allocate nothing (the fronts' and the
// driver's per-lookup allocation budgets count on it).
func TestNoAllocs(t *testing.T) {
	c, srv := pair(t, "tcp")
	buf := make([]byte, 4)
	sbuf := make([]byte, 4)
	ping := []byte("ping")
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := c.Write(ping); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(srv, sbuf); err != nil {
			t.Fatal(err)
		}
		if _, err := srv.Write(sbuf); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(c, buf); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("%.1f allocations per round trip, want 0", allocs)
	}
}
