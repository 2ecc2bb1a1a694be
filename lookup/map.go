package lookup

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"golang.org/x/sync/singleflight"

	"mapgate/answer"
	"mapgate/charset"
	"mapgate/hosts"
	"mapgate/mysqlcf"
	"mapgate/sqlshape"
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

// Map is one socketmap name. It serves one mysql_table(5) file or several:
// like a Postfix parameter that lists several tables
// (virtual_alias_maps = mysql:a.cf, mysql:b.cf), each search step's key is
// asked of every table in order before the next step's key, and the first
// answer wins.
type Map struct {
	Name string
	Opts MapOptions

	tables []*table
	log    *slog.Logger
	obs    Observer

	rejectLimit *rateLimiter
	queryLimit  *rateLimiter
	hostLimit   *rateLimiter
	argsPool    sync.Pool
}

// table is one .cf file of a map.
type table struct {
	cf      *mysqlcf.File
	targets []*hosts.Target
	conn    charset.Charset // the connection's character set
	connOK  bool            // conn is a charset the charset package knows
	domains *domainFilter
	log     *slog.Logger
	// roles holds what a false comparison of each query parameter proves
	// (from the query text alone, so it is there before discovery).
	roles []sqlshape.Role

	// columns holds the discovered column of each query parameter; nil
	// until discovery has succeeded (lookups then rely on classification).
	columns    atomic.Pointer[[]ParamColumns]
	flight     singleflight.Group
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
}

// NewMap builds a map from parsed .cf files, asked in order. It does not
// connect: a host that is down at start-up is tried on the first lookup.
func NewMap(name string, cfs []*mysqlcf.File, opts MapOptions, pools *hosts.Pools, log *slog.Logger, obs Observer) (*Map, error) {
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
	}
	for _, cf := range cfs {
		if cf.Query == nil {
			return nil, fmt.Errorf("%s: no query", cf.Path)
		}
		ts, err := pools.Targets(name, cf, cf.Query.SQL)
		if err != nil {
			return nil, err
		}
		t := &table{cf: cf, targets: ts, log: m.log, queryTimeout: pools.Options().QueryTimeout}
		t.req = hosts.Request{
			Targets:          ts,
			RequireResultSet: cf.RequireResultSet,
			Element:          cf.ResultFormat.Element,
			Exceeded:         cf.ExpansionLimitExceeded,
			Attempted:        m.attempted,
			HostFault:        m.hostFault,
		}
		for _, u := range sqlshape.ParamUses(cf.Query.SQL) {
			t.roles = append(t.roles, u.Role)
		}
		if len(cfs) > 1 {
			t.log = m.log.With("file", cf.Path)
		}
		cs := cf.Charset
		if cs == "" {
			cs = "utf8mb4"
		}
		t.conn, t.connOK = charset.Lookup(cs)
		if !t.connOK {
			t.log.Warn("connection charset unknown to mapgate: keys are not checked before the query", "charset", cs)
		}
		t.domains, err = newDomainFilter(cf.Domain)
		if err != nil {
			return nil, fmt.Errorf("%s: domain: %w", cf.Path, err)
		}
		m.tables = append(m.tables, t)
	}
	return m, nil
}

// Files lists the map's .cf files in the order they are asked.
func (m *Map) Files() []*mysqlcf.File {
	out := make([]*mysqlcf.File, len(m.tables))
	for i, t := range m.tables {
		out[i] = t.cf
	}
	return out
}

// Columns returns what discovery found for each .cf file's query
// parameters (nil entries where it has not succeeded yet).
func (m *Map) Columns() [][]ParamColumns {
	out := make([][]ParamColumns, len(m.tables))
	for i, t := range m.tables {
		if pc := t.columns.Load(); pc != nil {
			out[i] = *pc
		}
	}
	return out
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
		pc, err := DiscoverColumns(ctx, tg.DB(), t.cf.DBName, t.cf.Query.SQL)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", tg.Name(), err))
			continue
		}
		if old != nil && sameColumns(*old, pc) {
			t.confirmedAt.Store(start.UnixNano())
			return nil
		}
		if old != nil {
			t.log.Warn("the columns of this map's query changed; using the new ones")
		}
		for i, p := range pc {
			if p.Known {
				t.log.Info("column", "compared_with", p.String())
			} else {
				t.log.Warn("query shape not understood: keys for this parameter are checked by the database alone", "param", i+1, "why", p.Why)
			}
		}
		t.columns.Store(&pc)
		t.confirmedAt.Store(start.UnixNano())
		return nil
	}
	return errors.Join(errs...)
}

func sameColumns(a, b []ParamColumns) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].String() != b[i].String() || a[i].Known != b[i].Known || a[i].Converted != b[i].Converted {
			return false
		}
	}
	return true
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

// Lookup answers one lookup of key in this map.
func (m *Map) Lookup(ctx context.Context, key string) answer.Result {
	start := time.Now()
	r := m.lookup(ctx, key)
	if m.obs != nil {
		res := "temp"
		switch {
		case r.Found:
			res = "ok"
		case !r.Failed():
			res = "notfound"
		}
		m.obs.Result(m.Name, res, time.Since(start))
	}
	return r
}

func (m *Map) lookup(ctx context.Context, key string) answer.Result {
	for _, t := range m.tables {
		t.maybeDiscover()
	}
	if key == "" {
		return answer.NotFound()
	}
	// A key with a NUL is never found, whatever the map's query binds
	// (%d alone would not see it): Postfix's own clients cannot look one
	// up.
	if strings.IndexByte(key, 0) >= 0 {
		m.rejected(key, charset.ReasonNUL.String(), nil)
		return answer.NotFound()
	}
	// With smtputf8_enable, Postfix's dict_utf8 layer answers "not found"
	// for a key that is not valid UTF-8, before any table sees it.
	if m.Opts.SMTPUTF8 && !utf8.ValidString(key) {
		m.rejected(key, charset.ReasonInvalidUTF8.String(), nil)
		return answer.NotFound()
	}
	var buf [4]Candidate
	return m.search(ctx, m.candidates(key, buf[:0]))
}

// candidates returns the search steps for the key: one form per step, the
// one Postfix's mysql: client would send. They are cut from the key as
// given, and only their lookup keys are folded: like Postfix, an unmatched
// extension is propagated into the result with its case (Carol+Tag@ →
// carol+Tag@dest).
//
// No other forms (NFC, other foldings) are asked: each could find a row
// that Postfix would not find for the same key.
func (m *Map) candidates(key string, dst []Candidate) []Candidate {
	start := len(dst)
	switch {
	case m.Opts.AddressSearch:
		dst = SearchKeys(key, m.Opts.RecipientDelimiter, dst)
	case m.Opts.DomainSearch != DomainExact:
		dst = DomainKeys(key, m.Opts.DomainSearch, dst)
	default:
		dst = append(dst, Candidate{Key: key})
	}
	if m.Opts.FoldCase {
		for i := start; i < len(dst); i++ {
			dst[i].Key = charset.PostfixFold(dst[i].Key, m.Opts.SMTPUTF8)
		}
	}
	return dst
}

// search asks the map's tables for each search step in order.
func (m *Map) search(ctx context.Context, cs []Candidate) answer.Result {
	argsp, _ := m.argsPool.Get().(*[]any)
	if argsp == nil {
		a := make([]any, 0, 4)
		argsp = &a
	}
	defer m.argsPool.Put(argsp)

	for _, c := range cs {
		for _, t := range m.tables {
			r, done := m.step(ctx, t, c, argsp)
			if !done {
				continue
			}
			if r.Found && c.Ext != "" && m.Opts.PropagateExtension {
				r.Value = PropagateExtension(r.Value, c.Ext)
			}
			return r
		}
	}
	return answer.NotFound()
}

// step asks one table for one search step's key. done=false means a miss
// (next table or step); otherwise r is the answer (found, or failed).
func (m *Map) step(ctx context.Context, t *table, c Candidate, argsp *[]any) (r answer.Result, done bool) {
	if !t.domains.allows(c.Key) {
		m.rejected(c.Key, "domain", nil)
		return r, false
	}
	for retry := false; ; retry = true {
		args, ok := t.cf.Query.Expand(c.Key, (*argsp)[:0])
		*argsp = args
		if !ok {
			m.rejected(c.Key, "suppressed", nil)
			return r, false
		}
		r, done, again := m.ask(ctx, t, c, args, retry)
		if !again {
			return r, done
		}
	}
}

// ask runs one search step with its bound values. again=true means the
// database contradicted the column facts, which have been refreshed: ask
// once more (only when retried is false).
func (m *Map) ask(ctx context.Context, t *table, c Candidate, args []any, retried bool) (r answer.Result, done, again bool) {
	facts := t.columns.Load()
	plan := t.plan(args)
	if plan.Miss != nil || len(plan.Null) > 0 {
		// The decision rests on the column facts: they must describe the
		// schema as it is now, not as it was a minute ago.
		if err := t.confirmed(ctx); err != nil {
			if m.queryLimit.allow() {
				t.log.Warn("a key the columns cannot hold was not answered: the schema could not be confirmed; answering TEMP", "key", logKey(c.Key), "err", err)
			}
			return answer.Fail(answer.ClassHost, "database unavailable"), true, false
		}
		plan = t.plan(args)
	}
	if plan.Miss != nil {
		m.rejected(c.Key, plan.Miss.Reason.String(), plan.Miss)
		return r, false, false
	}
	for _, i := range plan.Null {
		args[i] = nil // its comparison is false for every row: see sqlshape.RoleFilter
	}
	// A charset or collation error from the query can be the key's doing
	// only when a bound value is not plain ASCII and the check could not
	// vouch for it; otherwise the query or schema is broken (TEMP). Even
	// the key's error is a miss only where it proves that no row matches
	// (keyErrorIsMiss).
	suspect := plan.Unproven || t.keyErrorMayBe(args)
	values, class, err := m.query(ctx, t, suspect, args)
	switch class {
	case answer.ClassNone:
		// The rows may have been fetched for another lookup with the same
		// bound values: they are formatted here, with this lookup's own key
		// (result_format's %S %U %D %1-%9 are the key's).
		value := t.cf.ResultFormat.Format(c.Key, values)
		if value == "" {
			return r, false, false // no rows (or only skipped values)
		}
		return answer.Found(value), true, false
	case answer.ClassKey:
		if !plan.Unproven && t.keyErrorIsMiss(args) {
			m.rejected(c.Key, "key_error", err)
			return r, false, false
		}
		if m.queryLimit.allow() {
			t.log.Warn("the key's characters made the query fail where a matching row cannot be ruled out (OR, UNION, CASE, a subquery, or a shape not understood); answering TEMP",
				"key", logKey(c.Key), "err", err)
		}
		return answer.Fail(answer.ClassKey, "key cannot be compared by this query (see mapgate log)"), true, false
	case answer.ClassQuery:
		// A value the column facts vouched for met a charset error: the
		// table may have been converted since. Confirm (once a second at
		// most) and ask again if the facts changed.
		if !retried && hosts.IsCharsetError(err) && t.refreshed(ctx, facts, time.Now()) {
			return r, false, true
		}
		if m.queryLimit.allow() {
			t.log.Error("query failed for a reason that is not the key's: fix the .cf file or the schema; answering TEMP",
				"key", logKey(c.Key), "err", err)
		}
		return answer.Fail(answer.ClassQuery, "lookup failed: query or schema error (see mapgate log)"), true, false
	case answer.ClassCanceled:
		return answer.Fail(answer.ClassCanceled, "lookup canceled"), true, false
	case answer.ClassLimit:
		return answer.Fail(answer.ClassLimit, "expansion_limit exceeded"), true, false
	default:
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil {
			return answer.Fail(answer.ClassTimeout, "database did not answer in time"), true, false
		}
		if errors.Is(err, hosts.ErrAllHostsDown) {
			return answer.Fail(answer.ClassHost, "no database host available"), true, false
		}
		return answer.Fail(class, "database error (see mapgate log)"), true, false
	}
}

// keyErrorMayBe reports whether a charset or collation error from the
// query, run with args, can be the key's doing: some bound value is not
// plain ASCII and the check could not vouch for it.
func (t *table) keyErrorMayBe(args []any) bool {
	var cols []ParamColumns
	if pc := t.columns.Load(); pc != nil {
		cols = *pc
	}
	for i, a := range args {
		s, ok := a.(string)
		if !ok || !keySuspect(s) {
			continue
		}
		if !t.connOK || i >= len(cols) || !vouched(cols[i]) {
			return true
		}
	}
	return false
}

// keyErrorIsMiss reports whether a charset or collation error from the
// query, run with args, proves that no row matches: some bound value is
// not plain ASCII, and every such value that the check could not vouch
// for sits in a comparison every returned row needs (RoleRequired). A value
// the check passed against known columns cannot cause such an error.
func (t *table) keyErrorIsMiss(args []any) bool {
	var cols []ParamColumns
	if pc := t.columns.Load(); pc != nil {
		cols = *pc
	}
	blamed := false
	for i, a := range args {
		s, ok := a.(string)
		if !ok || !keySuspect(s) {
			continue
		}
		if t.connOK && i < len(cols) && vouched(cols[i]) {
			continue
		}
		if i >= len(t.roles) || t.roles[i] != sqlshape.RoleRequired {
			return false
		}
		blamed = true
	}
	return blamed
}

// vouched reports whether the check knew the character set of every column
// parameter p is compared with (so a value it passed cannot cause a
// charset error).
func vouched(p ParamColumns) bool {
	if !p.Known || p.Converted {
		return false
	}
	for _, ci := range p.Infos {
		if ci.Charset == "" {
			continue // not a text column
		}
		if _, ok := charset.Lookup(ci.Charset); !ok {
			return false
		}
	}
	return true
}

// plan checks the bound values against the columns they are compared
// with: see PlanArgs.
func (t *table) plan(args []any) ArgsPlan {
	var cols []ParamColumns
	if pc := t.columns.Load(); pc != nil {
		cols = *pc
	}
	return PlanArgs(args, cols, t.conn, t.connOK)
}

// ArgsPlan is what the check before a query decided for one search step.
type ArgsPlan struct {
	// Miss, when not nil, says why no row can match: the step is a miss,
	// answered without a query.
	Miss *charset.Error
	// Null lists the parameters (0-based) to bind as NULL: no stored value
	// can satisfy their comparison, and NULL filters rows exactly as that
	// false comparison would (RoleFilter), so the statement's other
	// branches are still asked.
	Null []int
	// Unproven: a value failed the check in a comparison whose falseness
	// proves nothing (RoleOpaque). The statement is sent as it is; a
	// charset error it causes is not the key's to answer NOTFOUND for.
	Unproven bool
}

// CheckArgs reports why a search step with these bound values is answered
// without a query (see PlanArgs), or nil when the query is sent.
func CheckArgs(args []any, cols []ParamColumns, conn charset.Charset, connKnown bool) *charset.Error {
	return PlanArgs(args, cols, conn, connKnown).Miss
}

// PlanArgs is mapgate's check before a query: can each bound value, sent
// over a connection of charset conn, equal a value of the columns
// discovery found for it (cols, nil when unknown)? A value that cannot (a
// character the column's charset lacks, or longer than the column where
// that proves a mismatch) makes its comparison false for every row, and
// what follows depends on the parameter's Role: a miss without a query
// (required), a NULL bound in its place (filter), or the statement sent as
// it is (opaque). Unknown columns and charsets, and comparisons through
// COLLATE or CONVERT, are left to the database.
func PlanArgs(args []any, cols []ParamColumns, conn charset.Charset, connKnown bool) ArgsPlan {
	var plan ArgsPlan
	for i, a := range args {
		s, ok := a.(string)
		if !ok {
			continue
		}
		if j := strings.IndexByte(s, 0); j >= 0 {
			// Postfix's own clients can never look one up.
			return ArgsPlan{Miss: &charset.Error{Reason: charset.ReasonNUL, Offset: j}}
		}
		if !connKnown || i >= len(cols) || !cols[i].Known || cols[i].Converted {
			continue
		}
		for _, tr := range cols[i].Transforms {
			s = tr.Apply(s)
		}
		err := checkParam(s, cols[i], conn)
		if err == nil {
			continue
		}
		switch cols[i].Role {
		case sqlshape.RoleRequired:
			return ArgsPlan{Miss: err}
		case sqlshape.RoleFilter:
			plan.Null = append(plan.Null, i)
		default:
			plan.Unproven = true
		}
	}
	return plan
}

// checkParam checks one value against every column its parameter is
// compared with.
func checkParam(s string, p ParamColumns, conn charset.Charset) *charset.Error {
	for _, ci := range p.Infos {
		if ci.Charset == "" {
			continue
		}
		col, ok := charset.Lookup(ci.Charset)
		if !ok {
			continue
		}
		max := 0
		if p.Direct && lengthSafeCollation(ci.Collation) {
			max = ci.MaxChars
		}
		if err := charset.Check(s, conn, col, max); err != nil {
			err.Column = ci.Table + "." + ci.Column
			return err
		}
	}
	return nil
}

// query runs the table's statement on the first host that can answer,
// failing over on host faults. It returns the non-NULL column values of
// the rows, in order (none for no rows), unformatted: they depend only on
// the bound values, and may be shared with other lookups.
func (m *Map) query(ctx context.Context, t *table, suspect bool, args []any) ([]string, answer.Class, error) {
	// Lookups that need the very same query at the same moment share one
	// (the catch-all step of a flood of keys in one domain, say): the
	// database answers once. What is shared is what the database returned
	// for these bound values, never an answer formatted for one key: two
	// keys with the same bound values (a query on %d alone) can format the
	// same rows differently (result_format = %U@%s). Nothing is kept after
	// the query returns.
	sfKey := flightKey(suspect, args)
	// The leader runs the query in its own goroutine (Do, not DoChan: a
	// goroutine per query costs as much as the query on a small machine);
	// the others wait for it, at most the query timeouts of the hosts it
	// tries, and never past its deadline. The shared query runs without
	// cancellation so that it does not die with the lookup that happened to
	// start it.
	qctx := context.WithoutCancel(ctx)
	deadline, _ := ctx.Deadline()
	res, err, _ := t.flight.Do(sfKey, func() (any, error) {
		r := t.req // the table's hosts and hooks, with this query's values
		r.Suspect, r.Args = suspect, args
		v, class, err := hosts.Query(qctx, deadline, &r)
		return flightResult{v, class}, err
	})
	fr := res.(flightResult)
	if ctx.Err() != nil && fr.class != answer.ClassNone {
		return nil, answer.ClassUnknown, ctx.Err()
	}
	return fr.values, fr.class, err
}

type flightResult struct {
	values []string
	class  answer.Class
}

// flightKey identifies a query by its bound values (and how its errors
// are classified).
func flightKey(suspect bool, args []any) string {
	var b strings.Builder
	if suspect {
		b.WriteByte('s')
	} else {
		b.WriteByte('a')
	}
	for _, a := range args {
		// A type mark before each value: a NULL bound in place of a value
		// (ArgsPlan.Null) must never share a query with the string
		// "<nil>".
		switch v := a.(type) {
		case nil:
			b.WriteString("\x00n")
		case string:
			b.WriteString("\x00s")
			b.WriteString(v)
		default:
			b.WriteString("\x00o")
			fmt.Fprint(&b, v)
		}
	}
	return b.String()
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

// rateLimiter lets one event through per period and counts the rest.
type rateLimiter struct {
	period time.Duration
	mu     sync.Mutex
	last   time.Time
	n      int
}

func newRateLimiter(p time.Duration) *rateLimiter { return &rateLimiter{period: p} }

func (r *rateLimiter) allow() bool { _, ok := r.allowN(); return ok }

// allowN reports whether to log now, and how many events were held back
// since the last one logged.
func (r *rateLimiter) allowN() (int, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := time.Now()
	if r.last.IsZero() || now.Sub(r.last) >= r.period {
		n := r.n
		r.last, r.n = now, 0
		return n, true
	}
	r.n++
	return 0, false
}

// domainFilter is mysql_table(5)'s domain setting: only keys user@domain
// with a non-empty user and a listed domain are looked up.
type domainFilter struct {
	rules []domainRule
}

type domainRule struct {
	name   string
	negate bool
}

func newDomainFilter(entries []string) (*domainFilter, error) {
	if len(entries) == 0 {
		return nil, nil
	}
	f := &domainFilter{}
	var add func(e string, depth int) error
	add = func(e string, depth int) error {
		neg := false
		for strings.HasPrefix(e, "!") {
			neg = !neg
			e = e[1:]
		}
		switch {
		case strings.HasPrefix(e, "/"):
			if depth > 5 {
				return fmt.Errorf("%s: nested too deep", e)
			}
			data, err := os.ReadFile(e)
			if err != nil {
				return err
			}
			for _, line := range strings.Split(string(data), "\n") {
				if i := strings.IndexByte(line, '#'); i >= 0 {
					line = line[:i]
				}
				for _, w := range strings.FieldsFunc(line, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\r' }) {
					if err := add(w, depth+1); err != nil {
						return err
					}
				}
			}
		case strings.Contains(e, ":"):
			return fmt.Errorf("%q: lookup tables in domain are not supported by mapgate; list the domains or use a /file", e)
		default:
			f.rules = append(f.rules, domainRule{name: strings.ToLower(e), negate: neg})
		}
		return nil
	}
	for _, e := range entries {
		if err := add(e, 0); err != nil {
			return nil, err
		}
	}
	return f, nil
}

// allows reports whether key may be looked up.
func (f *domainFilter) allows(key string) bool {
	if f == nil {
		return true
	}
	at := strings.LastIndexByte(key, '@')
	if at <= 0 || at == len(key)-1 {
		return false
	}
	d := key[at+1:]
	for _, r := range f.rules {
		if strings.EqualFold(r.name, d) {
			return !r.negate
		}
	}
	return false
}

// lengthSafeCollation reports whether a key longer than a column of this
// collation provably cannot equal a stored value: true for the simple
// one-character-to-one-weight collations. UCA collations (unicode, 0900,
// uca1400) and latin1_german2_ci can equal a longer key to a shorter value
// ('ß' = 'ss', ignorable characters), so no length check for them.
func lengthSafeCollation(c string) bool {
	c = strings.ToLower(c)
	switch {
	case strings.HasSuffix(c, "_bin"), strings.HasSuffix(c, "_general_ci"), strings.HasSuffix(c, "_general_cs"),
		c == "latin1_swedish_ci", c == "binary":
		return true
	}
	return false
}

// logKey escapes a key for a log line: \u/\x escapes for everything but
// printable ASCII (never raw bytes, never "??????"), without the quotes the
// log handler adds itself when needed.
func logKey(k string) string {
	e := charset.Escape(k)
	if len(e) >= 2 && e[0] == '"' && e[len(e)-1] == '"' {
		return e[1 : len(e)-1]
	}
	return e
}

// keySuspect reports whether s holds anything but printable ASCII.
func keySuspect(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e {
			return true
		}
	}
	return false
}
