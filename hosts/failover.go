package hosts

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Request is one run of a map's statement (one .cf file) on its hosts.
type Request struct {
	// Targets are the file's hosts, in the order of its hosts parameter.
	Targets []*Target
	// RequireResultSet is mysql_table(5)'s require_result_set.
	RequireResultSet bool
	// Suspect: a charset or collation error may be the key's doing (see
	// Classify).
	Suspect bool
	// Args are the bound values.
	Args []any
	// Element reports whether a value is an element of the result
	// (result_format's); Exceeded whether n elements exceed
	// expansion_limit (ErrExpansionLimit, ClassLimit). Element nil: no
	// limit.
	Element  func(value string) bool
	Exceeded func(n int) bool
	// Attempted, when not nil, is told the outcome of every attempt on a
	// host (for metrics).
	Attempted func(host string, c Class, d time.Duration)
	// HostFault, when not nil, is told every host fault the request fails
	// over from (for the log).
	HostFault func(host string, err error)
}

// ErrAllHostsDown: every host's breaker was open or every host failed.
var ErrAllHostsDown = errors.New("no database host available")

// ErrExpansionLimit: the result exceeded expansion_limit (ClassLimit).
var ErrExpansionLimit = errors.New("expansion_limit exceeded")

// Query runs r's statement on the first host that can answer,
// failing over on host faults, and gives up at deadline (zero: none).
//
// First pass: the hosts out of quarantine, in order, as their breakers
// allow. Second pass, when no host answered: the hosts the first pass left
// out (quarantined, or refused by their breaker), the likeliest to answer
// first (lastResortOrder). Each goes through its breaker when the breaker
// allows it; otherwise it is tried anyway, outside the breaker, when this
// lookup found another host broken or when the host's last outcome was an
// answer: a lookup is never refused while a host it has not tried may be
// healthy. Otherwise (every host quarantined, none known to answer) only
// the breakers' probes go through, one per ProbeInterval per host.
//
// sentAt is when the attempt whose outcome is returned was sent: a result
// read by it is no older than that.
func Query(ctx context.Context, deadline time.Time, r *Request) (values []string, class Class, sentAt time.Time, err error) {
	var lastErr error = ErrAllHostsDown
	now := time.Now()
	var left []*Target
	failed := false // a host failed for this lookup
	// One clock reading serves the first attempt (sentAt, its deadline,
	// its budget); each later one reads the clock again.
	fresh := true
	for _, tg := range r.Targets {
		if !fresh {
			now = time.Now()
		}
		if tg.host.quarantined(now) {
			left = append(left, tg)
			continue
		}
		fresh = false
		sentAt = now
		values, class, next, err := try(ctx, deadline, r, tg, false, now)
		if !next {
			return values, class, sentAt, err
		}
		if errors.Is(err, errRefused) {
			left = append(left, tg)
			continue
		}
		failed, lastErr = true, err
	}
	lastResortOrder(left)
	for _, tg := range left {
		if !fresh {
			now = time.Now()
		}
		fresh = false
		sentAt = now
		values, class, next, err := try(ctx, deadline, r, tg, failed || tg.host.health.answering(), now)
		if !next {
			return values, class, sentAt, err
		}
		if !errors.Is(err, errRefused) {
			failed, lastErr = true, err
		}
	}
	if errors.Is(lastErr, ErrAllHostsDown) {
		return nil, ClassHost, sentAt, lastErr
	}
	return nil, ClassHost, sentAt, fmt.Errorf("%w: %v", ErrAllHostsDown, lastErr)
}

// errRefused: the host's breaker refused the attempt (open, or its probe
// slot taken).
var errRefused = errors.New("host breaker refused the attempt")

// try makes one attempt on one host: it waits for one of the map's
// connections there (until the attempt's deadline), then asks the host's
// breaker, then queries. With outside, an attempt the breaker refuses is
// made anyway, without counting in the breaker. next=true means try the
// next host (err is errRefused, errBusy or a host fault). now is the
// time.
func try(ctx context.Context, deadline time.Time, r *Request, tg *Target, outside bool, now time.Time) (values []string, class Class, next bool, err error) {
	if ctx.Err() != nil {
		return nil, ClassUnknown, false, ctx.Err()
	}
	if !deadline.IsZero() && !now.Before(deadline) {
		return nil, ClassUnknown, false, context.DeadlineExceeded
	}
	ad := tg.attemptDeadline(now, deadline)
	waited, err := tg.pool.acquire(ad)
	if err != nil {
		return nil, ClassHost, true, err
	}
	if waited {
		now = time.Now()
	}
	defer tg.pool.release()
	done, err := tg.host.cb.Allow()
	if err != nil {
		if !outside {
			return nil, ClassHost, true, errRefused
		}
		done = func(error) {}
	}
	return attempt(ctx, ad, r, tg, done, now)
}

// attempt runs one query on one host, to end by deadline; next=true means
// a host fault: try the next host.
func attempt(ctx context.Context, deadline time.Time, r *Request, tg *Target, done func(error), now time.Time) (values []string, class Class, next bool, err error) {
	n := 0
	start := now
	cut := !tg.fullBudget(now, deadline)
	err = tg.run(ctx, now, deadline, r.RequireResultSet, r.Args, func(v []byte) error {
		s := string(v)
		values = append(values, s)
		// Which values make a result element does not depend on the key
		// (its own requirements were met before the query ran), so the
		// limit is checked here, once for every lookup sharing the rows.
		if r.Element != nil && r.Element(s) {
			n++
			if r.Exceeded(n) {
				return ErrExpansionLimit
			}
		}
		return nil
	})
	class = tg.engine.Classify(err, r.Suspect)
	if errors.Is(err, ErrExpansionLimit) {
		class = ClassLimit
	} else if errors.Is(err, errMultipleResults) || errors.Is(err, errNoResultSet) {
		class = ClassQuery
	}
	if class == ClassHost && ctx.Err() != nil {
		// The whole lookup ran out of time or the client left: not the
		// host's fault as far as we can tell.
		class = ClassCanceled
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			class = ClassUnknown
		}
	}
	end := time.Now()
	if r.Attempted != nil {
		r.Attempted(tg.host.name, class, end.Sub(start))
	}
	switch class {
	case ClassNone:
		tg.host.health.sawAnswer(end)
		done(nil)
		return values, ClassNone, false, nil
	case ClassHost:
		if cut && !end.Before(deadline) {
			// The attempt had less than QueryTimeout (it queued for a
			// connection behind this map's other lookups) and used it up
			// (the error is the deadline's, or a dial or read timeout):
			// fail over, without blaming the host for what may be this
			// map's own slowness.
			done(excluded{err})
			return nil, class, true, err
		}
		tg.host.health.sawFault(end)
		done(err)
		if r.HostFault != nil {
			r.HostFault(tg.host.name, err)
		}
		return nil, class, true, err
	default:
		if class != ClassUnknown && class != ClassCanceled {
			tg.host.health.sawAnswer(end)
		}
		done(excluded{err})
		return nil, class, false, err
	}
}
