// Package smfront is the socketmap front end of the lookup core: the one
// place where a lookup's answer.Result becomes a socketmap_table(5) reply
// (OK, NOTFOUND, TEMP, TIMEOUT, PERM).
package smfront

import (
	"context"

	"mapgate/answer"
	"mapgate/socketmap"
)

// Core is what the socketmap front end needs of the lookup core.
type Core interface {
	Lookup(ctx context.Context, name, key string) answer.Result
}

// Reply is the socketmap reply for r. An empty found value is sent as
// NOTFOUND (socketmap.OK's rule; the core never returns one).
func Reply(r answer.Result) socketmap.Reply {
	switch {
	case r.Found && !r.Failed():
		return socketmap.OK(r.Value)
	case r.Class == answer.ClassNone:
		return socketmap.NotFound()
	case r.Class == answer.ClassTimeout:
		return socketmap.Timeout(r.Reason)
	case r.Class == answer.ClassNoMap:
		return socketmap.Perm(r.Reason)
	default:
		return socketmap.Temp(r.Reason)
	}
}

// Handler serves a Core over the socketmap protocol.
type Handler struct{ Core Core }

// Lookup implements socketmap.Handler.
func (h Handler) Lookup(ctx context.Context, name, key string) socketmap.Reply {
	return Reply(h.Core.Lookup(ctx, name, key))
}

var _ socketmap.Handler = Handler{}
