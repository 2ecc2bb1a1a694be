package lookup

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"mapgate/answer"
	"mapgate/engine"
	mysqleng "mapgate/engine/mysql"
	"mapgate/internal/testdb"
	"mapgate/socketmap"
)

// fakeEngine is a second engine, "fakesql", over the same MariaDB: what
// lookup and hosts do with its tables is what it says, not MySQL's.
//
//   - Its own template dialect: the query names the key's parts by number,
//     $1 the key, $2 its localpart, $3 its domain, each as often as it
//     likes (pgsql-style numbered placeholders); the statement it sends is
//     MariaDB's, one '?' per use.
//   - Its own key policy, per statement as PostgreSQL checks encodings:
//     its "database encoding" is ASCII, so a bound value with any other
//     byte cannot be sent at all; the step is a miss, whatever the roles.
//   - Its own classes: every server error is the key's (a broken query
//     answers NOTFOUND, where MySQL's engine answers TEMP).
//   - Its own catalogue (no information_schema) and its own connector
//     (MySQL's, counted).
//
// A test fake only: it answers NOTFOUND for a broken query, which the
// contract forbids a real engine.
type fakeEngine struct{ mysqleng.Engine }

var fakeCalls struct{ connects, discovers, classifies, plans atomic.Int64 }

func init() { engine.Register(fakeEngine{}) }

func (fakeEngine) Name() string { return "fakesql" }

var fakePlaceholder = regexp.MustCompile(`\$[1-3]`)

func (e fakeEngine) ReadTable(path string) (*engine.Table, error) {
	t, err := mysqleng.Engine{}.ReadTable(path)
	if err != nil {
		return nil, err
	}
	q := mysqleng.File(t).QueryText
	var tmpl fakeTemplate
	for _, m := range fakePlaceholder.FindAllString(q, -1) {
		n, _ := strconv.Atoi(m[1:])
		tmpl = append(tmpl, n)
	}
	t.Engine = e
	t.Statement = fakePlaceholder.ReplaceAllString(q, "?")
	t.Query = tmpl
	return t, nil
}

// fakeTemplate lists the part of the key each '?' binds.
type fakeTemplate []int

func (ft fakeTemplate) Expand(key string, args []any) ([]any, bool) {
	local, domain, _ := strings.Cut(key, "@")
	for _, n := range ft {
		args = append(args, [...]string{1: key, 2: local, 3: domain}[n])
	}
	return args, key != ""
}

func (fakeEngine) Connector(t *engine.Table, h engine.Host, o engine.ConnOptions) (driver.Connector, string, string, error) {
	c, key, desc, err := mysqleng.Engine{}.Connector(t, h, o)
	return countedConnector{c}, "fake " + key, "fake " + desc, err
}

type countedConnector struct{ driver.Connector }

func (c countedConnector) Connect(ctx context.Context) (driver.Conn, error) {
	fakeCalls.connects.Add(1)
	return c.Connector.Connect(ctx)
}

func (fakeEngine) Classify(err error, _ bool) answer.Class {
	fakeCalls.classifies.Add(1)
	if c := (mysqleng.Engine{}).Classify(err, true); c != answer.ClassQuery {
		return c
	}
	return answer.ClassKey
}

func (fakeEngine) IsCharsetError(error) bool { return false }

type fakeFacts struct{}

func (fakeFacts) Equal(g engine.Facts) bool { _, ok := g.(fakeFacts); return ok }
func (fakeFacts) Params() []engine.ParamFacts {
	return []engine.ParamFacts{{Known: true, Text: "fake catalogue"}}
}

func (fakeEngine) Discover(context.Context, *sql.DB, *engine.Table) (engine.Facts, error) {
	fakeCalls.discovers.Add(1)
	return fakeFacts{}, nil
}

func (fakeEngine) Unchanged(context.Context, *sql.DB, *engine.Table, engine.Facts) (bool, error) {
	return true, nil
}

func (fakeEngine) Plan(_ *engine.Table, _ engine.Facts, args []any) engine.Plan {
	fakeCalls.plans.Add(1)
	for _, a := range args {
		if s, ok := a.(string); ok && keyNotASCII(s) {
			return engine.Plan{Miss: &engine.Miss{Reason: "fake_encoding", Err: fmt.Errorf("%q is not ASCII", s)}}
		}
	}
	return engine.Plan{}
}

func (fakeEngine) KeyErrorMayBe(*engine.Table, engine.Facts, []any) bool  { return true }
func (fakeEngine) KeyErrorIsMiss(*engine.Table, engine.Facts, []any) bool { return true }

func keyNotASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return true
		}
	}
	return false
}

// TestSecondEngine serves the same rows through MySQL's engine and through
// fakesql, each map (and each table of one map) by its own engine, and
// shows that lookup and hosts do what the table's engine says: its
// statement and template, its connector, its catalogue, its key policy
// and its classes. Against the old code it cannot compile: there was one
// catalogue (lookup.Catalog, a package global) and one engine per Pools.
func TestSecondEngine(t *testing.T) {
	srv := sharedServer(t)
	dir := t.TempDir()
	write := func(name, query string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(fmt.Sprintf("hosts = inet:%s\nuser = %s\npassword = %s\ndbname = postfix\nquery = %s\n",
			srv.Addr(), testdb.User, testdb.Password, query)), 0o600))
		return p
	}
	myGood := write("good.cf", "SELECT goto FROM alias WHERE address = '%s' AND active = '1'")
	myBroken := write("broken.cf", "SELECT goto FROM alias WHERE no_such_column = '%s'")
	fakeGood := write("good.fake", "SELECT goto FROM alias WHERE address = CONCAT($2, '@', $3) AND address = $1 AND active = '1'")
	fakeBroken := write("broken.fake", "SELECT goto FROM alias WHERE no_such_column = $1")
	exact := MapOptions{}
	specs := []MapSpec{
		{Name: "my", Paths: []string{myGood}, Opts: exact},
		{Name: "my_typed", Paths: []string{"proxy:mysql:" + myGood}, Opts: exact},
		{Name: "fake", Paths: []string{"fakesql:" + fakeGood}, Opts: exact},
		{Name: "my_broken", Paths: []string{myBroken}, Opts: exact},
		{Name: "fake_broken", Paths: []string{"fakesql:" + fakeBroken}, Opts: exact},
		// One map, two engines: each table answers by its own.
		{Name: "fake_broken_then_my", Paths: []string{"fakesql:" + fakeBroken, "mysql:" + myGood}, Opts: exact},
		{Name: "my_broken_then_fake", Paths: []string{myBroken, "fakesql:" + fakeGood}, Opts: exact},
	}
	obs := newCounting()
	discovers0 := fakeCalls.discovers.Load()
	s, err := Load(specs, PoolOptions{}, testLogger(t), obs)
	require.NoError(t, err)
	defer s.Close()
	ctx := context.Background()
	s.Discover(ctx)
	assert.Equal(t, int64(4), fakeCalls.discovers.Load()-discovers0, "fakesql's catalogue, once per fakesql table")
	m, _ := s.Map("fake")
	assert.Equal(t, []engine.Facts{fakeFacts{}}, m.Columns())

	ok, nf := socketmap.OK, socketmap.NotFound()
	for _, c := range []struct {
		m, key string
		want   socketmap.Reply
	}{
		{"my", "bob@example.jp", ok("bob@example.jp")},
		{"my_typed", "bob@example.jp", ok("bob@example.jp")},
		{"fake", "bob@example.jp", ok("bob@example.jp")},
		{"fake", "nobody@example.jp", nf},
		// latin1 holds é: MySQL's policy sends it (the row matches
		// accent-insensitively); fakesql's cannot encode it at all.
		{"my", "josé@example.jp", ok("jose@example.jp")},
		{"fake", "josé@example.jp", nf},
		// A broken query: MySQL's classes say the query's (TEMP); fakesql's
		// say the key's, a miss.
		{"fake_broken", "bob@example.jp", nf},
		{"fake_broken_then_my", "bob@example.jp", ok("bob@example.jp")},
		{"my_broken_then_fake", "bob@example.jp", socketmap.Temp("")},
	} {
		got := lookupReply(t, s, c.m, c.key)
		if c.want.Status == socketmap.StatusTemp {
			assert.Equal(t, socketmap.StatusTemp, got.Status, "%s %q: %v", c.m, c.key, got)
			continue
		}
		assert.Equal(t, c.want, got, "%s %q", c.m, c.key)
	}
	assert.Equal(t, 1, obs.count(obs.rejected, "fake_encoding"), "fakesql's policy answered josé without a query")
	assert.Equal(t, 2, obs.count(obs.rejected, "key_error"), "fakesql's classes made both broken fakesql lookups a miss")
	assert.Positive(t, fakeCalls.connects.Load(), "fakesql's connector")
	assert.Positive(t, fakeCalls.classifies.Load(), "fakesql's classes")
	assert.Positive(t, fakeCalls.plans.Load(), "fakesql's key policy")

	// A table type no engine serves is refused, naming what is served.
	_, err = Load([]MapSpec{{Name: "pg", Paths: []string{"pgsql:" + myGood}}}, PoolOptions{}, testLogger(t), nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `table type "pgsql" is not served by mapgate`)
}
