package bench

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// Result is the outcome of one Run.
type Result struct {
	Label      string    `json:"label,omitempty"`
	Target     string    `json:"target"`
	Map        string    `json:"map"`
	Conns      int       `json:"conns"`
	Rate       float64   `json:"rate_per_s"` // offered normal rate; 0: as fast as possible
	Mix        string    `json:"mix"`        // present:absent:unrepresentable
	FloodRatio float64   `json:"flood_ratio,omitempty"`
	FloodConns int       `json:"flood_conns,omitempty"`
	Start      time.Time `json:"start"`
	Elapsed    float64   `json:"elapsed_s"`
	// LoadBefore and LoadAfter are /proc/loadavg at the start and end: the
	// machine is shared, so figures are only as good as the load allows.
	LoadBefore string        `json:"loadavg_before"`
	LoadAfter  string        `json:"loadavg_after"`
	Good       ClassSummary  `json:"good"`
	Flood      *ClassSummary `json:"flood,omitempty"`
}

// ClassSummary sums up one class of traffic (normal or flood).
type ClassSummary struct {
	Counts
	// Throughput is requests answered (any reply) per second of the run;
	// CorrectPerSec counts correct answers only.
	Throughput    float64 `json:"throughput_per_s"`
	CorrectPerSec float64 `json:"correct_per_s"`
	SuccessRate   float64 `json:"success_rate"`
	Latency       Latency `json:"latency"`
	// PerSecond has one entry per second of the run.
	PerSecond []SecondSummary `json:"per_second"`
}

// Latency holds latency figures in microseconds.
type Latency struct {
	P50  float64 `json:"p50_us"`
	P99  float64 `json:"p99_us"`
	P999 float64 `json:"p999_us"`
	Mean float64 `json:"mean_us"`
	Max  float64 `json:"max_us"`
}

// SecondSummary is one second of a run.
type SecondSummary struct {
	T int `json:"t"` // seconds since the start
	Counts
	P50 float64 `json:"p50_us"`
	P99 float64 `json:"p99_us"`
}

func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// LatencyOf returns h's figures.
func LatencyOf(h *Histogram) Latency {
	return Latency{
		P50: us(h.Quantile(0.50)), P99: us(h.Quantile(0.99)), P999: us(h.Quantile(0.999)),
		Mean: us(h.Mean()), Max: us(h.Max()),
	}
}

// Summarize sums up series s over a run of the given length.
func Summarize(s *Series, elapsed time.Duration) ClassSummary {
	return summarize(s, elapsed)
}

func summarize(s *Series, elapsed time.Duration) ClassSummary {
	c, h := s.Totals()
	cs := ClassSummary{Counts: c, SuccessRate: c.SuccessRate(), Latency: LatencyOf(&h)}
	if sec := elapsed.Seconds(); sec > 0 {
		cs.Throughput = float64(c.Total()-c.Errors) / sec
		cs.CorrectPerSec = float64(c.Correct()) / sec
	}
	for i, x := range s.Seconds() {
		cs.PerSecond = append(cs.PerSecond, SecondSummary{
			T: i, Counts: x.Counts,
			P50: us(x.Latency.Quantile(0.5)), P99: us(x.Latency.Quantile(0.99)),
		})
	}
	return cs
}

// LoadAvg returns the first three fields of /proc/loadavg ("" when it
// cannot be read).
func LoadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) > 3 {
		f = f[:3]
	}
	return strings.Join(f, " ")
}

// WriteText writes a readable summary of r.
func (r *Result) WriteText(w io.Writer) {
	title := r.Label
	if title == "" {
		title = "bench"
	}
	rate := "as fast as possible"
	if r.Rate > 0 {
		rate = fmt.Sprintf("%.0f req/s offered", r.Rate)
	}
	fmt.Fprintf(w, "%s: %s map %q, %d connections, %s, mix %s, %.1f s (load %s → %s)\n",
		title, r.Target, r.Map, r.Conns, rate, r.Mix, r.Elapsed, r.LoadBefore, r.LoadAfter)
	writeClass(w, "normal", &r.Good)
	if r.Flood != nil {
		fmt.Fprintf(w, "  flood %g:1 of unrepresentable keys on %d connections:\n", r.FloodRatio, r.FloodConns)
		writeClass(w, "flood", r.Flood)
	}
}

func writeClass(w io.Writer, name string, c *ClassSummary) {
	fmt.Fprintf(w, "  %-6s %9.0f req/s  correct %.4f%%  p50 %s  p99 %s  p99.9 %s  max %s\n",
		name, c.Throughput, 100*c.SuccessRate, fmtUS(c.Latency.P50), fmtUS(c.Latency.P99), fmtUS(c.Latency.P999), fmtUS(c.Latency.Max))
	fmt.Fprintf(w, "         total %d: OK %d  NOTFOUND %d  TEMP %d  TIMEOUT %d  PERM %d  wrong %d  errors %d\n",
		c.Total(), c.OK, c.NotFound, c.Temp, c.Timeout, c.Perm, c.Wrong, c.Errors)
}

// fmtUS formats microseconds readably.
func fmtUS(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.2fs", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.2fms", v/1e3)
	default:
		return fmt.Sprintf("%.0fµs", v)
	}
}
