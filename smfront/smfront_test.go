package smfront

import (
	"context"
	"testing"

	"mapgate/answer"
	"mapgate/socketmap"
)

// Every answer becomes the reply the lookup core used to build itself.
func TestReply(t *testing.T) {
	cases := []struct {
		r    answer.Result
		want socketmap.Reply
	}{
		{answer.Found("bob@example.jp"), socketmap.OK("bob@example.jp")},
		{answer.NotFound(), socketmap.NotFound()},
		{answer.Fail(answer.ClassKey, "key cannot be compared by this query (see mapgate log)"), socketmap.Temp("key cannot be compared by this query (see mapgate log)")},
		{answer.Fail(answer.ClassQuery, "lookup failed: query or schema error (see mapgate log)"), socketmap.Temp("lookup failed: query or schema error (see mapgate log)")},
		{answer.Fail(answer.ClassHost, "no database host available"), socketmap.Temp("no database host available")},
		{answer.Fail(answer.ClassCanceled, "lookup canceled"), socketmap.Temp("lookup canceled")},
		{answer.Fail(answer.ClassUnknown, "database error (see mapgate log)"), socketmap.Temp("database error (see mapgate log)")},
		{answer.Fail(answer.ClassLimit, "expansion_limit exceeded"), socketmap.Temp("expansion_limit exceeded")},
		{answer.Fail(answer.ClassTimeout, "database did not answer in time"), socketmap.Timeout("database did not answer in time")},
		{answer.Fail(answer.ClassNoMap, "unknown map name"), socketmap.Perm("unknown map name")},
	}
	for _, c := range cases {
		if got := Reply(c.r); got != c.want {
			t.Errorf("Reply(%+v) = %v, want %v", c.r, got, c.want)
		}
	}
	h := Handler{Core: coreFunc(func(_ context.Context, name, key string) answer.Result { return answer.Found(name + ":" + key) })}
	if got := h.Lookup(context.Background(), "m", "k"); got != socketmap.OK("m:k") {
		t.Errorf("Handler.Lookup = %v", got)
	}
}

type coreFunc func(ctx context.Context, name, key string) answer.Result

func (f coreFunc) Lookup(ctx context.Context, name, key string) answer.Result {
	return f(ctx, name, key)
}

// Every class has a metric label of its own.
func TestClassNames(t *testing.T) {
	seen := map[string]bool{}
	for c := answer.ClassNone; c <= answer.ClassNoMap; c++ {
		s := c.String()
		if s == "unknown" && c != answer.ClassUnknown || seen[s] {
			t.Errorf("class %d: label %q", c, s)
		}
		seen[s] = true
	}
}
