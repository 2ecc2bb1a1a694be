package lookup

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"

	"mapgate/answer"
	"mapgate/engine"
	"mapgate/hosts"
)

// MapOptions are mapgate's own per-map settings, beyond the .cf file.
type MapOptions struct {
	// AddressSearch runs Postfix's address search (full key, key without
	// its extension, @domain) for keys that are addresses, because Postfix
	// sends a socketmap table only the full key. Turn it off for maps whose
	// keys are not addresses or must match exactly.
	AddressSearch bool
	// PropagateExtension inserts the unmatched address extension into each
	// address of the result, as Postfix does for the tables named in
	// propagate_unmatched_extensions (canonical and virtual alias maps by
	// default). Never guessed: a result that is not an address (a maildir
	// path, a transport) must not get one. migrate sets it where Postfix
	// propagates.
	PropagateExtension bool
	// RecipientDelimiter holds the delimiter characters (postconf -h
	// recipient_delimiter); empty: no extension stripping.
	RecipientDelimiter string
	// FoldCase folds each lookup key as Postfix folds a mysql: table's key
	// (DICT_FLAG_FOLD_FIX): see SMTPUTF8.
	FoldCase bool
	// SMTPUTF8 is Postfix's smtputf8_enable. On (Postfix's default), keys
	// are folded with Postfix's casefold() (Unicode full case folding), and
	// a key that is not valid UTF-8 is not found, as dict_utf8 does. Off,
	// only ASCII letters are folded and other bytes are looked up as they
	// are.
	SMTPUTF8 bool
	// DomainSearch runs Postfix's parent-domain search of a domain list
	// (relay_domains) for keys that are domain names; DomainExact (the zero
	// value) asks only the key. Used only when AddressSearch is off.
	DomainSearch DomainSearch
}

// DefaultMapOptions returns the options a Postfix admin expects of a map:
// address search on, keys folded as Postfix folds them with
// smtputf8_enable = yes, no extension propagation (whatever the map's
// name: it is set per map, see MapOptions.PropagateExtension).
func DefaultMapOptions(delimiter string) MapOptions {
	return MapOptions{
		AddressSearch:      true,
		RecipientDelimiter: delimiter,
		FoldCase:           true,
		SMTPUTF8:           true,
	}
}

// Observer receives what a map does, for metrics. Every method must be
// cheap and safe for concurrent use. A nil Observer is allowed.
type Observer interface {
	// Result is called once per lookup with "ok", "notfound", "temp".
	Result(mapName, result string, d time.Duration)
	// Rejected is called when a search step's key is answered without a
	// query, with the reason ("invalid_utf8", "unrepresentable", "nul",
	// "too_long", "domain", "suppressed").
	Rejected(mapName, reason string)
	// Query is called after each query attempt on a host, with the class of
	// its outcome ("none", "key", "query", "host", "canceled", "unknown").
	Query(mapName, host, class string, d time.Duration)
}

// CacheObserver, when an Observer also implements it, is told of each use
// of the answer cache: "hit" (rows within their TTL), "miss" (a query was
// needed), "stale" (rows past their TTL served because no host answered).
type CacheObserver interface {
	Cache(mapName, event string)
}

// Map is one socketmap name. It serves one table file or several, each of
// its own engine (mysql_table(5), ...): like a Postfix parameter that lists
// several tables (virtual_alias_maps = mysql:a.cf, mysql:b.cf), each
// search step's key is asked of every table in order before the next
// step's key, and the first answer wins.
type Map struct {
	Name string
	Opts MapOptions

	tables []*table
	log    *slog.Logger
	obs    Observer

	rejectLimit *rateLimiter
	queryLimit  *rateLimiter
	hostLimit   *rateLimiter
	staleLimit  *rateLimiter
	argsPool    sync.Pool
	// cache holds query results (nil: off); set by Set.UseCache before
	// the map serves.
	cache *answerCache
}

// table is one table file of a map.
type table struct {
	cf      *engine.Table
	targets []*hosts.Target
	domains *domainFilter
	log     *slog.Logger
	idx     int // the table's position in its map (its cache entries' key)

	// columns holds what the catalogue found for the query's parameters;
	// nil until discovery has succeeded (lookups then rely on
	// classification).
	columns    atomic.Pointer[engine.Facts]
	flight     freshGroup
	discoverMu sync.Mutex
	// nextDiscover is when discovery runs again (unix nanoseconds).
	nextDiscover atomic.Int64
	// confirmedAt is when the columns were last found as described (unix
	// nanoseconds); see confirmed.
	confirmedAt   atomic.Int64
	lastConfirm   atomic.Int64 // when the last confirmation started
	confirmFlight singleflight.Group
	queryTimeout  time.Duration
	// req runs the table's statement on its hosts (hosts.Query): all but
	// the bound values.
	req hosts.Request
	// engine is the table's: its catalogue, key policy and errors.
	engine engine.Engine
}

// NewMap builds a map from tables read by their engines, asked in order.
// It does not connect: a host that is down at start-up is tried on the
// first lookup.
func NewMap(name string, cfs []*engine.Table, opts MapOptions, pools *hosts.Pools, log *slog.Logger, obs Observer) (*Map, error) {
	if log == nil {
		log = slog.Default()
	}
	if len(cfs) == 0 {
		return nil, fmt.Errorf("map %s: no .cf file", name)
	}
	m := &Map{
		Name: name, Opts: opts,
		log:         log.With("map", name),
		obs:         obs,
		rejectLimit: newRateLimiter(10 * time.Second),
		queryLimit:  newRateLimiter(10 * time.Second),
		hostLimit:   newRateLimiter(time.Second),
		staleLimit:  newRateLimiter(10 * time.Second),
	}
	for i, cf := range cfs {
		if cf.Query == nil {
			return nil, fmt.Errorf("%s: no query", cf.Path)
		}
		ts, err := pools.Targets(name, cf)
		if err != nil {
			return nil, err
		}
		t := &table{cf: cf, targets: ts, log: m.log, idx: i, queryTimeout: pools.Options().QueryTimeout, engine: cf.Engine}
		t.req = hosts.Request{
			Targets:          ts,
			RequireResultSet: cf.RequireResultSet,
			Element:          cf.ResultFormat.Element,
			Exceeded:         cf.ExpansionLimitExceeded,
			Attempted:        m.attempted,
			HostFault:        m.hostFault,
		}
		if len(cfs) > 1 {
			t.log = m.log.With("file", cf.Path)
		}
		t.domains, err = newDomainFilter(cf.Domain)
		if err != nil {
			return nil, fmt.Errorf("%s: domain: %w", cf.Path, err)
		}
		m.tables = append(m.tables, t)
	}
	return m, nil
}

// Files lists the map's tables in the order they are asked.
func (m *Map) Files() []*engine.Table {
	out := make([]*engine.Table, len(m.tables))
	for i, t := range m.tables {
		out[i] = t.cf
	}
	return out
}

// Columns returns what discovery found for each table's query
// parameters (nil entries where it has not succeeded yet).
func (m *Map) Columns() []engine.Facts {
	out := make([]engine.Facts, len(m.tables))
	for i, t := range m.tables {
		out[i] = t.facts()
	}
	return out
}

// facts returns the column facts, nil before discovery.
func (t *table) facts() engine.Facts {
	if f := t.columns.Load(); f != nil {
		return *f
	}
	return nil
}

// Discover finds the columns each query parameter is compared with, from
// the first host that answers, and logs one line per parameter. Lookups
// before it succeeds still work: their keys go to the database and errors
// are classified.
func (m *Map) Discover(ctx context.Context) error {
	var errs []error
	for _, t := range m.tables {
		if err := t.discover(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (t *table) discover(ctx context.Context) error {
	return t.rediscover(ctx, false)
}

// rediscover runs discovery; with refresh it runs even when columns are
// known, and swaps in what it finds (a schema converted while mapgate runs,
// say by the audit's ALTER TABLE, is picked up without a reload).
func (t *table) rediscover(ctx context.Context, refresh bool) error {
	t.discoverMu.Lock()
	defer t.discoverMu.Unlock()
	old := t.columns.Load()
	if old != nil && !refresh {
		return nil
	}
	var errs []error
	defer func() {
		every := rediscoverEvery
		if t.columns.Load() == nil {
			every = retryDiscoverEvery
		}
		t.nextDiscover.Store(time.Now().Add(every).UnixNano())
	}()
	start := time.Now()
	for _, tg := range t.targets {
		pc, err := t.engine.Discover(ctx, tg.DB(), t.cf)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", tg.Name(), err))
			continue
		}
		if old != nil && (*old).Equal(pc) {
			t.confirmedAt.Store(start.UnixNano())
			return nil
		}
		if old != nil {
			t.log.Warn("the columns of this map's query changed; using the new ones")
		}
		for i, p := range pc.Params() {
			if p.Known {
				t.log.Info("column", "compared_with", p.Text)
			} else {
				t.log.Warn("query shape not understood: keys for this parameter are checked by the database alone", "param", i+1, "why", p.Text)
			}
		}
		t.columns.Store(&pc)
		t.confirmedAt.Store(start.UnixNano())
		return nil
	}
	return errors.Join(errs...)
}

// Discovery runs again in the background: every rediscoverEvery once the
// columns are known, every retryDiscoverEvery while they are not.
const (
	rediscoverEvery    = time.Minute
	retryDiscoverEvery = 10 * time.Second
)

// maybeDiscover starts a background discovery when one is due. It costs a
// clock read and an atomic load per lookup.
func (t *table) maybeDiscover() {
	now := time.Now().UnixNano()
	due := t.nextDiscover.Load()
	if now < due {
		return
	}
	every := rediscoverEvery
	if t.columns.Load() == nil {
		every = retryDiscoverEvery
	}
	if !t.nextDiscover.CompareAndSwap(due, now+int64(every)) {
		return // another lookup started it
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := t.rediscover(ctx, true); err != nil {
			t.log.Warn("column discovery failed; will retry", "err", err)
		}
	}()
}

// attempted counts one query attempt on a host.
func (m *Map) attempted(host string, c answer.Class, d time.Duration) {
	if m.obs != nil {
		m.obs.Query(m.Name, host, c.String(), d)
	}
}

// hostFault logs (rate-limited) a host fault a query failed over from.
func (m *Map) hostFault(host string, err error) {
	if n, ok := m.hostLimit.allowN(); ok {
		m.log.Warn("host fault; trying the next host", "host", host, "err", err, "suppressed_since_last", n)
	}
}

// rejected logs (rate-limited) and counts a search step answered without a
// query, or a key-caused database error.
func (m *Map) rejected(key, reason string, err error) {
	if m.obs != nil {
		m.obs.Rejected(m.Name, reason)
	}
	if reason == "suppressed" || reason == "domain" {
		return
	}
	if n, ok := m.rejectLimit.allowN(); ok {
		args := []any{"key", logKey(key), "reason", reason}
		if err != nil {
			args = append(args, "detail", err.Error())
		}
		if n > 0 {
			args = append(args, "suppressed_since_last", n)
		}
		m.log.Warn("key cannot match: answered NOTFOUND without a query", args...)
	}
}

// Close releases the map's prepared statements (the pools are shared and
// closed by their owner).
func (m *Map) Close() {
	for _, t := range m.tables {
		for _, tg := range t.targets {
			tg.CloseStmt()
		}
	}
}
