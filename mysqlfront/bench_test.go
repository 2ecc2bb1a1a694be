package mysqlfront

import (
	"mapgate/answer"

	"bufio"
	"context"
	"net"
	"path/filepath"
	"testing"
	"time"
)

type foundMap struct{}

func (foundMap) HasMap(n string) bool { return n == "m" }
func (foundMap) Resolve(context.Context, string, string) answer.Result {
	return answer.Found("dest@example.net")
}

// roundTripper is a logged-in hand-written client of a front whose
// resolver answers foundMap's row, on a unix socket: one COM_QUERY and its
// result set per call, without allocating on the client's side.
type roundTripper struct {
	nc  net.Conn
	c   *rawClient
	q   []byte
	buf []byte
}

func newRoundTripper(tb testing.TB) *roundTripper {
	path := filepath.Join(tb.TempDir(), "s")
	l, err := net.Listen("unix", path)
	if err != nil {
		tb.Fatal(err)
	}
	s := &Server{Resolver: foundMap{}, User: "postfix", Password: "pw"}
	go s.Serve(l)
	tb.Cleanup(func() { s.Close() })
	nc, err := net.Dial("unix", path)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { nc.Close() })
	_ = nc.SetDeadline(time.Now().Add(time.Hour))
	c := &rawClient{nc: nc, p: &packetIO{r: bufio.NewReader(nc), w: nc, max: 1 << 24}}
	g, err := c.p.readPacket()
	if err != nil {
		tb.Fatal(err)
	}
	r := &reader{b: g}
	r.n(1)
	r.cstr()
	r.n(4)
	c.scramble = append([]byte(nil), r.n(8)...)
	r.n(1 + 2 + 1 + 2 + 2 + 1 + 10)
	c.scramble = append(c.scramble, r.n(12)...)
	if res := c.login(&testing.T{}, "postfix", "pw", "m"); len(res) == 0 || res[0] != 0 {
		tb.Fatalf("login: %q", res)
	}
	c.p.seq = 0
	q := c.p.appendPacket(nil, append([]byte{comQuery}, "'someone@example.com'"...))
	return &roundTripper{nc: nc, c: c, q: q, buf: make([]byte, 0, 256)}
}

// do sends the query and reads its result set: column count, column
// definition, EOF, one row, EOF.
func (rt *roundTripper) do(tb testing.TB) {
	if _, err := rt.nc.Write(rt.q); err != nil {
		tb.Fatal(err)
	}
	rt.c.p.seq = 1
	for i := range 5 {
		pkt, err := rt.c.p.readInto(rt.buf[:0])
		if err != nil {
			tb.Fatal(err)
		}
		if i == 3 && string(pkt) != "\x10dest@example.net" {
			tb.Fatalf("row %q", pkt)
		}
	}
}

// BenchmarkServerRoundTrip measures one COM_QUERY and its one-row result
// set through a unix socket, a hand-written client on the other end.
func BenchmarkServerRoundTrip(b *testing.B) {
	rt := newRoundTripper(b)
	b.ReportAllocs()
	for b.Loop() {
		rt.do(b)
	}
}

// TestServerRoundTripAllocs: a lookup costs the front a handful of
// allocations (the resolver's own included): it runs on the connection's
// goroutine (no goroutine, channel, timer or context.WithTimeout per
// lookup), reads the command and builds the result set in buffers kept
// for the next. 24 before; 9 measured.
func TestServerRoundTripAllocs(t *testing.T) {
	rt := newRoundTripper(t)
	rt.do(t)
	n := testing.AllocsPerRun(500, func() { rt.do(t) })
	t.Logf("%.1f allocations per lookup", n)
	if n > 10 {
		t.Errorf("%.1f allocations per lookup, want at most 10", n)
	}
}
