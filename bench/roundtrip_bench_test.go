package bench

import (
	"context"
	"fmt"
	"testing"

	"mapgate/socketmap"
)

// BenchmarkRoundTrip is one socketmap request and reply over loopback TCP
// against an in-process socketmap.Server with a trivial handler: the cost
// of the protocol and the server around a lookup, without a database.
func BenchmarkRoundTrip(b *testing.B) {
	d := BulkAliases{N: 1000}
	target := fakeServer(b, d, nil)
	c, err := socketmap.Dial(target)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	k := d.Present(42)
	b.ReportAllocs()
	for b.Loop() {
		r, err := c.Lookup("alias", k.Key)
		if Check(k, r, err) != OutOK {
			b.Fatalf("got %v, %v", r, err)
		}
	}
}

// BenchmarkRoundTripParallel sweeps the number of concurrent connections.
func BenchmarkRoundTripParallel(b *testing.B) {
	d := BulkAliases{N: 1000}
	target := fakeServer(b, d, nil)
	for _, p := range []int{1, 4, 16} {
		b.Run(fmt.Sprintf("conns=%d", p), func(b *testing.B) {
			b.ReportAllocs()
			b.SetParallelism(p)
			b.RunParallel(func(pb *testing.PB) {
				c, err := socketmap.Dial(target)
				if err != nil {
					b.Error(err)
					return
				}
				defer c.Close()
				k := d.Absent(1)
				for pb.Next() {
					r, err := c.Lookup("alias", k.Key)
					if Check(k, r, err) != OutNotFound {
						b.Errorf("got %v, %v", r, err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkHandlerOnly is the trivial handler alone, for subtraction.
func BenchmarkHandlerOnly(b *testing.B) {
	d := BulkAliases{N: 1000}
	h := socketmap.HandlerFunc(func(_ context.Context, _, key string) socketmap.Reply { return d.Expect(key) })
	k := d.Present(42).Key
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if h.Lookup(ctx, "alias", k).Status != socketmap.StatusOK {
			b.Fatal("not found")
		}
	}
}
