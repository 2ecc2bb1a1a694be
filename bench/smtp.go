package bench

import (
	"context"
	"fmt"
	"net"
	"net/textproto"
	"sync"
	"time"

	"mapgate/socketmap"
)

// SMTPConfig drives Postfix's smtpd the way mail arrives: many short SMTP
// sessions, each one message with a few recipients, so that smtpd
// processes are reused across clients as in production (a poisoned
// process then fails the next clients too). The RCPT reply is the lookup's
// answer: 250 found, 550 unknown, 4xx a temporary lookup failure.
type SMTPConfig struct {
	// Addr is the smtpd's host:port. Required.
	Addr string
	// Data gives each key's expected answer.
	Data BulkAliases
	// Mix is the normal traffic's key mix (zero: all present).
	Mix Mix
	// Conns and Rate are the normal traffic's concurrent sessions and
	// recipients per second (Rate is required: smtpd is driven at a steady
	// rate).
	Conns int
	Rate  float64
	// RcptsPerSession is recipients per session; zero means 3.
	RcptsPerSession int
	// Duration of the run. Required.
	Duration time.Duration
	// FloodRatio unrepresentable recipients per normal one are sent on
	// FloodConns sessions between FloodFrom and FloodTo (offsets from the
	// start). Zero FloodRatio: no flood.
	FloodRatio         float64
	FloodConns         int
	FloodFrom, FloodTo time.Duration
	// Timeout bounds each SMTP reply; zero means 30 s.
	Timeout time.Duration
}

// SMTPLoad runs cfg and returns the normal traffic's and the flood's
// series, both starting at the same time. Latency is RCPT sent to reply
// (the session's connect, EHLO and MAIL are not timed).
func SMTPLoad(ctx context.Context, cfg SMTPConfig) (good, flood *Series, err error) {
	if cfg.Addr == "" || cfg.Rate <= 0 || cfg.Duration <= 0 {
		return nil, nil, fmt.Errorf("bench: SMTPLoad needs an address, a rate and a duration")
	}
	cfg.Conns = max(cfg.Conns, 1)
	cfg.FloodConns = max(cfg.FloodConns, 1)
	if cfg.RcptsPerSession <= 0 {
		cfg.RcptsPerSession = 3
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Duration)
	defer cancel()
	start := time.Now()
	good, flood = NewSeries(start), NewSeries(start)
	var wg sync.WaitGroup
	gp := NewPacer(start, cfg.Rate, 0)
	for range cfg.Conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := smtpWorker{cfg: &cfg, series: good, pacer: gp, mixer: cfg.Mix.Mixer()}
			w.run(ctx)
		}()
	}
	if cfg.FloodRatio > 0 && cfg.FloodTo > cfg.FloodFrom {
		fstart := start.Add(cfg.FloodFrom)
		fp := NewPacer(fstart, cfg.Rate*cfg.FloodRatio, 0)
		fctx, fcancel := context.WithDeadline(ctx, start.Add(cfg.FloodTo))
		defer fcancel()
		for range cfg.FloodConns {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if sleepCtx(fctx, time.Until(fstart)) != nil {
					return
				}
				w := smtpWorker{cfg: &cfg, series: flood, pacer: fp, mixer: Mix{Unrepresentable: 1}.Mixer()}
				w.run(fctx)
			}()
		}
	}
	wg.Wait()
	return good, flood, nil
}

type smtpWorker struct {
	cfg    *SMTPConfig
	series *Series
	pacer  *Pacer
	mixer  *Mixer
}

// smtpSession is one open SMTP session inside a mail transaction.
type smtpSession struct {
	nc    net.Conn
	tp    *textproto.Conn
	rcpts int
}

func (w *smtpWorker) run(ctx context.Context) {
	rec := w.series.Recorder()
	defer rec.Flush()
	var s *smtpSession
	defer func() {
		if s != nil {
			s.close()
		}
	}()
	for ctx.Err() == nil {
		n, due, _ := w.pacer.Take()
		if sleepCtx(ctx, time.Until(due)) != nil {
			return
		}
		key := w.cfg.Data.Key(w.mixer.Next(), spread(int(n), w.cfg.Data.N))
		if s == nil {
			var err error
			if s, err = w.open(!isASCII(key.Key)); err != nil {
				rec.Record(time.Now(), OutError, 0)
				s = nil
				// Do not spin on a refused connection.
				if sleepCtx(ctx, 10*time.Millisecond) != nil {
					return
				}
				continue
			}
		}
		t0 := time.Now()
		from := t0
		if due.Before(t0) {
			from = due
		}
		_ = s.nc.SetDeadline(t0.Add(w.cfg.Timeout))
		code, err := s.cmd("RCPT TO:<%s>", key.Key)
		t1 := time.Now()
		rec.Record(t1, smtpOutcome(key, code, err), t1.Sub(from))
		s.rcpts++
		if err != nil || code == 421 || s.rcpts >= w.cfg.RcptsPerSession {
			s.close()
			s = nil
		}
	}
}

// open starts a session: greeting, EHLO, MAIL FROM (SMTPUTF8 for the flood).
func (w *smtpWorker) open(utf8 bool) (*smtpSession, error) {
	nc, err := net.DialTimeout("tcp", w.cfg.Addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	_ = nc.SetDeadline(time.Now().Add(w.cfg.Timeout))
	s := &smtpSession{nc: nc, tp: textproto.NewConn(nc)}
	if code, err := s.read(); err != nil || code != 220 {
		s.close()
		return nil, fmt.Errorf("greeting %d: %v", code, err)
	}
	if code, err := s.cmd("EHLO client.example.org"); err != nil || code != 250 {
		s.close()
		return nil, fmt.Errorf("EHLO %d: %v", code, err)
	}
	mail := "MAIL FROM:<sender@example.org>"
	if utf8 {
		mail += " SMTPUTF8"
	}
	if code, err := s.cmd("%s", mail); err != nil || code != 250 {
		s.close()
		return nil, fmt.Errorf("MAIL %d: %v", code, err)
	}
	return s, nil
}

func (s *smtpSession) cmd(format string, args ...any) (int, error) {
	if err := s.tp.PrintfLine(format, args...); err != nil {
		return 0, err
	}
	return s.read()
}

func (s *smtpSession) read() (int, error) {
	code, _, err := s.tp.ReadResponse(0)
	if code != 0 {
		return code, nil // a reply, whatever its code
	}
	return 0, err
}

func (s *smtpSession) close() {
	_ = s.nc.SetDeadline(time.Now().Add(time.Second))
	_ = s.tp.PrintfLine("QUIT")
	s.nc.Close()
}

// smtpOutcome classifies a RCPT reply to a lookup of key: 250 is found,
// 550 (and any 5.1.1-style 55x) unknown, 4xx a temporary failure.
func smtpOutcome(key Key, code int, err error) Outcome {
	switch {
	case code == 0:
		return OutError
	case code == 250:
		if key.Want.Status == socketmap.StatusOK {
			return OutOK
		}
		return OutWrong
	case code == 550:
		if key.Want.Status != socketmap.StatusOK {
			return OutNotFound
		}
		return OutWrong
	case code >= 400 && code < 500:
		return OutTemp
	default:
		return OutPerm
	}
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
