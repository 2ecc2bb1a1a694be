package bench

import (
	"sync"
	"sync/atomic"
	"time"

	"mapgate/socketmap"
)

// Counts are answers by outcome. OK and NotFound count correct answers
// only; a definite answer (OK or NOTFOUND) that differs from the expected
// one is Wrong. Temp, Timeout and Perm count those replies (failures, not
// wrong answers); Errors counts requests that got no reply (connection or
// protocol errors, or a client that died).
type Counts struct {
	OK       uint64 `json:"ok"`
	NotFound uint64 `json:"notfound"`
	Temp     uint64 `json:"temp"`
	Timeout  uint64 `json:"timeout"`
	Perm     uint64 `json:"perm"`
	Wrong    uint64 `json:"wrong"`
	Errors   uint64 `json:"errors"`
}

// Total returns the number of requests counted.
func (c Counts) Total() uint64 {
	return c.OK + c.NotFound + c.Temp + c.Timeout + c.Perm + c.Wrong + c.Errors
}

// Correct returns the number of correct answers (OK + NotFound).
func (c Counts) Correct() uint64 { return c.OK + c.NotFound }

// SuccessRate returns Correct/Total, 1 when nothing was counted.
func (c Counts) SuccessRate() float64 {
	if t := c.Total(); t > 0 {
		return float64(c.Correct()) / float64(t)
	}
	return 1
}

// Add adds o to c.
func (c *Counts) Add(o Counts) {
	c.OK += o.OK
	c.NotFound += o.NotFound
	c.Temp += o.Temp
	c.Timeout += o.Timeout
	c.Perm += o.Perm
	c.Wrong += o.Wrong
	c.Errors += o.Errors
}

// Outcome is the class of one answer.
type Outcome uint8

// Outcomes, see Counts.
const (
	OutOK Outcome = iota
	OutNotFound
	OutTemp
	OutTimeout
	OutPerm
	OutWrong
	OutError
)

// Check classifies reply r (or err) to a request for key.
func Check(key Key, r socketmap.Reply, err error) Outcome {
	if err != nil {
		return OutError
	}
	switch r.Status {
	case socketmap.StatusTemp:
		return OutTemp
	case socketmap.StatusTimeout:
		return OutTimeout
	case socketmap.StatusPerm:
		return OutPerm
	case socketmap.StatusOK, socketmap.StatusNotFound:
		if r.Status != key.Want.Status || (r.Status == socketmap.StatusOK && r.Text != key.Want.Text) {
			return OutWrong
		}
		if r.Status == socketmap.StatusOK {
			return OutOK
		}
		return OutNotFound
	}
	return OutWrong
}

func (c *Counts) count(o Outcome) {
	switch o {
	case OutOK:
		c.OK++
	case OutNotFound:
		c.NotFound++
	case OutTemp:
		c.Temp++
	case OutTimeout:
		c.Timeout++
	case OutPerm:
		c.Perm++
	case OutWrong:
		c.Wrong++
	default:
		c.Errors++
	}
}

// Second is one second of a Series.
type Second struct {
	Counts
	// Latency of the requests answered in this second (any reply; requests
	// without a reply are not timed).
	Latency Histogram
}

// Series records outcomes and latencies per second since a start time,
// plus running totals for a progress line. It is safe for concurrent use;
// writers should go through a Recorder, which batches a second at a time.
type Series struct {
	start time.Time

	mu   sync.Mutex
	secs []Second

	total, correct, wrong, failed atomic.Uint64
}

// NewSeries returns an empty Series starting at start.
func NewSeries(start time.Time) *Series { return &Series{start: start} }

// Start returns the series' start time.
func (s *Series) Start() time.Time { return s.start }

// Seconds returns a copy of the per-second records (the Histograms are
// shared; do not modify them).
func (s *Series) Seconds() []Second {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Second(nil), s.secs...)
}

// Totals returns all counts and the merged latency histogram.
func (s *Series) Totals() (Counts, Histogram) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var c Counts
	var h Histogram
	for i := range s.secs {
		c.Add(s.secs[i].Counts)
		h.Merge(&s.secs[i].Latency)
	}
	return c, h
}

// merge adds one second's records.
func (s *Series) merge(sec int, x *Second) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.secs) <= sec {
		s.secs = append(s.secs, Second{})
	}
	s.secs[sec].Add(x.Counts)
	s.secs[sec].Latency.Merge(&x.Latency)
}

// Recorder batches one writer's records into a Series a second at a time.
// It is not safe for concurrent use: give each worker its own, and Flush
// it when the worker ends.
type Recorder struct {
	s   *Series
	sec int
	cur Second
}

// Recorder returns a new Recorder writing to s.
func (s *Series) Recorder() *Recorder { return &Recorder{s: s, sec: -1} }

// Record adds one outcome at time at, with latency lat (ignored for
// OutError, which has no reply).
func (r *Recorder) Record(at time.Time, o Outcome, lat time.Duration) {
	sec := max(int(at.Sub(r.s.start)/time.Second), 0)
	if sec != r.sec {
		r.Flush()
		r.sec = sec
	}
	r.cur.count(o)
	if o != OutError {
		r.cur.Latency.Record(lat)
	}
	r.s.total.Add(1)
	switch o {
	case OutOK, OutNotFound:
		r.s.correct.Add(1)
	case OutWrong:
		r.s.wrong.Add(1)
	default:
		r.s.failed.Add(1)
	}
}

// Flush writes the pending second to the Series.
func (r *Recorder) Flush() {
	if r.sec >= 0 && r.cur.Total() > 0 {
		r.s.merge(r.sec, &r.cur)
	}
	r.cur = Second{Latency: Histogram{counts: clear0(r.cur.Latency.counts)}}
}

// clear0 zeroes and returns b, so a Recorder reuses its bucket array.
func clear0(b []uint64) []uint64 {
	clear(b)
	return b
}
