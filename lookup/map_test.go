package lookup

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"mapgate/internal/testdb"
	"mapgate/smfront"
	"mapgate/socketmap"
)

// sharedDB is one private MariaDB for the tests that do not kill servers,
// with the latin1 (postfix), utf8mb3 (pf3) and utf8mb4 (pf4) schemas.
var (
	sharedOnce sync.Once
	sharedSrv  *testdb.Server
	sharedErr  error
)

func sharedServer(t *testing.T) *testdb.Server {
	t.Helper()
	if testing.Short() {
		t.Skip("needs a private MariaDB (not in -short)")
	}
	sharedOnce.Do(func() {
		sharedSrv, sharedErr = testdb.New()
		if sharedErr != nil {
			return
		}
		for _, s := range []string{
			testdb.Schema("postfix", "latin1", "latin1_general_ci"),
			testdb.Schema("pf3", "utf8mb3", "utf8mb3_general_ci"),
			testdb.Schema("pf4", "utf8mb4", "utf8mb4_general_ci"),
		} {
			if sharedErr = sharedSrv.Exec(s); sharedErr != nil {
				return
			}
		}
	})
	require.NoError(t, sharedErr)
	return sharedSrv
}

func TestMain(m *testing.M) {
	code := m.Run()
	if sharedSrv != nil {
		sharedSrv.Close()
	}
	os.Exit(code)
}

// writeCF writes a mysql_table(5) file for the given hosts and body.
func writeCF(t *testing.T, hosts []string, dbname, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "map.cf")
	text := fmt.Sprintf("hosts = %s\nuser = %s\npassword = %s\ndbname = %s\n%s\n",
		strings.Join(hosts, " "), testdb.User, testdb.Password, dbname, body)
	require.NoError(t, os.WriteFile(p, []byte(text), 0o600))
	return p
}

// testLogger sends the maps' logs to the test log.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// countingObserver records rejections and query classes.
type countingObserver struct {
	mu       sync.Mutex
	rejected map[string]int
	queries  map[string]int
}

func newCounting() *countingObserver {
	return &countingObserver{rejected: map[string]int{}, queries: map[string]int{}}
}
func (o *countingObserver) Result(string, string, time.Duration) {}
func (o *countingObserver) Rejected(_, reason string) {
	o.mu.Lock()
	o.rejected[reason]++
	o.mu.Unlock()
}
func (o *countingObserver) Query(_, _, class string, _ time.Duration) {
	o.mu.Lock()
	o.queries[class]++
	o.mu.Unlock()
}
func (o *countingObserver) count(m map[string]int, k string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return m[k]
}

// aliasOpts are the options migrate gives a virtual_alias_maps table:
// the defaults, with extensions propagated into results.
func aliasOpts() *MapOptions {
	o := DefaultMapOptions("+")
	o.PropagateExtension = true
	return &o
}

type mapDef struct {
	name, db, body string
	opts           *MapOptions
}

// loadSet builds a Set of maps on the given hosts and runs discovery.
func loadSet(t *testing.T, hosts []string, po PoolOptions, obs Observer, defs ...mapDef) *Set {
	t.Helper()
	var specs []MapSpec
	for _, d := range defs {
		o := DefaultMapOptions("+")
		if d.opts != nil {
			o = *d.opts
		}
		specs = append(specs, MapSpec{Name: d.name, Paths: []string{writeCF(t, hosts, d.db, d.body)}, Opts: o})
	}
	s, err := Load(specs, po, testLogger(t), obs)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s.Discover(ctx)
	return s
}

func lookupReply(t *testing.T, s *Set, name, key string) socketmap.Reply {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return smfront.Reply(s.Lookup(ctx, name, key))
}

// PostfixAdmin's published queries (DOCUMENTS/POSTFIX_CONF.txt), as admins
// have them in their .cf files.
const (
	qAlias              = "query = SELECT goto FROM alias WHERE address='%s' AND active = '1'"
	qAliasDomain        = "query = SELECT goto FROM alias,alias_domain WHERE alias_domain.alias_domain = '%d' and alias.address = CONCAT('%u', '@', alias_domain.target_domain) AND alias.active = 1 AND alias_domain.active='1'"
	qCatchall           = "query = SELECT goto FROM alias,alias_domain WHERE alias_domain.alias_domain = '%d' and alias.address = CONCAT('@', alias_domain.target_domain) AND alias.active = 1 AND alias_domain.active='1'"
	qAliasDomainMailbox = "query = SELECT maildir FROM mailbox,alias_domain WHERE alias_domain.alias_domain = '%d' and mailbox.username = CONCAT('%u', '@', alias_domain.target_domain) AND mailbox.active = 1 AND alias_domain.active='1'"
	qMailbox            = "query = SELECT maildir FROM mailbox WHERE username='%s' AND active = '1'"
	qMailboxConcat      = "query = SELECT CONCAT(domain,'/',maildir) FROM mailbox WHERE username='%s' AND active = '1'"
	qDomains            = "query = SELECT domain FROM domain WHERE domain='%s' AND active = '1'"
)

func TestPostfixAdminMapsOnLatin1(t *testing.T) {
	srv := sharedServer(t)
	obs := newCounting()
	hosts := []string{"inet:" + srv.Addr()}
	s := loadSet(t, hosts, PoolOptions{}, obs,
		mapDef{name: "virtual_alias", db: "postfix", body: qAlias, opts: aliasOpts()},
		mapDef{name: "virtual_alias_domain", db: "postfix", body: qAliasDomain},
		mapDef{name: "alias_domain_mailbox", db: "postfix", body: qAliasDomainMailbox},
		mapDef{name: "virtual_alias_domain_catchall", db: "postfix", body: qCatchall},
		mapDef{name: "virtual_mailbox", db: "postfix", body: qMailbox},
		mapDef{name: "virtual_mailbox_concat", db: "postfix", body: qMailboxConcat},
		mapDef{name: "virtual_domains", db: "postfix", body: qDomains},
		mapDef{name: "exact_alias", db: "postfix", body: qAlias, opts: &MapOptions{}},
	)

	ok := socketmap.OK
	nf := socketmap.NotFound()
	cases := []struct {
		m, key string
		want   socketmap.Reply
	}{
		{"virtual_alias", "bob@example.jp", ok("bob@example.jp")},
		{"virtual_alias", "BOB@Example.JP", ok("bob@example.jp")},
		{"virtual_alias", "alice@example.jp", ok("alice@example.jp,alice@example.com")},
		{"virtual_alias", "josé@example.jp", ok("jose@example.jp")},
		{"virtual_alias", "o'brien@example.jp", ok("obrien@example.jp")},
		{"virtual_alias", "' OR '1'='1", nf},
		{"virtual_alias", "x' OR address LIKE '%", nf},
		{"virtual_alias", "nobody@example.jp", nf},
		{"virtual_alias", "inactive@example.jp", nf},
		{"virtual_alias", "", nf},
		// The seed's attack: unrepresentable in latin1, answered NOTFOUND.
		{"virtual_alias", "ほげ@example.jp", nf},
		{"virtual_alias", "😀@example.jp", nf},
		{"virtual_alias", "\xff@example.jp", nf},
		{"virtual_alias", "a\x00b@example.jp", nf},
		// Postfix's address search, run by mapgate: extension and catch-all.
		{"virtual_alias", "bob+tag@example.jp", ok("bob+tag@example.jp")},
		{"virtual_alias", "Bob+Tag@Example.JP", ok("bob+Tag@example.jp")},
		{"virtual_alias", "someone@example.com", ok("catchall@example.jp")},
		{"virtual_alias", "ほげ@example.com", ok("catchall@example.jp")},
		{"exact_alias", "someone@example.com", nf},
		{"exact_alias", "bob+tag@example.jp", nf},
		// Alias domains: example.net → example.jp.
		{"virtual_alias_domain", "bob@example.net", ok("bob@example.jp")},
		{"virtual_alias_domain", "ほげ@example.net", nf},
		{"virtual_alias_domain", "bob", nf}, // %d without a domain: suppressed
		{"virtual_alias_domain_catchall", "anyone@example.net", nf},
		// Propagation is per map, never guessed from the name: a maildir
		// path gets no extension.
		{"alias_domain_mailbox", "bob+tag@example.net", ok("example.jp/bob/")},
		{"virtual_mailbox", "bob@example.jp", ok("example.jp/bob/")},
		{"virtual_mailbox", "bob+x@example.jp", ok("example.jp/bob/")},
		{"virtual_mailbox_concat", "alice@example.jp", ok("example.jp/example.jp/alice/")},
		{"virtual_domains", "example.jp", ok("example.jp")},
		{"virtual_domains", "EXAMPLE.JP", ok("example.jp")},
		{"virtual_domains", "例え.jp", nf},
		{"nosuchmap", "bob@example.jp", socketmap.Perm("unknown map name")},
	}
	for _, c := range cases {
		t.Run(c.m+"/"+fmt.Sprintf("%q", c.key), func(t *testing.T) {
			assert.Equal(t, c.want, lookupReply(t, s, c.m, c.key))
		})
	}
	// The unrepresentable keys never reached the database as a failing query.
	assert.Zero(t, obs.count(obs.queries, "key"), "key-caused errors: every bad key must be caught before the query")
	assert.Zero(t, obs.count(obs.queries, "query"))
	assert.Zero(t, obs.count(obs.queries, "host"))
	assert.Positive(t, obs.count(obs.rejected, "unrepresentable"))
}

// TestFourByteKeysPerColumnCharset: a 4-byte key is NOTFOUND only where the
// column cannot hold it, and found where it can.
func TestFourByteKeysPerColumnCharset(t *testing.T) {
	srv := sharedServer(t)
	hosts := []string{"inet:" + srv.Addr()}
	s := loadSet(t, hosts, PoolOptions{}, nil,
		mapDef{name: "latin1", db: "postfix", body: qAlias, opts: &MapOptions{}},
		mapDef{name: "mb3", db: "pf3", body: qAlias, opts: &MapOptions{}},
		mapDef{name: "mb4", db: "pf4", body: qAlias, opts: &MapOptions{}},
	)
	cases := []struct {
		m, key string
		want   socketmap.Reply
	}{
		{"latin1", "ほげ@example.jp", socketmap.NotFound()},
		{"mb3", "ほげ@example.jp", socketmap.OK("hoge@example.jp")},
		{"mb4", "ほげ@example.jp", socketmap.OK("hoge@example.jp")},
		{"latin1", "😀@example.jp", socketmap.NotFound()},
		{"mb3", "😀@example.jp", socketmap.NotFound()},
		{"mb4", "😀@example.jp", socketmap.OK("smile@example.jp")},
		{"mb4", "\xff@example.jp", socketmap.NotFound()},
		{"mb3", "bob@example.jp", socketmap.OK("bob@example.jp")},
		{"mb4", "bob@example.jp", socketmap.OK("bob@example.jp")},
	}
	for _, c := range cases {
		assert.Equal(t, c.want, lookupReply(t, s, c.m, c.key), "%s %q", c.m, c.key)
	}
}

// TestLatin1Connection: charset = latin1 in the .cf file, as old installs
// that stored UTF-8 bytes through a latin1 connection need, keeps matching
// those rows byte for byte.
func TestLatin1Connection(t *testing.T) {
	srv := sharedServer(t)
	srv.MustExec(t, `CREATE DATABASE IF NOT EXISTS legacy DEFAULT CHARSET latin1;
CREATE TABLE IF NOT EXISTS legacy.alias (address varchar(255) NOT NULL PRIMARY KEY, goto text NOT NULL, active tinyint NOT NULL DEFAULT 1) DEFAULT CHARSET=latin1;
SET NAMES latin1;
REPLACE INTO legacy.alias (address, goto) VALUES ('ほげ@example.jp', 'hoge@example.jp'), ('bob@example.jp', 'bob@example.jp');
SET NAMES utf8mb4;`+testdb.Grant("legacy"))
	hosts := []string{"inet:" + srv.Addr()}
	s := loadSet(t, hosts, PoolOptions{}, nil,
		mapDef{name: "legacy", db: "legacy", body: qAlias + "\ncharset = latin1", opts: &MapOptions{}},
		mapDef{name: "modern", db: "legacy", body: qAlias, opts: &MapOptions{}},
	)
	assert.Equal(t, socketmap.OK("hoge@example.jp"), lookupReply(t, s, "legacy", "ほげ@example.jp"))
	assert.Equal(t, socketmap.OK("bob@example.jp"), lookupReply(t, s, "legacy", "bob@example.jp"))
	assert.Equal(t, socketmap.NotFound(), lookupReply(t, s, "legacy", "😀@example.jp"))
	// Through a utf8mb4 connection the same row is mojibake and cannot match
	// ほげ, but the answer is a clean NOTFOUND, not an error.
	assert.Equal(t, socketmap.NotFound(), lookupReply(t, s, "modern", "ほげ@example.jp"))
	assert.Equal(t, socketmap.OK("bob@example.jp"), lookupReply(t, s, "modern", "bob@example.jp"))
}

// TestBrokenSchemaIsTemp: errors that are not the key's fault are TEMP,
// never NOTFOUND, and do not open the host's breaker.
func TestBrokenSchemaIsTemp(t *testing.T) {
	srv := sharedServer(t)
	srv.MustExec(t, `CREATE DATABASE IF NOT EXISTS mixed;
CREATE TABLE IF NOT EXISTS mixed.alias (address varchar(255) CHARACTER SET latin1 COLLATE latin1_swedish_ci NOT NULL PRIMARY KEY, goto text NOT NULL) ;
CREATE TABLE IF NOT EXISTS mixed.alias_domain (alias_domain varchar(255) CHARACTER SET latin1 COLLATE latin1_general_ci NOT NULL PRIMARY KEY, target_domain varchar(255) CHARACTER SET latin1 COLLATE latin1_general_ci NOT NULL);
REPLACE INTO mixed.alias VALUES ('bob@example.jp','bob@example.jp');
REPLACE INTO mixed.alias_domain VALUES ('example.net','example.jp');`+testdb.Grant("mixed"))
	hosts := []string{"inet:" + srv.Addr()}
	obs := newCounting()
	s := loadSet(t, hosts, PoolOptions{TripAfter: 1}, obs,
		// A join across two latin1 collations: error 1267 for every key.
		mapDef{name: "mixed", db: "mixed", body: "query = SELECT goto FROM alias, alias_domain WHERE alias_domain.alias_domain = '%d' AND alias.address = CONCAT('%u', '@', alias_domain.target_domain)", opts: &MapOptions{}},
		mapDef{name: "nocolumn", db: "postfix", body: "query = SELECT goto FROM alias WHERE adress='%s'", opts: &MapOptions{}},
		mapDef{name: "notable", db: "postfix", body: "query = SELECT goto FROM aliases WHERE address='%s'", opts: &MapOptions{}},
		mapDef{name: "good", db: "postfix", body: qAlias, opts: &MapOptions{}},
	)
	for _, m := range []string{"mixed", "nocolumn", "notable"} {
		r := lookupReply(t, s, m, "bob@example.net")
		assert.Equal(t, socketmap.StatusTemp, r.Status, "%s: %v", m, r)
	}
	// A non-ASCII key that the columns can hold (checked before the query)
	// cannot be the cause of the collation error either: TEMP, not
	// NOTFOUND, or josé's mail would bounce.
	r := lookupReply(t, s, "mixed", "josé@example.net")
	assert.Equal(t, socketmap.StatusTemp, r.Status, "%v", r)
	assert.Equal(t, 4, obs.count(obs.queries, "query"))
	// The host stays in use for the other maps.
	assert.Equal(t, socketmap.OK("bob@example.jp"), lookupReply(t, s, "good", "bob@example.jp"))
	for _, h := range s.Pools().Hosts() {
		assert.Equal(t, "closed", h.State.String(), h.Host)
	}
}

func TestExpansionLimitAndResultFormat(t *testing.T) {
	srv := sharedServer(t)
	hosts := []string{"inet:" + srv.Addr()}
	s := loadSet(t, hosts, PoolOptions{}, nil,
		mapDef{name: "limited", db: "postfix", body: "query = SELECT address FROM alias WHERE domain='%s'\nexpansion_limit = 2", opts: &MapOptions{}},
		mapDef{name: "formatted", db: "postfix", body: "query = SELECT goto FROM alias WHERE address='%s'\nresult_format = smtp:[%d]", opts: &MapOptions{}},
		mapDef{name: "domainlist", db: "postfix", body: qAlias + "\ndomain = example.jp", opts: &MapOptions{}},
	)
	assert.Equal(t, socketmap.StatusTemp, lookupReply(t, s, "limited", "example.jp").Status)
	assert.Equal(t, socketmap.OK("@example.com"), lookupReply(t, s, "limited", "example.com"))
	assert.Equal(t, socketmap.OK("smtp:[example.jp]"), lookupReply(t, s, "formatted", "bob@example.jp"))
	assert.Equal(t, socketmap.OK("bob@example.jp"), lookupReply(t, s, "domainlist", "bob@example.jp"))
	assert.Equal(t, socketmap.NotFound(), lookupReply(t, s, "domainlist", "someone@example.com"))
	assert.Equal(t, socketmap.NotFound(), lookupReply(t, s, "domainlist", "example.jp"))
}

// TestSeveralTablesInPostfixOrder: a map of several .cf files asks every
// table for a search step's key before the next step's key, as Postfix does
// for the tables listed in one parameter: an exact address in the second
// table wins over the first table's catch-all.
func TestSeveralTablesInPostfixOrder(t *testing.T) {
	srv := sharedServer(t)
	srv.MustExec(t, "REPLACE INTO pf4.alias (address, goto, domain) VALUES ('someone@example.com','someone-pf4@example.jp','example.com')")
	hosts := []string{"inet:" + srv.Addr()}
	var specs []MapSpec
	specs = append(specs, MapSpec{Name: "virtual_alias", Opts: DefaultMapOptions("+"),
		Paths: []string{writeCF(t, hosts, "postfix", qAlias), writeCF(t, hosts, "pf4", qAlias)}})
	s, err := Load(specs, PoolOptions{}, testLogger(t), nil)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	s.Discover(context.Background())

	assert.Equal(t, socketmap.OK("someone-pf4@example.jp"), lookupReply(t, s, "virtual_alias", "someone@example.com"))
	assert.Equal(t, socketmap.OK("catchall@example.jp"), lookupReply(t, s, "virtual_alias", "other@example.com"))
	// Unrepresentable in the first (latin1) table, found in the second.
	assert.Equal(t, socketmap.OK("smile@example.jp"), lookupReply(t, s, "virtual_alias", "😀@example.jp"))
	assert.Equal(t, socketmap.OK("bob@example.jp"), lookupReply(t, s, "virtual_alias", "bob@example.jp"))
	assert.Equal(t, socketmap.NotFound(), lookupReply(t, s, "virtual_alias", "nobody@example.jp"))
}

// TestConvertedComparisonNotRejected: when the query itself converts the
// column (CONVERT ... USING, COLLATE), a key outside the column's own
// repertoire can still compare equal to a stored value (utf8mb4_general_ci
// folds 'ō' to 'o'), so it must reach the database, not be answered
// NOTFOUND by the pre-check.
func TestConvertedComparisonNotRejected(t *testing.T) {
	srv := sharedServer(t)
	hosts := []string{"inet:" + srv.Addr()}
	s := loadSet(t, hosts, PoolOptions{}, nil,
		mapDef{name: "converted", db: "postfix", opts: &MapOptions{},
			body: "query = SELECT goto FROM alias WHERE CONVERT(address USING utf8mb4) COLLATE utf8mb4_general_ci = '%s'"},
		mapDef{name: "plain", db: "postfix", body: qAlias, opts: &MapOptions{}},
	)
	assert.Equal(t, socketmap.OK("bob@example.jp"), lookupReply(t, s, "converted", "b\u014db@example.jp"))
	assert.Equal(t, socketmap.NotFound(), lookupReply(t, s, "converted", "ほげ@example.jp"))
	// Compared as stored, the same key cannot match a latin1 column.
	assert.Equal(t, socketmap.NotFound(), lookupReply(t, s, "plain", "b\u014db@example.jp"))
}

// TestSchemaConvertedWhileRunning: after the audit's fix (ALTER TABLE ...
// CONVERT TO CHARACTER SET utf8mb4), rediscovery stops rejecting keys the
// column can now hold, without a reload.
func TestSchemaConvertedWhileRunning(t *testing.T) {
	srv := sharedServer(t)
	srv.MustExec(t, "DROP DATABASE IF EXISTS conv;"+testdb.Schema("conv", "latin1", "latin1_general_ci"))
	hosts := []string{"inet:" + srv.Addr()}
	s := loadSet(t, hosts, PoolOptions{}, nil, mapDef{name: "m", db: "conv", body: qAlias, opts: &MapOptions{}})
	require.Equal(t, socketmap.NotFound(), lookupReply(t, s, "m", "ほげ@example.jp"))

	srv.MustExec(t, `ALTER TABLE conv.alias CONVERT TO CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci;
INSERT INTO conv.alias (address, goto, domain) VALUES ('ほげ@example.jp', 'hoge@example.jp', 'example.jp');`)
	m, ok := s.Map("m")
	require.True(t, ok)
	// What the background rediscovery does once a minute.
	require.NoError(t, m.tables[0].rediscover(context.Background(), true))
	assert.Equal(t, socketmap.OK("hoge@example.jp"), lookupReply(t, s, "m", "ほげ@example.jp"))
	assert.Equal(t, socketmap.OK("bob@example.jp"), lookupReply(t, s, "m", "bob@example.jp"))
}

// TestKeyFormsFollowPostfix: each search step is asked with the one form
// Postfix's mysql: client sends (its casefold() with smtputf8), never an
// NFC or lower-cased variant that could find a row Postfix would not find.
// A decomposed key matches a decomposed row only; against latin1, whose
// repertoire lacks the combining accent, it provably cannot match.
func TestKeyFormsFollowPostfix(t *testing.T) {
	srv := sharedServer(t)
	srv.MustExec(t, "REPLACE INTO pf4.alias (address, goto, domain) VALUES ('rene\u0301@example.jp','rene-nfd@example.jp','example.jp'), ('zoé@example.org','zoe@example.jp','example.org'), ('@example.org','org-catchall@example.jp','example.org')")
	hosts := []string{"inet:" + srv.Addr()}
	s := loadSet(t, hosts, PoolOptions{}, nil,
		mapDef{name: "latin1", db: "postfix", body: qAlias, opts: &MapOptions{FoldCase: true, SMTPUTF8: true}},
		mapDef{name: "mb4", db: "pf4", body: qAlias, opts: &MapOptions{FoldCase: true, SMTPUTF8: true}},
		mapDef{name: "virtual_alias", db: "pf4", body: qAlias},
	)
	assert.Equal(t, socketmap.NotFound(), lookupReply(t, s, "latin1", "jose\u0301@example.jp"))
	assert.Equal(t, socketmap.OK("rene-nfd@example.jp"), lookupReply(t, s, "mb4", "rene\u0301@example.jp"))
	assert.Equal(t, socketmap.NotFound(), lookupReply(t, s, "mb4", "rené@example.jp"), "a precomposed key does not find the decomposed row (nor does Postfix)")
	assert.Equal(t, socketmap.NotFound(), lookupReply(t, s, "mb4", "nobody\u0301@example.jp"))
	// Postfix asks 'zoe\u0301@example.org' (no row), then '@example.org'.
	assert.Equal(t, socketmap.OK("org-catchall@example.jp"), lookupReply(t, s, "virtual_alias", "zoe\u0301@example.org"))
	assert.Equal(t, socketmap.OK("zoe@example.jp"), lookupReply(t, s, "virtual_alias", "ZOÉ@example.org"))
}

// TestCaseFoldingFollowsPostfix: with smtputf8, Postfix folds "Straße" to
// "strasse" and "İ" to "i\u0307" (never a plain "i"); without it, only
// ASCII letters are folded.
func TestCaseFoldingFollowsPostfix(t *testing.T) {
	srv := sharedServer(t)
	srv.MustExec(t, "REPLACE INTO postfix.alias (address, goto, domain) VALUES ('strasse@example.de','strasse-ss@example.jp','example.de'), ('i@example.de','plain-i@example.jp','example.de'), ('josé@example.de','jose-de@example.jp','example.de')")
	hosts := []string{"inet:" + srv.Addr()}
	utf8on := &MapOptions{FoldCase: true, SMTPUTF8: true}
	utf8off := &MapOptions{FoldCase: true}
	s := loadSet(t, hosts, PoolOptions{}, nil,
		mapDef{name: "on", db: "postfix", body: qAlias, opts: utf8on},
		mapDef{name: "off", db: "postfix", body: qAlias, opts: utf8off},
	)
	assert.Equal(t, socketmap.OK("strasse-ss@example.jp"), lookupReply(t, s, "on", "Straße@example.de"))
	assert.Equal(t, socketmap.NotFound(), lookupReply(t, s, "on", "Gruß@example.de"))
	assert.Equal(t, socketmap.NotFound(), lookupReply(t, s, "on", "\u0130@example.de"), "U+0130 folds to i + U+0307, not to i")
	assert.Equal(t, socketmap.OK("jose-de@example.jp"), lookupReply(t, s, "on", "JOSÉ@Example.DE"))
	assert.Equal(t, socketmap.NotFound(), lookupReply(t, s, "on", "bob\xff@example.de"), "not UTF-8: dict_utf8 finds nothing")
	assert.Equal(t, socketmap.NotFound(), lookupReply(t, s, "off", "Straße@example.de"), "ASCII folding only")
	assert.Equal(t, socketmap.NotFound(), lookupReply(t, s, "off", "\u0130@example.de"))
	assert.Equal(t, socketmap.OK("strasse-ss@example.jp"), lookupReply(t, s, "off", "STRASSE@example.de"))
}

// TestDomainListParentSearch: a domain list map (relay_domains) answers a
// subdomain the way Postfix's match_hostname() asks a mysql: table: with
// DomainParent the parent "relay2.example" matches; with DomainDotParent only
// a ".relay2.example" row would; with DomainExact only the name itself.
func TestDomainListParentSearch(t *testing.T) {
	srv := sharedServer(t)
	srv.MustExec(t, "REPLACE INTO postfix.domain (domain, backupmx) VALUES ('relay2.example', 1)")
	hosts := []string{"inet:" + srv.Addr()}
	const qRelay = "query = SELECT domain FROM domain WHERE domain='%s' AND backupmx = '1'"
	s := loadSet(t, hosts, PoolOptions{}, nil,
		mapDef{name: "parent", db: "postfix", body: qRelay, opts: &MapOptions{DomainSearch: DomainParent}},
		mapDef{name: "dot", db: "postfix", body: qRelay, opts: &MapOptions{DomainSearch: DomainDotParent}},
		mapDef{name: "exact", db: "postfix", body: qRelay, opts: &MapOptions{}},
	)
	for _, tt := range []struct {
		name, key string
		want      socketmap.Reply
	}{
		{"parent", "relay2.example", socketmap.OK("relay2.example")},
		{"parent", "sub.relay2.example", socketmap.OK("relay2.example")},
		{"parent", "a.sub.RELAY2.example", socketmap.OK("relay2.example")},
		{"parent", "relay2.example.org", socketmap.NotFound()},
		{"parent", "xrelay2.example", socketmap.NotFound()},
		{"parent", "example.jp", socketmap.NotFound()}, // a domain, but not backupmx
		{"dot", "relay2.example", socketmap.OK("relay2.example")},
		{"dot", "sub.relay2.example", socketmap.NotFound()},
		{"exact", "relay2.example", socketmap.OK("relay2.example")},
		{"exact", "sub.relay2.example", socketmap.NotFound()},
	} {
		assert.Equal(t, tt.want, lookupReply(t, s, tt.name, tt.key), "%s %s", tt.name, tt.key)
	}
}
