package bench

import (
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"mapgate/socketmap"
)

func TestBulkAliasesExpect(t *testing.T) {
	t.Parallel()
	d := BulkAliases{N: 100}
	for i := range 300 {
		for _, k := range []Key{d.Present(i), d.Absent(i), d.Unrepresentable(i)} {
			if got := d.Expect(k.Key); got != k.Want {
				t.Errorf("Expect(%q) = %v, want %v", k.Key, got, k.Want)
			}
		}
	}
	if k := d.Present(7); k.Key != "user7@bulk.example" || k.Want != socketmap.OK("user7@dest.example") {
		t.Errorf("Present(7) = %+v", k)
	}
	if k := d.Absent(0); k.Key != "user100@bulk.example" || k.Want.Status != socketmap.StatusNotFound {
		t.Errorf("Absent(0) = %+v", k)
	}
	for _, key := range []string{"user007@bulk.example", "user-1@bulk.example", "user5@other.example", "user@bulk.example", "User5@bulk.example"} {
		if got := d.Expect(key); got.Status != socketmap.StatusNotFound {
			t.Errorf("Expect(%q) = %v, want NOTFOUND", key, got)
		}
	}
	for i := range 8 {
		k := d.Unrepresentable(i)
		ascii := true
		for _, r := range k.Key {
			if r > 0xff {
				ascii = false
			}
		}
		if ascii {
			t.Errorf("Unrepresentable(%d) = %q fits latin1", i, k.Key)
		}
	}
}

func TestMixer(t *testing.T) {
	t.Parallel()
	for _, m := range []Mix{{1, 1, 0}, {5, 4, 1}, {0, 0, 1}, {1, 10, 0}, {3, 0, 7}, {}} {
		x := m.Mixer()
		w := [numKinds]float64{m.Present, m.Absent, m.Unrepresentable}
		total := w[0] + w[1] + w[2]
		if total == 0 {
			w[Present], total = 1, 1
		}
		var seen [numKinds]int
		for n := 1; n <= 1000; n++ {
			seen[x.Next()]++
			for k := range numKinds {
				want := float64(n) * w[k] / total
				if d := float64(seen[k]) - want; d > 1 || d < -1 {
					t.Fatalf("mix %v after %d: %v has %d, want %.1f ± 1", m, n, Kind(k), seen[k], want)
				}
			}
		}
	}
}

func TestParseMix(t *testing.T) {
	t.Parallel()
	m, err := ParseMix("5:4:1")
	if err != nil || m != (Mix{5, 4, 1}) {
		t.Errorf("ParseMix(5:4:1) = %v, %v", m, err)
	}
	for _, bad := range []string{"", "1:2", "a:b:c", "1:-1:0", "NaN:1:1"} {
		if _, err := ParseMix(bad); err == nil {
			t.Errorf("ParseMix(%q) accepted", bad)
		}
	}
}

func TestKeysSpreadAndUnique(t *testing.T) {
	t.Parallel()
	d := BulkAliases{N: 100000}
	keys := Keys(d, Mix{Present: 1, Absent: 1}, 20000)
	seen := map[string]bool{}
	var present int
	for _, k := range keys {
		if seen[k.Key] {
			t.Fatalf("duplicate key %q", k.Key)
		}
		seen[k.Key] = true
		if k.Want != d.Expect(k.Key) {
			t.Fatalf("key %q wants %v, data set says %v", k.Key, k.Want, d.Expect(k.Key))
		}
		if k.Kind == Present {
			present++
		}
	}
	if present != 10000 {
		t.Errorf("%d present keys, want 10000", present)
	}
}

func TestCheck(t *testing.T) {
	t.Parallel()
	d := BulkAliases{N: 10}
	p, a := d.Present(3), d.Absent(3)
	errNet := errors.New("connection reset")
	for _, c := range []struct {
		key  Key
		r    socketmap.Reply
		err  error
		want Outcome
	}{
		{p, socketmap.OK("user3@dest.example"), nil, OutOK},
		{p, socketmap.OK("user4@dest.example"), nil, OutWrong},
		{p, socketmap.NotFound(), nil, OutWrong},
		{a, socketmap.NotFound(), nil, OutNotFound},
		{a, socketmap.OK("x"), nil, OutWrong},
		{p, socketmap.Temp("db down"), nil, OutTemp},
		{a, socketmap.Timeout("slow"), nil, OutTimeout},
		{a, socketmap.Perm("no such map"), nil, OutPerm},
		{p, socketmap.Reply{}, errNet, OutError},
		{p, socketmap.Reply{Status: 9}, nil, OutWrong},
	} {
		if got := Check(c.key, c.r, c.err); got != c.want {
			t.Errorf("Check(%q, %v, %v) = %d, want %d", c.key.Key, c.r, c.err, got, c.want)
		}
	}
}

func TestCheckPostmapStyleCounts(t *testing.T) {
	t.Parallel()
	var c Counts
	for _, o := range []Outcome{OutOK, OutOK, OutNotFound, OutTemp, OutTimeout, OutPerm, OutWrong, OutError} {
		c.count(o)
	}
	if c.Total() != 8 || c.Correct() != 3 || c.SuccessRate() != 3.0/8 {
		t.Errorf("counts %+v: total %d correct %d rate %v", c, c.Total(), c.Correct(), c.SuccessRate())
	}
	if (Counts{}).SuccessRate() != 1 {
		t.Error("empty counts: success rate not 1")
	}
}

// exactQuantile is the nearest-rank quantile of sorted samples.
func exactQuantile(sorted []time.Duration, q float64) time.Duration {
	rank := int(q*float64(len(sorted)) + 0.9999999)
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}

func TestHistogramQuantiles(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{1, 2, 10, 99, 1000, 100000} {
		var h Histogram
		samples := make([]time.Duration, n)
		for i := range samples {
			// Log-uniform from 1 ns to 10 s.
			samples[i] = time.Duration(mathPow10(rng.Float64() * 10))
			h.Record(samples[i])
		}
		slices.Sort(samples)
		for _, q := range []float64{0, 0.5, 0.9, 0.99, 0.999, 1} {
			want, got := exactQuantile(samples, q), h.Quantile(q)
			// Reported as the top of the sample's bucket: never below the
			// exact value, at most 1/64 above it.
			if got < want || float64(got-want) > float64(want)/histSub+1 {
				t.Errorf("n=%d q=%v: got %v, exact %v", n, q, got, want)
			}
		}
		if h.Quantile(1) != samples[n-1] || h.Max() != samples[n-1] || h.Min() != samples[0] || h.Count() != uint64(n) {
			t.Errorf("n=%d: max %v min %v count %d, want %v %v %d", n, h.Max(), h.Min(), h.Count(), samples[n-1], samples[0], n)
		}
	}
	var empty Histogram
	if empty.Quantile(0.5) != 0 || empty.Mean() != 0 {
		t.Error("empty histogram: nonzero quantile or mean")
	}
}

func mathPow10(x float64) float64 {
	v := 1.0
	for x >= 1 {
		v *= 10
		x--
	}
	// 10^x for 0 <= x < 1 by a few Taylor terms of e^(x ln 10) is enough
	// for test data.
	y := x * 2.302585092994046
	e, term := 1.0, 1.0
	for i := 1; i < 20; i++ {
		term *= y / float64(i)
		e += term
	}
	return v * e
}

func TestHistogramBuckets(t *testing.T) {
	t.Parallel()
	prevHi := uint64(0)
	for i := range histBuckets {
		lo, hi := bucketRange(i)
		if i > 0 && lo != prevHi+1 {
			t.Fatalf("bucket %d starts at %d, previous ended at %d", i, lo, prevHi)
		}
		if bucketOf(lo) != i || bucketOf(hi) != i {
			t.Fatalf("bucket %d [%d,%d]: bucketOf gives %d, %d", i, lo, hi, bucketOf(lo), bucketOf(hi))
		}
		prevHi = hi
	}
	if prevHi != histMaxValue {
		t.Errorf("last bucket ends at %d, want %d", prevHi, histMaxValue)
	}
	if bucketOf(1<<62) != histBuckets-1 {
		t.Error("huge value not in the last bucket")
	}
}

func TestHistogramMerge(t *testing.T) {
	t.Parallel()
	var a, b, all Histogram
	for i := range 1000 {
		d := time.Duration(i * 1000)
		all.Record(d)
		if i%2 == 0 {
			a.Record(d)
		} else {
			b.Record(d)
		}
	}
	a.Merge(&b)
	for _, q := range []float64{0.1, 0.5, 0.99} {
		if a.Quantile(q) != all.Quantile(q) {
			t.Errorf("merged q%v = %v, want %v", q, a.Quantile(q), all.Quantile(q))
		}
	}
	if a.Count() != all.Count() || a.Mean() != all.Mean() || a.Min() != all.Min() || a.Max() != all.Max() {
		t.Error("merged count/mean/min/max differ")
	}
}

func TestPacer(t *testing.T) {
	t.Parallel()
	start := time.Unix(1000, 0)
	p := NewPacer(start, 100, 5)
	for i := range 5 {
		n, due, ok := p.Take()
		if !ok || n != int64(i) || !due.Equal(start.Add(time.Duration(i)*10*time.Millisecond)) {
			t.Fatalf("ticket %d: n=%d due=%v ok=%v", i, n, due.Sub(start), ok)
		}
	}
	for range 3 {
		if _, _, ok := p.Take(); ok {
			t.Fatal("ticket past the limit")
		}
	}
	if p.Taken() != 5 {
		t.Errorf("Taken = %d, want 5", p.Taken())
	}
	u := NewPacer(start, 0, 0)
	if u.Paced() {
		t.Error("rate 0 is paced")
	}
	if _, due, ok := u.Take(); !ok || !due.Equal(start) {
		t.Error("unpaced ticket not due at start")
	}
}

func TestPacerConcurrentBound(t *testing.T) {
	t.Parallel()
	p := NewPacer(time.Now(), 0, 1000)
	var got atomic.Int64
	done := make(chan struct{})
	for range 8 {
		go func() {
			defer func() { done <- struct{}{} }()
			for {
				if _, _, ok := p.Take(); !ok {
					return
				}
				got.Add(1)
			}
		}()
	}
	for range 8 {
		<-done
	}
	if got.Load() != 1000 {
		t.Errorf("%d tickets handed out, want exactly 1000", got.Load())
	}
}

func TestSeriesRecorder(t *testing.T) {
	t.Parallel()
	start := time.Unix(2000, 0)
	s := NewSeries(start)
	r1, r2 := s.Recorder(), s.Recorder()
	r1.Record(start.Add(100*time.Millisecond), OutOK, time.Millisecond)
	r1.Record(start.Add(1500*time.Millisecond), OutTemp, 2*time.Millisecond)
	r2.Record(start.Add(200*time.Millisecond), OutWrong, 3*time.Millisecond)
	r2.Record(start.Add(3200*time.Millisecond), OutError, 0)
	r1.Flush()
	r2.Flush()
	secs := s.Seconds()
	if len(secs) != 4 {
		t.Fatalf("%d seconds, want 4", len(secs))
	}
	if secs[0].OK != 1 || secs[0].Wrong != 1 || secs[1].Temp != 1 || secs[2].Total() != 0 || secs[3].Errors != 1 {
		t.Errorf("per-second counts wrong: %+v", secs)
	}
	c, h := s.Totals()
	if c.Total() != 4 || h.Count() != 3 {
		t.Errorf("totals %+v, %d latencies; want 4 and 3 (errors are not timed)", c, h.Count())
	}
}

// fakeServer serves the bulk data set from memory through the real
// socketmap.Server: the protocol is real, the answers are computed.
func fakeServer(t testing.TB, d BulkAliases, hook func(key string) (socketmap.Reply, bool)) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &socketmap.Server{Handler: socketmap.HandlerFunc(func(_ context.Context, name, key string) socketmap.Reply {
		if name != "alias" {
			return socketmap.Perm("unknown map")
		}
		if hook != nil {
			if r, ok := hook(key); ok {
				return r
			}
		}
		return d.Expect(key)
	})}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return "inet:" + l.Addr().String()
}

func TestRunChecksEveryAnswer(t *testing.T) {
	t.Parallel()
	d := BulkAliases{N: 1000}
	var n atomic.Int64
	// Every 100th present key gets a wrong value; every 50th lookup a TEMP.
	target := fakeServer(t, d, func(key string) (socketmap.Reply, bool) {
		i := n.Add(1)
		if i%50 == 0 {
			return socketmap.Temp("busy"), true
		}
		if r := d.Expect(key); r.Status == socketmap.StatusOK && strings.HasSuffix(strings.Split(key, "@")[0], "00") {
			return socketmap.OK("someone@else.example"), true
		}
		return socketmap.Reply{}, false
	})
	res, err := Run(context.Background(), Config{
		Target: target, Map: "alias", Data: d, Mix: Mix{Present: 1, Absent: 1, Unrepresentable: 1},
		Conns: 4, Count: 3000, Duration: 30 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	g := res.Good
	if g.Total() != 3000 {
		t.Fatalf("total %d, want 3000", g.Total())
	}
	if g.Temp != 60 {
		t.Errorf("TEMP %d, want 60 (every 50th of 3000)", g.Temp)
	}
	if g.Wrong == 0 || g.Errors != 0 {
		t.Errorf("wrong %d errors %d: the wrong values were not caught", g.Wrong, g.Errors)
	}
	if g.OK+g.NotFound+g.Wrong+g.Temp != 3000 {
		t.Errorf("counts do not add up: %+v", g.Counts)
	}
	var sum uint64
	for _, s := range g.PerSecond {
		sum += s.Total()
	}
	if sum != 3000 {
		t.Errorf("per-second counts sum to %d, want 3000", sum)
	}
}

func TestRunAllCorrectWithFlood(t *testing.T) {
	t.Parallel()
	d := BulkAliases{N: 500}
	target := fakeServer(t, d, nil)
	res, err := Run(context.Background(), Config{
		Target: target, Map: "alias", Data: d, Mix: Mix{Present: 1, Absent: 1},
		Conns: 2, Rate: 2000, Count: 400, Duration: 30 * time.Second,
		Flood: Flood{Ratio: 10, Conns: 4},
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Good.Total() != 400 || res.Good.Correct() != 400 {
		t.Errorf("good: %+v, want 400 correct", res.Good.Counts)
	}
	if res.Flood == nil || res.Flood.Wrong != 0 || res.Flood.NotFound != res.Flood.Total() {
		t.Errorf("flood: %+v, want every unrepresentable key NOTFOUND", res.Flood)
	}
	if d := int(res.Good.OK) - 200; d < -2 || d > 2 { // each connection keeps the ratio within 1
		t.Errorf("mix 1:1 gave OK %d NOTFOUND %d", res.Good.OK, res.Good.NotFound)
	}
}

func TestRunExplicitKeysAndBadConfig(t *testing.T) {
	t.Parallel()
	d := BulkAliases{N: 100}
	target := fakeServer(t, d, nil)
	keys := Keys(d, Mix{Present: 1, Absent: 1}, 10)
	res, err := Run(context.Background(), Config{Target: target, Map: "alias", Data: d, Keys: keys, Conns: 3, Count: 25})
	if err != nil {
		t.Fatal(err)
	}
	if res.Good.Correct() != 25 {
		t.Errorf("explicit keys: %+v", res.Good.Counts)
	}
	res, err = Run(context.Background(), Config{Target: target, Map: "nosuchmap", Data: d, Count: 10, Conns: 1})
	if err != nil || res.Good.Perm != 10 {
		t.Errorf("unknown map: %v, %+v; want 10 PERM", err, res)
	}
	for _, c := range []Config{{Map: "alias", Count: 1}, {Target: target, Count: 1}, {Target: target, Map: "alias"}, {Target: target, Map: "alias", Count: 1, Rate: -1}} {
		if _, err := Run(context.Background(), c); err == nil {
			t.Errorf("Run(%+v) accepted", c)
		}
	}
	if _, err := Run(context.Background(), Config{Target: "inet:127.0.0.1:1", Map: "alias", Count: 1}); err == nil {
		t.Error("Run against a closed port did not fail")
	}
}

func TestSMTPOutcome(t *testing.T) {
	t.Parallel()
	d := BulkAliases{N: 10}
	p, a := d.Present(1), d.Absent(1)
	for _, c := range []struct {
		key  Key
		code int
		want Outcome
	}{
		{p, 250, OutOK}, {a, 250, OutWrong}, {a, 550, OutNotFound}, {p, 550, OutWrong},
		{p, 451, OutTemp}, {a, 450, OutTemp}, {p, 554, OutPerm}, {p, 0, OutError},
	} {
		if got := smtpOutcome(c.key, c.code, nil); got != c.want {
			t.Errorf("smtpOutcome(%q, %d) = %d, want %d", c.key.Key, c.code, got, c.want)
		}
	}
}
