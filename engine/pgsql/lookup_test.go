package pgsql_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sony/gobreaker/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"mapgate/answer"
	_ "mapgate/engine/pgsql"
	"mapgate/hosts"
	"mapgate/internal/testpg"
	"mapgate/lookup"
)

func TestMain(m *testing.M) { testpg.Main(m) }

// schema is an alias table, a catch-all per domain, an integer-keyed
// table; the rows a LATIN1 database cannot hold are left out of it.
func schema(latin1 bool) string {
	rows := []string{"bob@example.net", "josé@example.jp", "ångström@example.net", "@example.jp"}
	if !latin1 {
		rows = append(rows, "ユーザー@example.net", "ほげ@example.jp", "😀@example.jp")
	}
	var b strings.Builder
	b.WriteString("CREATE TABLE alias (address varchar(255) PRIMARY KEY, goto text NOT NULL, active boolean NOT NULL DEFAULT true);\n")
	b.WriteString("CREATE TABLE quota (id integer PRIMARY KEY, bytes bigint NOT NULL);\n")
	b.WriteString("INSERT INTO quota VALUES (1, 1024);\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "INSERT INTO alias (address, goto) VALUES ('%s', 'found:%s');\n", r, r)
	}
	return b.String()
}

// server is a private PostgreSQL with a LATIN1 database l1 and a UTF8
// database u8, each with schema.
func server(t *testing.T) *testpg.Server {
	s := testpg.Start(t)
	for _, db := range []string{"l1", "u8"} {
		enc := map[string]string{"l1": "LATIN1", "u8": "UTF8"}[db]
		require.NoError(t, s.CreateDB(db, enc))
		s.MustExec(t, db, schema(db == "l1"))
		require.NoError(t, s.GrantRead(db))
	}
	return s
}

// The maps of the tests, each a query of its own shape.
var queries = map[string]string{
	// required: every row needs address = $1.
	"alias": "SELECT goto FROM alias WHERE address='%s' AND active",
	// filter: a key the database cannot hold leaves the catch-all branch.
	"either": "SELECT goto FROM alias WHERE address='%s' OR address='@%d' ORDER BY goto",
	// opaque: NOT (…) proves nothing.
	"negated": "SELECT goto FROM alias WHERE NOT (address <> '%s')",
	// an integer column.
	"quota": "SELECT bytes FROM quota WHERE id='%s'",
	// a boolean result, as Postfix's libpq client prints it.
	"active": "SELECT active FROM alias WHERE address='%s'",
}

// writeMaps writes one pgsql_table(5) file per query for database db and
// returns the map specs (no address search: each key is one step).
func writeMaps(t *testing.T, dir string, s *testpg.Server, db string) []lookup.MapSpec {
	var specs []lookup.MapSpec
	for name, q := range queries {
		p := filepath.Join(dir, db+"-"+name+".cf")
		text := fmt.Sprintf("hosts = inet:127.0.0.1:%d\nuser = %s\npassword = %s\ndbname = %s\nquery = %s\n", s.Port, testpg.User, testpg.Password, db, q)
		require.NoError(t, os.WriteFile(p, []byte(text), 0o600))
		opts := lookup.DefaultMapOptions("+")
		opts.AddressSearch = false
		opts.SMTPUTF8 = false // smtputf8_enable = no: invalid UTF-8 reaches the table
		specs = append(specs, lookup.MapSpec{Name: db + "-" + name, Paths: []string{"pgsql:" + p}, Opts: opts})
	}
	return specs
}

// observer records, per map, the queries by class and the rejections.
type observer struct {
	mu       sync.Mutex
	queries  map[string]int // "map class"
	rejected map[string]int // "map reason"
}

func newObserver() *observer {
	return &observer{queries: map[string]int{}, rejected: map[string]int{}}
}

func (o *observer) Result(string, string, time.Duration) {}
func (o *observer) Rejected(m, reason string) {
	o.mu.Lock()
	o.rejected[m+" "+reason]++
	o.mu.Unlock()
}
func (o *observer) Query(m, _, class string, _ time.Duration) {
	o.mu.Lock()
	o.queries[m+" "+class]++
	o.mu.Unlock()
}

func (o *observer) snapshot() (map[string]int, map[string]int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	q, r := map[string]int{}, map[string]int{}
	for k, v := range o.queries {
		q[k] = v
	}
	for k, v := range o.rejected {
		r[k] = v
	}
	return q, r
}

func loadSet(t *testing.T, s *testpg.Server, po hosts.PoolOptions) (*lookup.Set, *observer) {
	dir := t.TempDir()
	specs := append(writeMaps(t, dir, s, "l1"), writeMaps(t, dir, s, "u8")...)
	obs := newObserver()
	set, err := lookup.Load(specs, po, nil, obs)
	require.NoError(t, err)
	t.Cleanup(func() { set.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	set.Discover(ctx)
	return set, obs
}

func show(r answer.Result) string {
	switch {
	case r.Found:
		return "OK " + r.Value
	case r.Failed():
		return "TEMP " + r.Class.String()
	}
	return "NOTFOUND"
}

// TestLookups serves pgsql: maps through lookup against a real server
// with a LATIN1 and a UTF8 database. Each answer is what the contract says,
// and its proof is checked: a key the database cannot take is a miss
// without a query where every branch needs it ("rejected"), the other
// branches' answer where it is one of several (a query with NULL in its
// place), and TEMP where the shape proves nothing (the server's own
// refusal, class key). No key-caused error counts against the host.
func TestLookups(t *testing.T) {
	s := server(t)
	set, obs := loadSet(t, s, hosts.PoolOptions{})
	ctx := context.Background()
	const (
		hoge  = "ほげ@example.jp"
		emoji = "😀@example.jp"
		bad   = "\xe9t\xe9@example.jp" // Latin-1 bytes, not UTF-8
	)
	for _, tc := range []struct {
		db, m, key, want string
		proof            string // "query" answered by the database, "reject REASON" without a query, "key" the server refused the key
	}{
		{"l1", "alias", "bob@example.net", "OK found:bob@example.net", "query"},
		{"l1", "alias", "nobody@example.net", "NOTFOUND", "query"},
		{"l1", "alias", "josé@example.jp", "OK found:josé@example.jp", "query"}, // converted to Latin-1, found
		{"l1", "alias", "ångström@example.net", "OK found:ångström@example.net", "query"},
		{"l1", "alias", hoge, "NOTFOUND", "reject unrepresentable"},
		{"l1", "alias", emoji, "NOTFOUND", "reject unrepresentable"},
		{"l1", "alias", bad, "NOTFOUND", "reject invalid_utf8"},
		{"u8", "alias", bad, "NOTFOUND", "reject invalid_utf8"},
		{"u8", "alias", "bob\x00@example.net", "NOTFOUND", "reject nul"}, // text cannot hold NUL; no client of Postfix's sends one
		{"u8", "alias", hoge, "OK found:" + hoge, "query"},
		{"u8", "alias", emoji, "OK found:" + emoji, "query"},
		{"u8", "alias", "ユーザー@example.net", "OK found:ユーザー@example.net", "query"},
		{"l1", "either", hoge, "OK found:@example.jp", "query"}, // $1 bound NULL: the catch-all answers
		{"l1", "either", "bob@example.net", "OK found:bob@example.net", "query"},
		{"u8", "either", hoge, "OK found:@example.jp,found:" + hoge, "query"},
		{"u8", "either", bad, "OK found:@example.jp", "query"},
		{"l1", "negated", "bob@example.net", "OK found:bob@example.net", "query"},
		{"l1", "negated", hoge, "TEMP key", "key"}, // the server refuses the statement (22P05): nothing is proven
		{"u8", "negated", hoge, "OK found:" + hoge, "query"},
		{"l1", "quota", "1", "OK 1024", "query"},
		{"u8", "quota", "2", "NOTFOUND", "query"},
		{"l1", "quota", "bob@example.net", "NOTFOUND", "reject not_a_number"},
		{"u8", "quota", "bob", "NOTFOUND", "key"}, // letters a number may have: the server's 22P02 proves it
		{"u8", "active", "bob@example.net", "OK t", "query"},
	} {
		name := tc.db + "-" + tc.m
		q0, r0 := obs.snapshot()
		got := show(set.Lookup(ctx, name, tc.key))
		q1, r1 := obs.snapshot()
		assert.Equal(t, tc.want, got, "%s %q", name, tc.key)
		switch {
		case tc.proof == "query":
			assert.Equal(t, q0[name+" none"]+1, q1[name+" none"], "%s %q: answered by the database", name, tc.key)
		case tc.proof == "key":
			assert.Equal(t, q0[name+" key"]+1, q1[name+" key"], "%s %q: the server refused the key", name, tc.key)
		default:
			reason := strings.TrimPrefix(tc.proof, "reject ")
			assert.Equal(t, r0[name+" "+reason]+1, r1[name+" "+reason], "%s %q: rejected (%s) without a query", name, tc.key, reason)
			assert.Equal(t, sum(q0, name), sum(q1, name), "%s %q: no query", name, tc.key)
		}
		t.Logf("%s %q -> %s (%s)", name, tc.key, got, tc.proof)
	}
	q, _ := obs.snapshot()
	for k, n := range q {
		assert.False(t, strings.HasSuffix(k, " host"), "a host fault: %s %d", k, n)
	}
	for _, h := range set.Pools().Hosts() {
		assert.Equal(t, gobreaker.StateClosed, h.State, h.Host)
	}
}

func sum(m map[string]int, prefix string) int {
	n := 0
	for k, v := range m {
		if strings.HasPrefix(k, prefix+" ") {
			n += v
		}
	}
	return n
}

// TestOutage: only host faults count against the breaker. A flood of keys
// the server refuses leaves the host's breaker closed; a killed server is
// TEMP (class host) and is used again once it is back; a stalled one
// (SIGSTOP) is TEMP within the query timeout, since every read on a
// connection has a deadline, and is used again once it resumes.
func TestOutage(t *testing.T) {
	s := server(t)
	po := hosts.PoolOptions{DialTimeout: 500 * time.Millisecond, QueryTimeout: 700 * time.Millisecond, BreakerTimeout: 500 * time.Millisecond, BreakerMaxTimeout: time.Second}
	set, obs := loadSet(t, s, po)
	ctx := context.Background()
	lookup := func(m, key string) (string, time.Duration) {
		t0 := time.Now()
		r := show(set.Lookup(ctx, m, key))
		return r, time.Since(t0)
	}
	breakers := func() []gobreaker.State {
		var st []gobreaker.State
		for _, h := range set.Pools().Hosts() {
			st = append(st, h.State)
		}
		return st
	}
	r, _ := lookup("l1-alias", "bob@example.net")
	require.Equal(t, "OK found:bob@example.net", r)

	for i := 0; i < 50; i++ {
		r, _ := lookup("l1-negated", fmt.Sprintf("ほげ%d@example.jp", i))
		require.Equal(t, "TEMP key", r)
		r, _ = lookup("l1-quota", fmt.Sprintf("x%d", i)) // 22P02 from the server
		require.Equal(t, "NOTFOUND", r)
	}
	assert.NotContains(t, breakers(), gobreaker.StateOpen, "key-caused errors opened a breaker")
	q, _ := obs.snapshot()
	assert.Zero(t, q["l1-negated host"]+q["l1-quota host"])
	r, _ = lookup("l1-alias", "bob@example.net")
	require.Equal(t, "OK found:bob@example.net", r)

	for _, outage := range []struct {
		name        string
		stop, start func() error
	}{
		{"kill", s.Kill, s.Start},
		{"pause", s.Pause, s.Resume},
	} {
		require.NoError(t, outage.stop(), outage.name)
		var worst time.Duration
		for i := 0; i < 10; i++ {
			r, d := lookup("l1-alias", "bob@example.net")
			require.True(t, strings.HasPrefix(r, "TEMP"), "%s: %s", outage.name, r)
			worst = max(worst, d)
		}
		t.Logf("%s: 10 lookups TEMP, the slowest in %v; breakers %v", outage.name, worst.Round(time.Millisecond), breakers())
		assert.Less(t, worst, 2*time.Second, outage.name)
		assert.Contains(t, breakers(), gobreaker.StateOpen, "%s: the host fault opened the breaker", outage.name)
		require.NoError(t, outage.start(), outage.name)
		t0 := time.Now()
		for {
			r, _ := lookup("l1-alias", "bob@example.net")
			if r == "OK found:bob@example.net" {
				break
			}
			require.Less(t, time.Since(t0), 20*time.Second, "%s: no recovery: %s", outage.name, r)
			time.Sleep(100 * time.Millisecond)
		}
		t.Logf("%s: answering again %v after the server came back", outage.name, time.Since(t0).Round(time.Millisecond))
	}
}

// TestCacheAndSearch: address search over a pgsql: map (the key, the key
// without its extension, the catch-all @domain), the answer cache (a
// second lookup is not a query), and cached rows served when the server
// is gone (stale), a cached miss never.
func TestCacheAndSearch(t *testing.T) {
	s := server(t)
	dir := t.TempDir()
	p := filepath.Join(dir, "alias.cf")
	text := fmt.Sprintf("hosts = inet:127.0.0.1:%d\nuser = %s\npassword = %s\ndbname = l1\nquery = %s\n", s.Port, testpg.User, testpg.Password, queries["alias"])
	require.NoError(t, os.WriteFile(p, []byte(text), 0o600))
	obs := newObserver()
	set, err := lookup.Load([]lookup.MapSpec{{Name: "alias", Paths: []string{"proxy:pgsql:" + p}, Opts: lookup.DefaultMapOptions("+")}},
		hosts.PoolOptions{QueryTimeout: 500 * time.Millisecond, DialTimeout: 500 * time.Millisecond}, nil, obs)
	require.NoError(t, err)
	defer set.Close()
	require.NoError(t, set.UseCache(lookup.CacheOptions{TTL: time.Minute, NegativeTTL: time.Second, StaleMax: time.Hour, MaxEntries: 100, MaxBytes: 1 << 20}))
	ctx := context.Background()
	set.Discover(ctx)
	for key, want := range map[string]string{
		"bob@example.net":      "OK found:bob@example.net",
		"Bob+tag@Example.NET":  "OK found:bob@example.net", // folded, extension dropped
		"anyone@example.jp":    "OK found:@example.jp",     // the catch-all
		"ほげ+x@example.jp":      "OK found:@example.jp",     // its steps the database cannot hold are misses; the catch-all answers
		"nobody@example.net":   "NOTFOUND",
		"ångström@example.net": "OK found:ångström@example.net",
	} {
		assert.Equal(t, want, show(set.Lookup(ctx, "alias", key)), key)
	}
	q0, _ := obs.snapshot()
	assert.Equal(t, "OK found:bob@example.net", show(set.Lookup(ctx, "alias", "bob@example.net")))
	q1, _ := obs.snapshot()
	assert.Equal(t, sum(q0, "alias"), sum(q1, "alias"), "a cache hit is not a query")

	require.NoError(t, s.Kill())
	assert.Equal(t, "OK found:bob@example.net", show(set.Lookup(ctx, "alias", "bob@example.net")), "stale rows while the server is gone")
	time.Sleep(1100 * time.Millisecond) // past NegativeTTL
	assert.Equal(t, "TEMP host", show(set.Lookup(ctx, "alias", "nobody@example.net")), "a miss is never served stale")
}

// TestUntypedContext: a parameter whose type its context does not give
// (CONCAT takes "any") is read as text, as the server reads Postfix's '…'
// literal there; without that, the server refuses the statement for every
// key (42P18).
func TestUntypedContext(t *testing.T) {
	s := server(t)
	dir := t.TempDir()
	p := filepath.Join(dir, "concat.cf")
	text := fmt.Sprintf("hosts = inet:127.0.0.1:%d\nuser = %s\npassword = %s\ndbname = u8\nquery = SELECT goto FROM alias WHERE address = CONCAT('@', '%%d') AND active\n", s.Port, testpg.User, testpg.Password)
	require.NoError(t, os.WriteFile(p, []byte(text), 0o600))
	opts := lookup.DefaultMapOptions("+")
	opts.AddressSearch = false
	set, err := lookup.Load([]lookup.MapSpec{{Name: "concat", Paths: []string{"pgsql:" + p}, Opts: opts}}, hosts.PoolOptions{}, nil, nil)
	require.NoError(t, err)
	defer set.Close()
	ctx := context.Background()
	require.NoError(t, func() error { m, _ := set.Map("concat"); return m.Discover(ctx) }())
	assert.Equal(t, "OK found:@example.jp", show(set.Lookup(ctx, "concat", "anyone@example.jp")))
	assert.Equal(t, "NOTFOUND", show(set.Lookup(ctx, "concat", "anyone@example.net")))
}

// TestRestartedServer: after a server restarts, the pool's idle
// connections to the old one are dead. The first lookup after the restart
// is answered (the dead connections are found idle and dropped before
// use), and counts no host fault against a host that is up.
func TestRestartedServer(t *testing.T) {
	s := server(t)
	set, obs := loadSet(t, s, hosts.PoolOptions{QueryTimeout: time.Second})
	ctx := context.Background()
	for i := 0; i < 8; i++ { // several idle connections
		require.Equal(t, "OK found:bob@example.net", show(set.Lookup(ctx, "l1-alias", "bob@example.net")))
	}
	for _, restart := range []func() error{s.Stop, s.Kill} {
		require.NoError(t, restart())
		require.NoError(t, s.Start())
		q0, _ := obs.snapshot()
		for i := 0; i < 8; i++ {
			assert.Equal(t, "OK found:bob@example.net", show(set.Lookup(ctx, "l1-alias", "bob@example.net")), "lookup %d after the restart", i)
		}
		q1, _ := obs.snapshot()
		assert.Equal(t, q0["l1-alias host"], q1["l1-alias host"], "host faults after the restart")
	}
}
