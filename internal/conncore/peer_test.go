package conncore

import (
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"
)

// TestPeerOf: the peer of a unix socket and of a loopback TCP connection
// is the client's uid (this process's).
func TestPeerOf(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("uids of peers: Linux only")
	}
	want := "uid " + strconv.Itoa(os.Getuid())
	for _, nw := range []string{"unix", "tcp4", "tcp6"} {
		addr := "127.0.0.1:0"
		switch nw {
		case "unix":
			addr = filepath.Join(t.TempDir(), "s")
		case "tcp6":
			addr = "[::1]:0"
		}
		l, err := net.Listen(nw, addr)
		if err != nil {
			t.Logf("%s: %v (skipped)", nw, err)
			continue
		}
		defer l.Close()
		cl, err := net.Dial(nw, l.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		nc, err := l.Accept()
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		if got := peerOf(nc); got != want {
			t.Errorf("%s: peerOf = %q, want %q", nw, got, want)
		}
	}
}

// TestVictimIsTheBusiestPeersOldest: a full budget closes the oldest
// connection of the peer with the most, never another peer's.
func TestVictimIsTheBusiestPeersOldest(t *testing.T) {
	s := New(Config{MaxUnauthenticated: 4}, lineProto{})
	now := time.Now()
	mk := func(peer string, age time.Duration) *Conn {
		c := &Conn{s: s, peer: peer, handshakeDL: now.Add(-age)}
		s.linkUnauth(c)
		return c
	}
	postfix := mk("uid 0", 3*time.Second) // the oldest of all
	a1 := mk("uid 65534", 2*time.Second)
	mk("uid 65534", time.Second)
	mk("uid 65534", 0)
	if v := s.victim(); v != a1 {
		t.Errorf("victim: peer %q, want the flooding peer's oldest", v.peer)
	}
	s.unlinkUnauth(a1)
	s.unlinkUnauth(s.victim())
	// One each now: the oldest overall.
	if v := s.victim(); v != postfix {
		t.Errorf("victim among equals: peer %q, want the oldest", v.peer)
	}
}
