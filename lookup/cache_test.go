package lookup

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"mapgate/internal/testdb"
	"mapgate/socketmap"
)

// cacheObs counts queries (as countingObserver) and cache events.
type cacheObs struct {
	*countingObserver
	mu     sync.Mutex
	events map[string]int
}

func newCacheObs() *cacheObs {
	return &cacheObs{countingObserver: newCounting(), events: map[string]int{}}
}

func (o *cacheObs) Cache(_, event string) {
	o.mu.Lock()
	o.events[event]++
	o.mu.Unlock()
}

func (o *cacheObs) event(e string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.events[e]
}

// fakeClock shifts the cache's clock: the tests never wait out a TTL.
func fakeClock(s *Set) *atomic.Int64 {
	var off atomic.Int64
	s.cache.now = func() time.Time { return time.Now().Add(time.Duration(off.Load())) }
	return &off
}

var testCache = CacheOptions{TTL: time.Hour, NegativeTTL: time.Minute, StaleMax: 24 * time.Hour,
	MaxEntries: 1000, MaxBytes: 1 << 20}

// cacheDB makes a database of its own on the shared server, for tests that
// change rows.
func cacheDB(t *testing.T, name string) *testdb.Server {
	srv := sharedServer(t)
	srv.MustExec(t, "DROP DATABASE IF EXISTS `"+name+"`;\n"+testdb.Schema(name, "utf8mb4", "utf8mb4_general_ci"))
	return srv
}

func TestCacheOffByDefault(t *testing.T) {
	srv := cacheDB(t, "cache_off")
	obs := newCacheObs()
	s := loadSet(t, []string{"inet:" + srv.Addr()}, PoolOptions{}, obs, mapDef{name: "a", db: "cache_off", body: qAlias})
	require.Equal(t, socketmap.OK("bob@example.jp"), lookupReply(t, s, "a", "bob@example.jp"))
	srv.MustExec(t, "UPDATE cache_off.alias SET goto='new@example.jp' WHERE address='bob@example.jp'")
	assert.Equal(t, socketmap.OK("new@example.jp"), lookupReply(t, s, "a", "bob@example.jp"), "without a cache, a change is seen at once")
	assert.Zero(t, obs.event("hit")+obs.event("miss"))
	n, err := s.Purge("a", "bob@example.jp")
	assert.NoError(t, err)
	assert.Zero(t, n)
}

func TestCacheTTLs(t *testing.T) {
	srv := cacheDB(t, "cache_ttl")
	obs := newCacheObs()
	s := loadSet(t, []string{"inet:" + srv.Addr()}, PoolOptions{}, obs, mapDef{name: "a", db: "cache_ttl", body: qAlias})
	require.NoError(t, s.UseCache(testCache))
	clock := fakeClock(s)

	require.Equal(t, socketmap.OK("bob@example.jp"), lookupReply(t, s, "a", "bob@example.jp"))
	q := obs.count(obs.queries, "none")
	srv.MustExec(t, "UPDATE cache_ttl.alias SET goto='new@example.jp' WHERE address='bob@example.jp'")
	assert.Equal(t, socketmap.OK("bob@example.jp"), lookupReply(t, s, "a", "bob@example.jp"), "within the TTL: the cached rows")
	assert.Equal(t, q, obs.count(obs.queries, "none"), "a hit sends no query")
	assert.Equal(t, 1, obs.event("hit"))

	// A miss: kept for the negative TTL only.
	require.Equal(t, socketmap.NotFound(), lookupReply(t, s, "a", "carl@example.jp"))
	srv.MustExec(t, "INSERT INTO cache_ttl.alias (address, goto, domain) VALUES ('carl@example.jp','carl@dest.example','example.jp')")
	assert.Equal(t, socketmap.NotFound(), lookupReply(t, s, "a", "carl@example.jp"), "within the negative TTL")

	clock.Store(int64(testCache.NegativeTTL))
	assert.Equal(t, socketmap.OK("carl@dest.example"), lookupReply(t, s, "a", "carl@example.jp"), "past the negative TTL")
	assert.Equal(t, socketmap.OK("bob@example.jp"), lookupReply(t, s, "a", "bob@example.jp"), "rows are kept for the (longer) TTL")

	clock.Store(int64(testCache.TTL))
	assert.Equal(t, socketmap.OK("new@example.jp"), lookupReply(t, s, "a", "bob@example.jp"), "past the TTL")
}

// Rows are cached, not answers: two keys with the same bound values get
// their own formatting of the rows, from one query.
func TestCacheFormatsPerKey(t *testing.T) {
	srv := cacheDB(t, "cache_fmt")
	obs := newCacheObs()
	s := loadSet(t, []string{"inet:" + srv.Addr()}, PoolOptions{}, obs, mapDef{name: "rw", db: "cache_fmt",
		body: "query = SELECT 'dest.example' FROM domain WHERE domain='%d'\nresult_format = %U@%s", opts: &MapOptions{}})
	require.NoError(t, s.UseCache(testCache))
	assert.Equal(t, socketmap.OK("bob@dest.example"), lookupReply(t, s, "rw", "bob@example.jp"))
	assert.Equal(t, socketmap.OK("alice@dest.example"), lookupReply(t, s, "rw", "alice@example.jp"))
	assert.Equal(t, 1, obs.count(obs.queries, "none"))
	assert.Equal(t, 1, obs.event("hit"))
}

// A dictionary attack (random unknown local parts in one domain, address
// search on) costs one statement per key: the @domain step is cached.
func TestCacheDictionaryAttack(t *testing.T) {
	srv := cacheDB(t, "cache_dict")
	obs := newCacheObs()
	s := loadSet(t, []string{"inet:" + srv.Addr()}, PoolOptions{}, obs, mapDef{name: "a", db: "cache_dict", body: qAlias})
	require.NoError(t, s.UseCache(testCache))
	before, err := srv.GlobalStatus("Com_stmt_execute")
	require.NoError(t, err)
	rng := rand.New(rand.NewPCG(1, 2))
	const n = 300
	for i := range n {
		key := fmt.Sprintf("x%d%08x@example.jp", i, rng.Uint32())
		require.Equal(t, socketmap.NotFound(), lookupReply(t, s, "a", key))
	}
	after, err := srv.GlobalStatus("Com_stmt_execute")
	require.NoError(t, err)
	per := float64(after-before) / n
	t.Logf("dictionary attack: %d keys, %d statements, %.3f per key", n, after-before, per)
	assert.LessOrEqual(t, per, 1.1)
}

// Every host down: rows younger than cache_stale_max answer, a miss never
// does, and nothing older than cache_stale_max.
func TestCacheStaleWhileDown(t *testing.T) {
	if testing.Short() {
		t.Skip("needs a private MariaDB (not in -short)")
	}
	srv := testdb.Start(t)
	srv.MustExec(t, testdb.Schema("postfix", "latin1", "latin1_general_ci"))
	obs := newCacheObs()
	s := loadSet(t, []string{"inet:" + srv.Addr()}, faultPool, obs, mapDef{name: "a", db: "postfix", body: qAlias})
	require.NoError(t, s.UseCache(testCache))
	clock := fakeClock(s)

	require.Equal(t, socketmap.OK("bob@example.jp"), lookupReply(t, s, "a", "bob@example.jp"))
	require.Equal(t, socketmap.NotFound(), lookupReply(t, s, "a", "nobody@example.jp"))
	require.NoError(t, srv.Kill())

	// Within their TTLs, cached answers are plain hits.
	assert.Equal(t, socketmap.OK("bob@example.jp"), lookupReply(t, s, "a", "bob@example.jp"))
	assert.Equal(t, socketmap.NotFound(), lookupReply(t, s, "a", "nobody@example.jp"))
	assert.Zero(t, obs.event("stale"))

	clock.Store(int64(2 * testCache.TTL))
	assert.Equal(t, socketmap.OK("bob@example.jp"), lookupReply(t, s, "a", "bob@example.jp"), "stale rows while every host is down")
	assert.Equal(t, 1, obs.event("stale"))
	assert.Equal(t, socketmap.StatusTemp, lookupReply(t, s, "a", "nobody@example.jp").Status, "a miss is never served stale")
	assert.Equal(t, socketmap.StatusTemp, lookupReply(t, s, "a", "alice@example.jp").Status, "never cached")

	clock.Store(int64(testCache.StaleMax))
	assert.Equal(t, socketmap.StatusTemp, lookupReply(t, s, "a", "bob@example.jp").Status, "older than cache_stale_max")

	// Back up: asked again, and cached again.
	require.NoError(t, srv.Start())
	waitFor(t, "host back", 20*time.Second, func() bool {
		return lookupReply(t, s, "a", "bob@example.jp") == socketmap.OK("bob@example.jp")
	})
	assert.Equal(t, socketmap.OK("alice@example.jp,alice@example.com"), lookupReply(t, s, "a", "alice@example.jp"),
		"the TEMP answered while the host was down was not cached")
}

func TestCachePurge(t *testing.T) {
	srv := cacheDB(t, "cache_purge")
	obs := newCacheObs()
	s := loadSet(t, []string{"inet:" + srv.Addr()}, PoolOptions{}, obs,
		mapDef{name: "a", db: "cache_purge", body: qAlias}, mapDef{name: "b", db: "cache_purge", body: qAlias})
	require.NoError(t, s.UseCache(testCache))
	for _, m := range []string{"a", "b"} {
		require.Equal(t, socketmap.OK("bob@example.jp"), lookupReply(t, s, m, "bob@example.jp"))
		require.Equal(t, socketmap.OK("alice@example.jp,alice@example.com"), lookupReply(t, s, m, "alice@example.jp"))
	}
	srv.MustExec(t, "UPDATE cache_purge.alias SET goto=CONCAT('new-', goto)")

	_, err := s.Purge("nosuch", "")
	assert.Error(t, err)
	n, err := s.Purge("a", "Bob+ext@example.jp") // the key's search steps, folded
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	assert.Equal(t, socketmap.OK("new-bob@example.jp"), lookupReply(t, s, "a", "bob@example.jp"))
	assert.Equal(t, socketmap.OK("alice@example.jp,alice@example.com"), lookupReply(t, s, "a", "alice@example.jp"), "another key's entry stays")
	assert.Equal(t, socketmap.OK("bob@example.jp"), lookupReply(t, s, "b", "bob@example.jp"), "another map's entry stays")

	n, err = s.Purge("a", "")
	require.NoError(t, err)
	assert.Equal(t, 2, n)
	assert.Equal(t, socketmap.OK("new-alice@example.jp,alice@example.com"), lookupReply(t, s, "a", "alice@example.jp"))
	assert.Equal(t, socketmap.OK("bob@example.jp"), lookupReply(t, s, "b", "bob@example.jp"))

	_, err = s.Purge("", "")
	require.NoError(t, err)
	assert.Equal(t, socketmap.OK("new-bob@example.jp"), lookupReply(t, s, "b", "bob@example.jp"))
}

// The cache never holds more than its bounds, in entries or bytes.
func TestCacheBounds(t *testing.T) {
	for _, o := range []CacheOptions{
		{TTL: time.Hour, NegativeTTL: time.Minute, MaxEntries: 50, MaxBytes: 1 << 30},
		{TTL: time.Hour, NegativeTTL: time.Minute, MaxEntries: 1 << 20, MaxBytes: 20 << 10},
	} {
		ac, err := newAnswerCache(o)
		require.NoError(t, err)
		at := time.Now()
		for i := range 2000 {
			ac.put(fmt.Sprintf("m\x000\x00a\x00s%d", i), []string{fmt.Sprintf("value-%d-%0100d", i, 0)}, at)
		}
		ac.c.CleanUp()
		n, w := ac.c.EstimatedSize(), ac.c.WeightedSize()
		t.Logf("%+v: %d entries, weight %d", o, n, w)
		assert.LessOrEqual(t, n, o.MaxEntries)
		assert.LessOrEqual(t, w, uint64(o.MaxBytes))
		assert.Positive(t, n)
		ac.close()
	}
}

// A purge wins over a query sent before it: its rows are not stored.
func TestCachePurgeDropsOlderReads(t *testing.T) {
	ac, err := newAnswerCache(testCache)
	require.NoError(t, err)
	defer ac.close()
	sent := time.Now()
	ac.purgePrefix("")
	ac.put("k", []string{"v"}, sent)
	_, ok := ac.fresh("k")
	assert.False(t, ok)
	ac.put("k", []string{"v"}, time.Now().Add(time.Millisecond))
	_, ok = ac.fresh("k")
	assert.True(t, ok)
}

func TestCacheOptionsValidate(t *testing.T) {
	assert.NoError(t, CacheOptions{}.Validate())
	assert.NoError(t, testCache.Validate())
	bad := testCache
	bad.NegativeTTL = 2 * time.Hour
	assert.Error(t, bad.Validate())
	bad = testCache
	bad.MaxEntries = 0
	assert.Error(t, bad.Validate())
}
