// Package sqlfront is what the MySQL and the PostgreSQL front do alike
// around one lookup: run it on the connection's goroutine under the
// request deadline and the connection's watchdog, and turn a resolver's
// panic into a failure. How a result is sent is answer.Result.SQL; the
// wire protocols are the fronts' own.
package sqlfront

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"time"

	"mapgate/answer"
	"mapgate/internal/conncore"
)

// Resolver answers one lookup of a map (both fronts' resolvers are one).
type Resolver interface {
	Resolve(ctx context.Context, mapName, key string) answer.Result
}

// Lookups runs one connection's lookups, one at a time. Set
// Watchdog.Expire (the front's answer to an overrun: an error, then the
// connection closed) before the first; Stop the watchdog when the
// connection ends.
type Lookups struct {
	Watchdog conncore.Watchdog
	// Key and Start are the lookup running (or the last one), for the
	// front's expire log line.
	Key   string
	Start time.Time
}

// Run asks r for key of mapName under a request deadline of timeout from
// base. false: the lookup overran the deadline and a grace
// (conncore.Grace), the watchdog has run Expire, and the result is
// discarded.
func (l *Lookups) Run(base context.Context, timeout time.Duration, log *slog.Logger, r Resolver, mapName, key string) (answer.Result, bool) {
	start := time.Now()
	ctx := conncore.NewRequestContext(base, start.Add(timeout))
	defer ctx.Release()
	l.Key, l.Start = key, start
	l.Watchdog.Begin(start, timeout+conncore.Grace(timeout))
	res := call(ctx, log, r, mapName, key)
	if !l.Watchdog.End() {
		return answer.Result{}, false
	}
	return res, true
}

// call runs the resolver, turning a panic into a failure.
func call(ctx context.Context, log *slog.Logger, r Resolver, mapName, key string) (res answer.Result) {
	defer func() {
		if p := recover(); p != nil {
			log.Error("resolver panic", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			res = answer.Fail(answer.ClassUnknown, "internal error")
		}
	}()
	return r.Resolve(ctx, mapName, key)
}
