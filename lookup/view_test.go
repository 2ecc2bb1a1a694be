package lookup

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"mapgate/socketmap"
)

// TestViewSharesTablesPoolsAndCache: a view with every search off answers
// only exact keys, over the set's own pools (one breaker per host) and its
// cache: a row the view read is a hit for the set; closing the view leaves
// the set serving.
func TestViewSharesTablesPoolsAndCache(t *testing.T) {
	srv := cacheDB(t, "view")
	obs := newCacheObs()
	s := loadSet(t, []string{"inet:" + srv.Addr()}, PoolOptions{}, obs, mapDef{name: "a", db: "view", body: qAlias})
	require.NoError(t, s.UseCache(testCache))
	vobs := newCacheObs()
	v := s.View(func(o MapOptions) MapOptions {
		o.AddressSearch, o.FoldCase = false, false
		return o
	}, vobs, "front", "test")
	assert.Same(t, s.Pools(), v.Pools(), "one set of pools and breakers")
	assert.Equal(t, s.Names(), v.Names())

	assert.Equal(t, socketmap.NotFound(), lookupReply(t, v, "a", "bob+tag@example.jp"), "the view runs no address search")
	assert.Equal(t, socketmap.OK("bob@example.jp"), lookupReply(t, s, "a", "bob+tag@example.jp"), "the set still does")

	// The set's search asked bob@example.jp: the view finds it cached.
	require.Equal(t, socketmap.OK("bob@example.jp"), lookupReply(t, v, "a", "bob@example.jp"))
	assert.Equal(t, 1, vobs.event("hit"), "the view's cache events are its own observer's")
	// And the other way round.
	require.Equal(t, socketmap.OK("alice@example.jp,alice@example.com"), lookupReply(t, v, "a", "alice@example.jp"))
	srv.MustExec(t, "UPDATE view.alias SET goto='new@example.jp' WHERE address IN ('bob@example.jp', 'alice@example.jp')")
	hits := obs.event("hit")
	assert.Equal(t, socketmap.OK("alice@example.jp,alice@example.com"), lookupReply(t, s, "a", "alice@example.jp"), "the view's read is in the set's cache")
	assert.Equal(t, hits+1, obs.event("hit"))

	n, err := s.Purge("a", "bob@example.jp")
	require.NoError(t, err)
	assert.Positive(t, n, "one cache: a purge of the set drops what the view read")
	require.NoError(t, v.Close())
	assert.Equal(t, socketmap.OK("new@example.jp"), lookupReply(t, s, "a", "bob@example.jp"), "closing a view closes nothing of the set")
	assert.Equal(t, socketmap.OK("new@example.jp"), lookupReply(t, v, "a", "bob@example.jp"))
}
