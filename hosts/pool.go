package hosts

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"sort"
	"sync/atomic"
	"time"
)

// pool is one map's database/sql pool on one host, with a gate in front:
// at most MaxOpen attempts hold one of its slots at a time, and an attempt
// waits for a slot no longer than its deadline.
//
// database/sql's own wait for a connection has no deadline when the query
// runs without a cancellable context (see attemptContext). The gate admits
// no more attempts than the pool has connections, so that wait never
// happens: every wait for a connection is the gate's, and bounded. The pool
// holds two connections more than the gate admits, for column discovery.
type pool struct {
	db    *sql.DB
	slots chan struct{}
	desc  string // for metrics and logs: no password

	// waits and waited count the attempts that found no free slot and
	// their time waiting (nanoseconds), for the pool's metrics.
	waits, waited atomic.Int64
}

// stats is database/sql's statistics for the pool, with the gate's waits
// (the only waits for a connection there are).
func (pl *pool) stats() sql.DBStats {
	st := pl.db.Stats()
	st.WaitCount += pl.waits.Load()
	st.WaitDuration += time.Duration(pl.waited.Load())
	return st
}

// discoveryConns is the pool's room beyond the gate, for column discovery
// (which does not pass the gate).
const discoveryConns = 2

// errBusy: every slot of the host's pool stayed taken until the attempt's
// deadline (by attempts stalled on the host, typically).
var errBusy = errors.New("every connection to the host stayed busy")

// pool returns mapName's pool for the connection settings (a key: see
// Engine.Connector), opening
// it (lazily: nothing is connected) on first use.
func (p *Pools) pool(mapName string, connector driver.Connector, settings, desc string) (*pool, error) {
	key := mapName + "\x00" + settings
	p.mu.Lock()
	defer p.mu.Unlock()
	if pl, ok := p.dbs[key]; ok {
		return pl, nil
	}
	db := sql.OpenDB(connector)
	db.SetMaxOpenConns(p.opts.MaxOpen + discoveryConns)
	db.SetMaxIdleConns(p.opts.MaxOpen + discoveryConns)
	db.SetConnMaxIdleTime(60 * time.Second)
	pl := &pool{db: db, slots: make(chan struct{}, p.opts.MaxOpen), desc: mapName + " " + desc}
	p.dbs[key] = pl
	return pl, nil
}

// acquire takes one of the pool's slots, waiting at most until deadline.
// waited tells whether a slot was not free at once. The caller releases
// the slot.
func (pl *pool) acquire(deadline time.Time) (waited bool, err error) {
	select {
	case pl.slots <- struct{}{}:
		return false, nil
	default:
	}
	start := time.Now()
	pl.waits.Add(1)
	defer func() { pl.waited.Add(int64(time.Since(start))) }()
	d := deadline.Sub(start)
	if d <= 0 {
		return true, errBusy
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case pl.slots <- struct{}{}:
		return true, nil
	case <-tm.C:
		return true, errBusy
	}
}

// idle reports whether the pool holds an idle connection (a query can
// start without connecting, unless another takes it first).
func (pl *pool) idle() bool { return pl.db.Stats().Idle > 0 }

// release gives back a slot taken by acquire.
func (pl *pool) release() { <-pl.slots }

// attemptContext returns the context an attempt's statements run under.
//
// When the attempt has its whole QueryTimeout left (the usual case: a slot
// was free at once) and the pool has an idle connection for it, it is a
// context that is never cancelled: a cancellable one makes database/sql
// and the driver start a watcher per query, two goroutine wake-ups per
// query. The connection's read and write timeouts (QueryTimeout) bound the
// attempt then: a stalled host fails the first read that waits for it.
//
// Otherwise (the attempt waited for a slot, the lookup's own deadline is
// nearer, or a connection must be opened, whose dial and handshake would
// each have their own timeout) the attempt runs under deadline: the driver
// gives up the dial or closes the connection when it passes, so the
// attempt ends in time whatever it was waiting for.
func (t *Target) attemptContext(ctx context.Context, now, deadline time.Time) (context.Context, context.CancelFunc) {
	if ctx.Done() != nil {
		ctx = context.WithoutCancel(ctx) // lookup's query has done it already
	}
	if t.fullBudget(now, deadline) && t.pool.idle() {
		return ctx, func() {}
	}
	return context.WithDeadline(ctx, deadline)
}

// fullBudget reports whether an attempt that must end by deadline still
// has (nearly) its whole QueryTimeout at now.
func (t *Target) fullBudget(now, deadline time.Time) bool {
	return deadline.Sub(now) >= t.queryTimeout-t.queryTimeout/20
}

// attemptDeadline is when an attempt starting now must end: QueryTimeout
// from now, or the lookup's deadline (zero: none) if sooner.
func (t *Target) attemptDeadline(now, lookup time.Time) time.Time {
	d := now.Add(t.queryTimeout)
	if !lookup.IsZero() && lookup.Before(d) {
		return lookup
	}
	return d
}

// health is what the lookups last saw of a host, beyond its breaker: the
// last time it answered and the last time it failed (unix nanoseconds).
type health struct {
	answered atomic.Int64
	faulted  atomic.Int64
}

func (h *health) sawAnswer(now time.Time) { h.answered.Store(now.UnixNano()) }
func (h *health) sawFault(now time.Time)  { h.faulted.Store(now.UnixNano()) }

// answering reports whether the host's last outcome was an answer.
func (h *health) answering() bool { return h.answered.Load() > h.faulted.Load() }

// lastResortOrder sorts the hosts a lookup left out of its first pass for
// its second: hosts whose last outcome was an answer first, then the host
// that failed longest ago (a host that was killed and has come back is
// tried before one that has just stalled).
func lastResortOrder(ts []*Target) {
	sort.SliceStable(ts, func(i, j int) bool {
		a, b := &ts[i].host.health, &ts[j].host.health
		if a.answering() != b.answering() {
			return a.answering()
		}
		return a.faulted.Load() < b.faulted.Load()
	})
}
