package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"mapgate/socketmap"
)

// Config describes one load run against a socketmap server.
type Config struct {
	// Target is the server's endpoint: inet:host:port, host:port or
	// unix:/path. Required.
	Target string
	// Map is the socketmap name to query. Required.
	Map string
	// Data is the data set the server serves; it gives every key's
	// expected answer.
	Data BulkAliases
	// Keys, when set, are sent in order (the n-th request sends
	// Keys[n % len(Keys)]) instead of keys made from Mix.
	Keys []Key
	// Mix is the key mix of the normal traffic. Zero means all present.
	Mix Mix
	// Conns is the number of connections of the normal traffic, each with
	// one request at a time, as Postfix's clients. Zero means 8.
	Conns int
	// Rate is the normal traffic's requests per second over all
	// connections; zero means as fast as possible.
	Rate float64
	// Duration and Count bound the run (the first reached ends it). At
	// least one must be set. Count counts normal requests only.
	Duration time.Duration
	Count    int64
	// Flood adds the attack profile's flood of unrepresentable keys.
	Flood Flood
	// Timeout bounds each request. Zero means 5 s.
	Timeout time.Duration
	// Progress, when not nil, gets a progress line every second; with
	// ProgressTTY the line is rewritten in place ("\r").
	Progress    io.Writer
	ProgressTTY bool
	// Label names the run in reports.
	Label string
}

// Flood is the attack profile: FloodConns extra connections sending
// unrepresentable keys, Ratio flood requests per normal request. With a
// paced normal traffic the flood is paced at Ratio times its rate; unpaced,
// the flood is held to Ratio times the normal requests sent so far.
type Flood struct {
	// Ratio is flood requests per normal request (10 for a 10:1 flood);
	// zero means no flood.
	Ratio float64
	// Conns is the number of flood connections. Zero means Config.Conns.
	Conns int
}

func (c *Config) defaults() error {
	if c.Target == "" || c.Map == "" {
		return errors.New("bench: need a target and a map name")
	}
	if c.Duration <= 0 && c.Count <= 0 {
		return errors.New("bench: need a duration or a count")
	}
	if c.Rate < 0 || math.IsNaN(c.Rate) || c.Flood.Ratio < 0 || math.IsNaN(c.Flood.Ratio) {
		return errors.New("bench: rate and flood ratio must be >= 0")
	}
	if err := c.Mix.validate(); err != nil {
		return err
	}
	if c.Conns <= 0 {
		c.Conns = 8
	}
	if c.Flood.Ratio > 0 && c.Flood.Conns <= 0 {
		c.Flood.Conns = c.Conns
	}
	if c.Timeout <= 0 {
		c.Timeout = 5 * time.Second
	}
	return nil
}

// maxRunTime bounds any run whose only bound is a count.
const maxRunTime = 10 * time.Minute

// Run drives the load described by cfg until its duration or count is
// reached or ctx is done, and returns the result. Connection failures are
// counted as errors and the connection redialled (at most every 10 ms);
// Run fails only on a bad Config or when no connection can be made at all.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	// Fail early, with the reason, if the target is not there.
	probe, err := socketmap.Dial(cfg.Target)
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	probe.Close()

	limit := cfg.Duration
	if limit <= 0 {
		limit = maxRunTime
	}
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()

	load0 := LoadAvg()
	start := time.Now()
	good := NewSeries(start)
	flood := NewSeries(start)
	pacer := NewPacer(start, cfg.Rate, cfg.Count)
	var wg sync.WaitGroup
	var goodDone atomic.Bool
	for i := range cfg.Conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := worker{cfg: &cfg, series: good, pacer: pacer, mixer: cfg.Mix.Mixer()}
			w.run(ctx, i)
		}()
	}
	var fwg sync.WaitGroup
	fctx, fcancel := context.WithCancel(ctx)
	defer fcancel()
	if cfg.Flood.Ratio > 0 {
		var fp *Pacer
		if cfg.Rate > 0 {
			fp = NewPacer(start, cfg.Rate*cfg.Flood.Ratio, 0)
		} else {
			fp = NewPacer(start, 0, 0)
		}
		for i := range cfg.Flood.Conns {
			fwg.Add(1)
			go func() {
				defer fwg.Done()
				w := worker{cfg: &cfg, series: flood, pacer: fp, flood: true, mixer: Mix{Unrepresentable: 1}.Mixer()}
				if cfg.Rate <= 0 {
					w.hold = func() bool {
						return float64(flood.total.Load()) < cfg.Flood.Ratio*float64(good.total.Load()+1) || goodDone.Load()
					}
				}
				w.run(fctx, i)
			}()
		}
	}
	stopProgress := startProgress(&cfg, good, flood, start)
	wg.Wait()
	goodDone.Store(true)
	elapsed := time.Since(start)
	fcancel()
	fwg.Wait()
	stopProgress()

	res := &Result{
		Label: cfg.Label, Target: cfg.Target, Map: cfg.Map,
		Conns: cfg.Conns, Rate: cfg.Rate, Mix: cfg.Mix.String(),
		Start: start, Elapsed: elapsed.Seconds(), LoadBefore: load0, LoadAfter: LoadAvg(),
	}
	if len(cfg.Keys) > 0 {
		res.Mix = "explicit keys"
	}
	res.Good = summarize(good, elapsed)
	if cfg.Flood.Ratio > 0 {
		res.FloodRatio = cfg.Flood.Ratio
		res.FloodConns = cfg.Flood.Conns
		fs := summarize(flood, elapsed)
		res.Flood = &fs
	}
	return res, nil
}

// worker is one connection's request loop.
type worker struct {
	cfg    *Config
	series *Series
	pacer  *Pacer
	mixer  *Mixer
	flood  bool
	hold   func() bool // unpaced flood: may the next request go?
}

func (w *worker) run(ctx context.Context, id int) {
	rec := w.series.Recorder()
	defer rec.Flush()
	var c *socketmap.Client
	defer func() {
		if c != nil {
			c.Close()
		}
	}()
	var lastDial time.Time
	for ctx.Err() == nil {
		if w.hold != nil && !w.hold() {
			if sleepCtx(ctx, time.Millisecond) != nil {
				return
			}
			continue
		}
		n, due, ok := w.pacer.Take()
		if !ok {
			return
		}
		if w.pacer.Paced() {
			if sleepCtx(ctx, time.Until(due)) != nil {
				return
			}
		}
		key := w.key(n)
		if c == nil {
			if d := time.Since(lastDial); d < 10*time.Millisecond {
				if sleepCtx(ctx, 10*time.Millisecond-d) != nil {
					return
				}
			}
			lastDial = time.Now()
			nc, err := socketmap.Dial(w.cfg.Target)
			if err != nil {
				rec.Record(time.Now(), OutError, 0)
				continue
			}
			c = nc
			c.Timeout = w.cfg.Timeout
		}
		t0 := time.Now()
		from := t0
		if w.pacer.Paced() && due.Before(t0) {
			from = due
		}
		r, err := c.Lookup(w.cfg.Map, key.Key)
		t1 := time.Now()
		rec.Record(t1, Check(key, r, err), t1.Sub(from))
		if err != nil {
			c.Close()
			c = nil
		}
	}
}

// key returns the key of ticket n.
func (w *worker) key(n int64) Key {
	if !w.flood && len(w.cfg.Keys) > 0 {
		return w.cfg.Keys[n%int64(len(w.cfg.Keys))]
	}
	k := w.mixer.Next()
	return w.cfg.Data.Key(k, spread(int(n), w.cfg.Data.N))
}

// sleepCtx sleeps for d or until ctx is done, whichever comes first.
func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// startProgress writes a progress line every second until the returned
// function is called.
func startProgress(cfg *Config, good, flood *Series, start time.Time) (stop func()) {
	if cfg.Progress == nil {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(time.Second)
		defer t.Stop()
		var lastG, lastF uint64
		for {
			select {
			case <-done:
				if cfg.ProgressTTY {
					fmt.Fprint(cfg.Progress, "\n")
				}
				return
			case <-t.C:
			}
			g, f := good.total.Load(), flood.total.Load()
			line := fmt.Sprintf("%s %4.0fs  %7d req/s  correct %d  wrong %d  failed %d",
				cfg.Label, time.Since(start).Seconds(), g-lastG, good.correct.Load(), good.wrong.Load(), good.failed.Load())
			if cfg.Flood.Ratio > 0 {
				line += fmt.Sprintf("  | flood %7d req/s  wrong %d  failed %d", f-lastF, flood.wrong.Load(), flood.failed.Load())
			}
			lastG, lastF = g, f
			if cfg.ProgressTTY {
				fmt.Fprintf(cfg.Progress, "\r\033[K%s", line)
			} else {
				fmt.Fprintln(cfg.Progress, line)
			}
		}
	}()
	return func() {
		close(done)
		wg.Wait()
	}
}
