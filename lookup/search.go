package lookup

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"mapgate/answer"
	"mapgate/charset"
	"mapgate/hosts"
)

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
	// A charset, length or pattern error from the query can be the key's
	// doing only when a bound value could have caused it and the check
	// could not vouch for it (keycheck.go); otherwise the query or schema
	// is broken (TEMP). Even the key's error is a miss only where it proves
	// that no row matches (keyErrorIsMiss).
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
			t.log.Warn("the key made the query fail (its characters, its length or, as a pattern, its syntax) where a matching row cannot be ruled out (OR, UNION, CASE, a subquery, or a shape not understood); answering TEMP (an empty result on a SQL front)",
				"key", logKey(c.Key), "err", err)
		}
		return answer.Fail(answer.ClassKey, "key cannot be compared by this query (see mapgate log)"), true, false
	case answer.ClassQuery:
		// A value the column facts vouched for met a charset error: the
		// table may have been converted since. Confirm (once a second at
		// most) and ask again if the facts changed.
		if !retried && t.engine.IsCharsetError(err) && t.refreshed(ctx, facts, time.Now()) {
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

// query runs the table's statement on the first host that can answer,
// failing over on host faults. It returns the non-NULL column values of
// the rows, in order (none for no rows), unformatted: they depend only on
// the bound values, and may be shared with other lookups.
func (m *Map) query(ctx context.Context, t *table, suspect bool, args []any) ([]string, answer.Class, error) {
	// Lookups that need the very same query at the same moment share one
	// (the catch-all step of a flood of keys in one domain, say): the
	// database answers once, and never with a query sent before a lookup
	// arrived (see freshGroup). What is shared is what the database returned
	// for these bound values, never an answer formatted for one key: two
	// keys with the same bound values (a query on %d alone) can format the
	// same rows differently (result_format = %U@%s). Nothing is kept after
	// the query returns.
	sfKey := flightKey(suspect, args)
	ac := m.cache
	var ck string
	if ac != nil {
		ck = cacheKey(m.Name, t.idx, sfKey)
		if e, ok := ac.fresh(ck); ok {
			m.cacheEvent("hit")
			return e.values, answer.ClassNone, nil
		}
		m.cacheEvent("miss")
	}
	// The leader runs the query in its own goroutine (no goroutine per
	// query: that costs as much as the query on a small machine); the
	// others wait for it, at most the query timeouts of the hosts it
	// tries, and never past its deadline. The shared query runs without
	// cancellation so that it does not die with the lookup that happened to
	// start it.
	qctx := context.WithoutCancel(ctx)
	deadline, _ := ctx.Deadline()
	res, err := t.flight.do(sfKey, func() (any, time.Time, error) {
		r := t.req // the table's hosts and hooks, with this query's values
		r.Suspect, r.Args = suspect, args
		v, class, sentAt, err := hosts.Query(qctx, deadline, &r)
		if ac != nil && class == answer.ClassNone && err == nil {
			ac.put(ck, v, sentAt) // TEMP (any failure) is never stored
		}
		return flightResult{v, class}, sentAt, err
	})
	fr := res.(flightResult)
	if ac != nil && fr.class == answer.ClassHost && errors.Is(err, hosts.ErrAllHostsDown) {
		// No host can answer: rows read within cache_stale_max stand in
		// for TEMP. A cached miss never does.
		if e, ok := ac.stale(ck); ok {
			m.cacheEvent("stale")
			if n, ok := m.staleLimit.allowN(); ok {
				m.log.Warn("every database host is unavailable: answering from rows cached earlier (stale)",
					"age", ac.now().Sub(e.at).Round(time.Millisecond).String(), "suppressed_since_last", n)
			}
			return e.values, answer.ClassNone, nil
		}
	}
	if ctx.Err() != nil && fr.class != answer.ClassNone {
		return nil, answer.ClassUnknown, ctx.Err()
	}
	return fr.values, fr.class, err
}

// cacheEvent counts a cache hit, miss or stale answer.
func (m *Map) cacheEvent(event string) {
	if co, ok := m.obs.(CacheObserver); ok {
		co.Cache(m.Name, event)
	}
}

type flightResult struct {
	values []string
	class  answer.Class
}

// flightKey identifies a query by its bound values (and how its errors
// are classified).
func flightKey(suspect bool, args []any) string {
	var b strings.Builder
	n := 1
	for _, a := range args {
		n += 2
		if v, ok := a.(string); ok {
			n += len(v)
		}
	}
	b.Grow(n)
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

// purge drops the cache entries a lookup of key would use: each search
// step's bound values in each table, as queried (with or without the
// values plan.Null replaces, suspect or not).
func (m *Map) purge(key string) int {
	ac := m.cache
	if ac == nil {
		return 0
	}
	ac.purgedAt.Store(ac.now().UnixNano())
	n := 0
	var buf [4]Candidate
	for _, c := range m.candidates(key, buf[:0]) {
		for _, t := range m.tables {
			args, ok := t.cf.Query.Expand(c.Key, nil)
			if !ok {
				continue
			}
			variants := [][]any{args}
			if plan := t.plan(args); len(plan.Null) > 0 {
				nulled := append([]any(nil), args...)
				for _, i := range plan.Null {
					nulled[i] = nil
				}
				variants = append(variants, nulled)
			}
			for _, a := range variants {
				for _, suspect := range []bool{false, true} {
					n += ac.purgeKey(cacheKey(m.Name, t.idx, flightKey(suspect, a)))
				}
			}
		}
	}
	return n
}
