package hosts

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/sony/gobreaker/v2"

	"mapgate/engine"
)

// PoolOptions size the database side. The zero value takes the defaults.
type PoolOptions struct {
	// MaxOpen is the most lookups one map runs at a time on one host, and
	// so the most connections it holds there for one account and database
	// (each map has its own pools: one slow map cannot take the connections
	// of another). Default 8.
	MaxOpen int
	// DialTimeout bounds connecting to a host. Default 1s.
	DialTimeout time.Duration
	// QueryTimeout bounds one attempt on one host: the wait for one of the
	// pool's connections, connect, prepare, query and read together. A
	// stalled host turns into a failover after this, whatever the
	// concurrency. Default 2s.
	QueryTimeout time.Duration
	// BreakerTimeout is how long a host whose breaker opened is kept out
	// (quarantined) before a lookup probes it again, the first time. Each
	// further opening in a row multiplies it (5s, 10s, 15s, ... capped at
	// BreakerMaxTimeout), with ±10% jitter so hosts are not probed in
	// step; a host that closes its breaker starts again at 1×. Default 5s
	// (Postfix's retry_interval is a flat 60s).
	BreakerTimeout time.Duration
	// BreakerMaxTimeout caps the quarantine. Default 60s.
	BreakerMaxTimeout time.Duration
	// ProbeInterval is how often a host is probed when no host is usable:
	// the last hosts are never refused outright, so a database that comes
	// back is used at once. Default 1s (or BreakerTimeout if shorter).
	ProbeInterval time.Duration
	// TripAfter consecutive host faults open a host's breaker. Default 3.
	TripAfter uint32
	// Logger receives breaker state changes.
	Logger *slog.Logger
	// OnBreaker, when set, is called on every breaker state change.
	OnBreaker func(host string, from, to gobreaker.State)
}

// conn is what a table's engine needs to connect.
func (o *PoolOptions) conn() engine.ConnOptions {
	return engine.ConnOptions{DialTimeout: o.DialTimeout, QueryTimeout: o.QueryTimeout, Logger: o.Logger}
}

func (o *PoolOptions) setDefaults() {
	if o.MaxOpen <= 0 {
		o.MaxOpen = 8
	}
	if o.DialTimeout <= 0 {
		o.DialTimeout = time.Second
	}
	if o.QueryTimeout <= 0 {
		o.QueryTimeout = 2 * time.Second
	}
	if o.BreakerTimeout <= 0 {
		o.BreakerTimeout = 5 * time.Second
	}
	if o.BreakerMaxTimeout <= 0 {
		o.BreakerMaxTimeout = 60 * time.Second
	}
	if o.BreakerMaxTimeout < o.BreakerTimeout {
		o.BreakerMaxTimeout = o.BreakerTimeout
	}
	if o.ProbeInterval <= 0 {
		o.ProbeInterval = time.Second
	}
	if o.ProbeInterval > o.BreakerTimeout {
		o.ProbeInterval = o.BreakerTimeout
	}
	if o.TripAfter == 0 {
		o.TripAfter = 3
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// Pools owns every database connection pool and every host breaker. Maps
// that talk to the same host share its breaker; each map has its own pools
// (one per account, database and connection charset on a host), shared by
// its .cf files.
type Pools struct {
	opts PoolOptions

	mu    sync.Mutex
	hosts map[string]*hostState
	dbs   map[string]*pool
}

// NewPools returns an empty registry.
func NewPools(opts PoolOptions) *Pools {
	opts.setDefaults()
	return &Pools{opts: opts, hosts: map[string]*hostState{}, dbs: map[string]*pool{}}
}

// Options returns the effective options.
func (p *Pools) Options() PoolOptions { return p.opts }

// Close closes every pool.
func (p *Pools) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	var errs []error
	for k, pl := range p.dbs {
		errs = append(errs, pl.db.Close())
		delete(p.dbs, k)
	}
	return errors.Join(errs...)
}

// HostStatus is one host's breaker, for metrics and health checks.
type HostStatus struct {
	Host  string
	State gobreaker.State
}

// Hosts lists every host's breaker state.
func (p *Pools) Hosts() []HostStatus {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]HostStatus, 0, len(p.hosts))
	for k, h := range p.hosts {
		out = append(out, HostStatus{Host: k, State: h.cb.State()})
	}
	return out
}

// DBStats returns database/sql's pool statistics per pool, keyed by a
// description without the password ("map user@net(addr)/db").
func (p *Pools) DBStats() map[string]sql.DBStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[string]sql.DBStats, len(p.dbs))
	for _, pl := range p.dbs {
		out[pl.desc] = pl.stats()
	}
	return out
}

// hostState is one database server's breaker and quarantine.
//
// gobreaker decides when a host is broken (TripAfter consecutive host
// faults; one failed probe while half-open) and lets one probe through
// per ProbeInterval once open. On top of that, each opening quarantines
// the host for a time that grows with repeated openings (Envoy's outlier
// detection does the same): while other hosts are usable, a quarantined
// host gets no lookups at all; when none is, probes go to it anyway.
type hostState struct {
	name   string
	cb     *gobreaker.TwoStepCircuitBreaker[struct{}]
	health health

	mu        sync.Mutex
	ejections int
	until     time.Time
}

// quarantined reports whether the host should be skipped while other hosts
// are usable.
func (h *hostState) quarantined(now time.Time) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return now.Before(h.until)
}

// opened records a breaker opening and sets the quarantine.
func (h *hostState) opened(now time.Time, base, max time.Duration) time.Duration {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.ejections++
	d := base * time.Duration(h.ejections)
	if d > max || d <= 0 {
		d = max
	}
	// ±10% jitter.
	d += time.Duration((rand.Float64()*0.2 - 0.1) * float64(d))
	h.until = now.Add(d)
	return d
}

// closed ends the quarantine and resets the multiplier.
func (h *hostState) closed() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.ejections = 0
	h.until = time.Time{}
}

// excluded wraps an outcome that must count neither as a success nor as a
// failure of the host (a key's or the query's own fault, a client that left).
type excluded struct{ err error }

func (e excluded) Error() string { return e.err.Error() }
func (e excluded) Unwrap() error { return e.err }

func (p *Pools) host(name string) *hostState {
	p.mu.Lock()
	defer p.mu.Unlock()
	if h, ok := p.hosts[name]; ok {
		return h
	}
	log := p.opts.Logger
	onChange := p.opts.OnBreaker
	trip := p.opts.TripAfter
	base, max := p.opts.BreakerTimeout, p.opts.BreakerMaxTimeout
	h := &hostState{name: name}
	h.cb = gobreaker.NewTwoStepCircuitBreaker[struct{}](gobreaker.Settings{
		Name:        name,
		MaxRequests: 1,
		Timeout:     p.opts.ProbeInterval,
		ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= trip },
		IsExcluded: func(err error) bool {
			if err == nil {
				return false // an answer: checked first, errors.As allocates
			}
			var ex excluded
			return errors.As(err, &ex)
		},
		OnStateChange: func(name string, from, to gobreaker.State) {
			switch to {
			case gobreaker.StateOpen:
				d := h.opened(time.Now(), base, max)
				log.Warn("host breaker", "host", name, "from", from.String(), "to", to.String(), "quarantine", d.Round(time.Millisecond).String())
			case gobreaker.StateClosed:
				h.closed()
				log.Info("host breaker", "host", name, "from", from.String(), "to", to.String())
			default:
				log.Info("host breaker", "host", name, "from", from.String(), "to", to.String())
			}
			if onChange != nil {
				onChange(name, from, to)
			}
		},
	})
	p.hosts[name] = h
	return h
}

// Target is one host as one map uses it: the host's breaker, the map's pool
// there, and the map's statement prepared on that pool.
type Target struct {
	host  *hostState
	pool  *pool
	db    *sql.DB // pool.db
	query string
	// queryTimeout is one attempt's budget (PoolOptions.QueryTimeout).
	queryTimeout time.Duration

	// engine is the table's: it classifies the errors.
	engine engine.Engine

	mu   sync.Mutex
	stmt *sql.Stmt
}

// Targets returns one Target per host of table cf, for its statement, in
// the map mapName. The table's engine connects and classifies errors.
func (p *Pools) Targets(mapName string, cf *engine.Table) ([]*Target, error) {
	out := make([]*Target, 0, len(cf.Hosts))
	for _, h := range cf.Hosts {
		conn, key, desc, err := cf.Engine.Connector(cf, h, p.opts.conn())
		if err != nil {
			return nil, err
		}
		pl, err := p.pool(mapName, conn, key, desc)
		if err != nil {
			return nil, fmt.Errorf("%s: host %s: %w", cf.Path, h.Spec, err)
		}
		if cf.IdleInterval > 0 {
			pl.db.SetConnMaxIdleTime(cf.IdleInterval)
		}
		out = append(out, &Target{host: p.host(h.Name()), pool: pl, db: pl.db, query: cf.Statement,
			queryTimeout: p.opts.QueryTimeout, engine: cf.Engine})
	}
	return out, nil
}

// prepared returns the target's statement, preparing it on first use. A
// failed prepare is not cached: the next lookup tries again. No lock is
// held across the round trip (a stalled host would hold every lookup of
// the map behind it, past any deadline): lookups that find no statement
// prepare one each, and the first one stored wins.
func (t *Target) prepared(ctx context.Context) (*sql.Stmt, error) {
	t.mu.Lock()
	st := t.stmt
	t.mu.Unlock()
	if st != nil {
		return st, nil
	}
	st, err := t.db.PrepareContext(ctx, t.query)
	if err != nil {
		return nil, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stmt != nil {
		st.Close()
		return t.stmt, nil
	}
	t.stmt = st
	return st, nil
}

// Row collects one lookup's result values: every non-NULL column of every
// row, in order.
type rowSink func(value []byte) error

// errMultipleResults mirrors Postfix: several result sets are an error.
var errMultipleResults = errors.New("query returned more than one result set")

// errNoResultSet mirrors Postfix's require_result_set = yes.
var errNoResultSet = errors.New("query returned no result set (require_result_set = yes)")

// run executes the statement with args on this target, feeding each
// non-NULL value to sink. The caller holds one of the pool's slots (see
// pool.acquire), so database/sql has a connection for it at once; deadline
// bounds the attempt (see attemptContext).
func (t *Target) run(ctx context.Context, now, deadline time.Time, requireResultSet bool, args []any, sink rowSink) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	ctx, cancel := t.attemptContext(ctx, now, deadline)
	defer cancel()
	st, err := t.prepared(ctx)
	if err != nil {
		return err
	}
	rows, err := st.QueryContext(ctx, args...)
	if err != nil {
		return err
	}
	return readRows(rows, requireResultSet, sink)
}

// readRows feeds each non-NULL value of rows to sink and closes rows.
func readRows(rows *sql.Rows, requireResultSet bool, sink rowSink) error {
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return err
	}
	if len(cols) == 0 {
		if requireResultSet {
			return errNoResultSet
		}
		return nil
	}
	vals := make([]sql.RawBytes, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return err
		}
		for _, v := range vals {
			if v == nil { // NULL columns are skipped, as Postfix does
				continue
			}
			if err := sink(v); err != nil {
				return err
			}
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if rows.NextResultSet() {
		return errMultipleResults
	}
	return rows.Err()
}

// CloseStmt releases the prepared statement (on reload).
func (t *Target) CloseStmt() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stmt != nil {
		t.stmt.Close()
		t.stmt = nil
	}
}

// Connect opens a connection pool to the first host of cf that answers a
// ping, configured exactly as the maps connect (by the table's engine:
// account, database, encoding, TLS). It is for tools such as the audit;
// the caller closes the pool.
func Connect(ctx context.Context, cf *engine.Table, po PoolOptions) (*sql.DB, engine.Host, error) {
	po.setDefaults()
	var errs []error
	for _, h := range cf.Hosts {
		connector, _, _, err := cf.Engine.Connector(cf, h, po.conn())
		if err != nil {
			return nil, h, err
		}
		db := sql.OpenDB(connector)
		db.SetMaxOpenConns(2)
		if err := db.PingContext(ctx); err != nil {
			db.Close()
			errs = append(errs, fmt.Errorf("%s: %w", h.Spec, err))
			continue
		}
		return db, h, nil
	}
	return nil, engine.Host{}, fmt.Errorf("%s: no host answered: %w", cf.Path, errors.Join(errs...))
}

// Check prepares the target's query on one of its pool's connections and,
// given probe values (nil: prepare only), runs it with them and reads what
// it returns as a lookup does (mapgate check). A statement can prepare and
// still fail for every key when it runs: a COLLATE that the bound value's
// character set cannot take is error 1253 only then. The statement is
// closed.
func (t *Target) Check(ctx context.Context, requireResultSet bool, probe []any) error {
	st, err := t.db.PrepareContext(ctx, t.query)
	if err != nil {
		return err
	}
	defer st.Close()
	if probe == nil {
		return nil
	}
	rows, err := st.QueryContext(ctx, probe...)
	if err != nil {
		return err
	}
	return readRows(rows, requireResultSet, func([]byte) error { return nil })
}

// Name is the target's host, as "tcp:host:port" or "unix:/path".
func (t *Target) Name() string { return t.host.name }

// DB is the map's pool on the host, for column discovery and schema
// confirmation (which do not pass the gate: see discoveryConns).
func (t *Target) DB() *sql.DB { return t.db }

// Quarantined reports whether the host should be skipped while other hosts
// are usable.
func (t *Target) Quarantined(now time.Time) bool { return t.host.quarantined(now) }

// Quarantined reports whether the named host ("tcp:host:port") is
// quarantined now.
func (p *Pools) Quarantined(name string) bool {
	p.mu.Lock()
	h, ok := p.hosts[name]
	p.mu.Unlock()
	return ok && h.quarantined(time.Now())
}
