package lookup

import (
	"context"
	"errors"
	"fmt"
	"time"

	"mapgate/engine"
	"mapgate/hosts"
)

// ConfirmEvery is how old the column facts may be when a search step is
// decided on them without the database's word (a key rejected as
// unrepresentable or too long, or a parameter bound as NULL). Older facts
// are confirmed first with one query on information_schema, shared by
// every lookup of the table that needs it: a table converted while mapgate
// runs (the audit's own ALTER TABLE) is seen within about this long, and a
// flood of such keys costs the database at most one query per table per
// ConfirmEvery.
const ConfirmEvery = time.Second

// errSchemaUnconfirmed: the column facts are too old to decide on and no
// host could confirm them.
var errSchemaUnconfirmed = errors.New("cannot confirm the schema: no database host answered")

// confirmed makes sure the column facts were confirmed within ConfirmEvery
// before a decision rests on them. It returns an error, and the step must
// answer TEMP, when no host could confirm them.
func (t *table) confirmed(ctx context.Context) error {
	if time.Now().UnixNano()-t.confirmedAt.Load() < int64(ConfirmEvery) {
		return nil
	}
	return t.confirmedAfter(ctx, time.Now().Add(-ConfirmEvery).UnixNano())
}

// confirmedAfter makes sure the column facts were confirmed by a query that
// started at or after since (unix nanoseconds). A lookup joins the
// confirmation in flight, if any; a new one starts at most once per
// ConfirmEvery per table (it waits for its turn), shared by every lookup
// waiting for it. The wait is bounded by the lookup's deadline.
func (t *table) confirmedAfter(ctx context.Context, since int64) error {
	for attempt := 0; attempt < 3; attempt++ {
		if t.confirmedAt.Load() >= since {
			return nil
		}
		ch := t.confirmFlight.DoChan("", func() (any, error) {
			if wait := time.Until(time.Unix(0, t.lastConfirm.Load()).Add(ConfirmEvery)); wait > 0 {
				time.Sleep(wait)
			}
			t.lastConfirm.Store(time.Now().UnixNano())
			cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			return nil, t.confirm(cctx)
		})
		select {
		case <-ctx.Done():
			return ctx.Err()
		case r := <-ch:
			if r.Err != nil {
				return r.Err
			}
		}
	}
	if t.confirmedAt.Load() >= since {
		return nil
	}
	return errSchemaUnconfirmed
}

// confirmHedge is how long a confirmation waits for one host before it
// asks the next one too: a stalled host delays it by this much, not by a
// whole query_timeout.
const confirmHedge = 50 * time.Millisecond

// confirm asks the hosts whether the columns the facts describe are still
// as described, and rediscovers them when not. It asks the first usable
// host, and the next one too when the first has not answered within
// confirmHedge; the first answer counts.
func (t *table) confirm(ctx context.Context) error {
	pc := t.columns.Load()
	if pc == nil {
		return nil // nothing is decided on facts that are not there
	}
	now := time.Now()
	var cands []*hosts.Target
	for _, tg := range t.targets {
		if !tg.Quarantined(now) {
			cands = append(cands, tg)
		}
	}
	if len(cands) == 0 {
		cands = t.targets
	}
	qctx, cancel := context.WithTimeout(ctx, t.queryTimeout)
	defer cancel()
	type result struct {
		same bool
		err  error
		name string
	}
	results := make(chan result, len(cands))
	ask := func(tg *hosts.Target) {
		same, err := t.engine.Unchanged(qctx, tg.DB(), t.cf, *pc)
		results <- result{same, err, tg.Name()}
	}
	go ask(cands[0])
	asked, pending := 1, 1
	lastErr := errSchemaUnconfirmed
	hedge := time.NewTimer(confirmHedge)
	defer hedge.Stop()
	for pending > 0 {
		select {
		case <-hedge.C:
			if asked < len(cands) {
				go ask(cands[asked])
				asked++
				pending++
				hedge.Reset(confirmHedge)
			}
			continue
		case r := <-results:
			pending--
			if r.err != nil {
				lastErr = fmt.Errorf("%w: %s: %v", errSchemaUnconfirmed, r.name, r.err)
				if asked < len(cands) {
					go ask(cands[asked])
					asked++
					pending++
				}
				continue
			}
			if !r.same {
				if err := t.rediscover(ctx, true); err != nil {
					return fmt.Errorf("%w: %v", errSchemaUnconfirmed, err)
				}
			}
			t.confirmedAt.Store(now.UnixNano())
			return nil
		}
	}
	return lastErr
}

// refreshed confirms the column facts after the database contradicted
// them at errAt, with a query that starts after it, and reports whether
// they changed. At most one confirmation runs per ConfirmEvery, however
// many lookups meet the error: they wait for it.
func (t *table) refreshed(ctx context.Context, before *engine.Facts, errAt time.Time) bool {
	if t.confirmedAfter(ctx, errAt.UnixNano()) != nil {
		return false
	}
	return t.columns.Load() != before
}
