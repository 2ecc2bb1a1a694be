package mysqlfront

import (
	"bufio"
	"context"
	"net"
	"path/filepath"
	"testing"
	"time"
)

type foundMap struct{}

func (foundMap) HasMap(n string) bool { return n == "m" }
func (foundMap) Resolve(context.Context, string, string) Answer {
	return Answer{Status: Found, Values: []string{"dest@example.net"}}
}

// BenchmarkServerRoundTrip measures one COM_QUERY and its one-row result
// set through a unix socket, a hand-written client on the other end.
func BenchmarkServerRoundTrip(b *testing.B) {
	path := filepath.Join(b.TempDir(), "s")
	l, err := net.Listen("unix", path)
	if err != nil {
		b.Fatal(err)
	}
	s := &Server{Resolver: foundMap{}, User: "postfix", Password: "pw"}
	go s.Serve(l)
	defer s.Close()
	nc, err := net.Dial("unix", path)
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(time.Hour))
	c := &rawClient{nc: nc, p: &packetIO{r: bufio.NewReader(nc), w: nc, max: 1 << 24}}
	t := &testing.T{}
	g, err := c.p.readPacket()
	if err != nil {
		b.Fatal(err)
	}
	r := &reader{b: g}
	r.n(1)
	r.cstr()
	r.n(4)
	c.scramble = append([]byte(nil), r.n(8)...)
	r.n(1 + 2 + 1 + 2 + 2 + 1 + 10)
	c.scramble = append(c.scramble, r.n(12)...)
	if res := c.login(t, "postfix", "pw", "m"); len(res) == 0 || res[0] != 0 {
		b.Fatalf("login: %q", res)
	}
	c.p.seq = 0
	q := c.p.appendPacket(nil, append([]byte{comQuery}, "'someone@example.com'"...))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := nc.Write(q); err != nil {
			b.Fatal(err)
		}
		// Column count, column definition, EOF, one row, EOF.
		c.p.seq = 1
		var row []byte
		for i := range 5 {
			pkt, err := c.p.readPacket()
			if err != nil {
				b.Fatal(err)
			}
			if i == 3 {
				row = pkt
			}
		}
		if string(row) != "\x10dest@example.net" {
			b.Fatalf("row %q", row)
		}
	}
}
