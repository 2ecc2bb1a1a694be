package pgfront_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mapgate/answer"
	_ "mapgate/engine/mysql"
	_ "mapgate/engine/pgsql"
	"mapgate/hosts"
	"mapgate/internal/testdb"
	"mapgate/internal/testpg"
	"mapgate/lookup"
	"mapgate/pgfront"
)

// coreResolver is the lookup core (a lookup.Set) as a pgfront.Resolver.
type coreResolver struct{ s *lookup.Set }

func (c coreResolver) HasMap(name string) bool { _, ok := c.s.Map(name); return ok }

func (c coreResolver) Resolve(ctx context.Context, name, key string) answer.Result {
	return c.s.Lookup(ctx, name, key)
}

// TestPostmapThroughCore: Postfix's pgsql: client through the front and
// the real lookup core over a private MariaDB whose alias table is
// latin1 (where a non-Latin-1 key makes mysql: fail the query for every
// key). The front does not care what engine answers: found keys come
// back, absent and unrepresentable keys are not found, no key gets an
// error, and a good key after each bad one in one postmap process still
// resolves.
func TestPostmapThroughCore(t *testing.T) {
	if testing.Short() {
		t.Skip("starts MariaDB and runs postmap; skipped with -short")
	}
	db := testdb.Start(t)
	db.MustExec(t, testdb.Schema("pf", "latin1", "latin1_swedish_ci"))
	dir := t.TempDir()
	cf := filepath.Join(dir, "aliases.cf")
	if err := os.WriteFile(cf, []byte(fmt.Sprintf("hosts = inet:%s\nuser = %s\npassword = %s\ndbname = pf\n"+
		"query = SELECT goto FROM alias WHERE address = '%%s' AND active = 1\n", db.Addr(), testdb.User, testdb.Password)), 0o600); err != nil {
		t.Fatal(err)
	}
	opts := lookup.DefaultMapOptions("")
	opts.AddressSearch, opts.FoldCase, opts.PropagateExtension = false, false, false // as the daemon's frontSpecs
	set, err := lookup.Load([]lookup.MapSpec{{Name: "m", Paths: []string{cf}, Opts: opts}}, hosts.PoolOptions{}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { set.Close() })
	set.Discover(context.Background())

	addr, s := startResolver(t, coreResolver{set})
	lookupKey := postmapFront(t, tcpHosts(addr))
	want := map[string]string{
		"bob@example.jp":     "bob@example.jp",
		"alice@example.jp":   "alice@example.jp,alice@example.com",
		"o'brien@example.jp": "obrien@example.jp",
	}
	for k, v := range want {
		if out, err := lookupKey(k, ""); err != nil || out != v+"\n" {
			t.Errorf("%q: %q, %v; want %q", k, out, err, v)
		}
	}
	notFound := append([]string{"nobody@example.jp", "inactive@example.jp"}, hostileKeys...)
	var in, wantOut strings.Builder
	errs := 0
	for _, k := range notFound {
		out, err := lookupKey(k, "")
		if err != nil {
			errs++
			t.Errorf("%q: error %v", k, err)
		} else if out != "" {
			t.Logf("%q: found %q", k, out)
		}
		fmt.Fprintf(&in, "%s\nbob@example.jp\n", k)
		fmt.Fprintf(&wantOut, "bob@example.jp\tbob@example.jp\n")
	}
	out, err := lookupKey("-", in.String())
	if err != nil || out != wantOut.String() {
		t.Errorf("postmap -q - with bob after each bad key: %v\n%s", err, out)
	}
	t.Logf("through the core over latin1 MariaDB: %d found keys, %d absent or hostile keys, %d errors; %d bad/good pairs in one process; stats %+v",
		len(want), len(notFound), errs, len(notFound), s.Stats())
}

func startResolver(t *testing.T, r pgfront.Resolver) (string, *pgfront.Server) {
	t.Helper()
	addr, s := start(t, nil, func(s *pgfront.Server) { s.Resolver = r })
	return addr, s
}

// TestPostmapThroughCoreUTF8: on Postfix 3.7, whose pgsql: client
// hard-wires client_encoding LATIN1, an internationalized address stored
// in a UTF-8 table is never found by a real PostgreSQL (it reads the
// key's UTF-8 bytes as Latin-1: POSTFIX-FACTS 1.9). Through the front the
// key is looked up as the bytes Postfix sent, and found.
func TestPostmapThroughCoreUTF8(t *testing.T) {
	if testing.Short() {
		t.Skip("starts MariaDB and runs postmap; skipped with -short")
	}
	db := testdb.Start(t)
	db.MustExec(t, testdb.Schema("pf", "utf8mb4", "utf8mb4_general_ci"))
	cf := filepath.Join(t.TempDir(), "aliases.cf")
	if err := os.WriteFile(cf, []byte(fmt.Sprintf("hosts = inet:%s\nuser = %s\npassword = %s\ndbname = pf\n"+
		"query = SELECT goto FROM alias WHERE address = '%%s' AND active = 1\n", db.Addr(), testdb.User, testdb.Password)), 0o600); err != nil {
		t.Fatal(err)
	}
	opts := lookup.DefaultMapOptions("")
	opts.AddressSearch, opts.FoldCase, opts.PropagateExtension = false, false, false
	set, err := lookup.Load([]lookup.MapSpec{{Name: "m", Paths: []string{cf}, Opts: opts}}, hosts.PoolOptions{}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { set.Close() })
	set.Discover(context.Background())
	addr, _ := startResolver(t, coreResolver{set})
	lookupKey := postmapFront(t, tcpHosts(addr))
	for k, v := range map[string]string{"ほげ@example.jp": "hoge@example.jp", "😀@example.jp": "smile@example.jp", "josé@example.jp": "jose@example.jp"} {
		if out, err := lookupKey(k, ""); err != nil || out != v+"\n" {
			t.Errorf("%q through the front (client_encoding LATIN1): %q, %v; want %q", k, out, err, v)
		}
	}
}

// TestPgsqlDifferential: Postfix's pgsql: client through the front and the
// real lookup core over a pgsql: map (engine/pgsql), against the same
// client straight on the same UTF8 PostgreSQL table (Postfix 3.7: a
// LATIN1 session). Every ASCII key gets the same output; every other key
// is answered by the front without an error; an internationalized address
// that exists is found through the front (straight pgsql: reads its
// UTF-8 as Latin-1 and misses it: POSTFIX-FACTS 1.9).
func TestPgsqlDifferential(t *testing.T) {
	if testing.Short() {
		t.Skip("starts PostgreSQL and runs postmap; skipped with -short")
	}
	srv := testpg.Start(t)
	if err := srv.CreateDB("pf", "UTF8"); err != nil {
		t.Fatal(err)
	}
	srv.MustExec(t, "pf", `CREATE TABLE alias (address varchar(255) PRIMARY KEY, goto text NOT NULL, active int NOT NULL DEFAULT 1);
INSERT INTO alias (address, goto) VALUES ('bob@example.jp','bob@example.jp'), ('o''brien@example.jp','obrien@example.jp'),
 ('back\slash@example.jp','bs@example.jp'), ('ユーザー@example.net','user@example.net'), ('ångström@example.net','ang@example.net');
INSERT INTO alias (address, goto, active) VALUES ('inactive@example.jp','x@example.jp', 0);`)
	if err := srv.GrantRead("pf"); err != nil {
		t.Fatal(err)
	}
	cf := filepath.Join(t.TempDir(), "alias.cf")
	if err := os.WriteFile(cf, []byte(fmt.Sprintf("hosts = inet:127.0.0.1:%d\nuser = %s\npassword = %s\ndbname = pf\n"+
		"query = SELECT goto FROM alias WHERE address = '%%s' AND active = 1\n", srv.Port, testpg.User, testpg.Password)), 0o644); err != nil {
		t.Fatal(err)
	}
	opts := lookup.DefaultMapOptions("")
	opts.AddressSearch, opts.FoldCase, opts.PropagateExtension = false, false, false
	set, err := lookup.Load([]lookup.MapSpec{{Name: "m", Paths: []string{"pgsql:" + cf}, Opts: opts}}, hosts.PoolOptions{}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { set.Close() })
	set.Discover(context.Background())
	addr, _ := startResolver(t, coreResolver{set})
	front := postmapFront(t, tcpHosts(addr))
	straight := postmapTable(t, cf)

	keys := append([]string{"bob@example.jp", "o'brien@example.jp", `back\slash@example.jp`, "inactive@example.jp", "nobody@example.jp",
		"ユーザー@example.net", "ångström@example.net"}, hostileKeys...)
	same, frontOnly, errs := 0, 0, 0
	for _, k := range keys {
		fo, ferr := front(k, "")
		so, serr := straight(k, "")
		if ferr != nil {
			errs++
			t.Errorf("%q through the front: %v", k, ferr)
			continue
		}
		ascii := true
		for i := 0; i < len(k); i++ {
			ascii = ascii && k[i] < 0x80
		}
		switch {
		case fo == so && serr == nil:
			same++
		case ascii:
			t.Errorf("%q: front %q, straight pgsql: %q (%v)", k, fo, so, serr)
		default:
			frontOnly++
			t.Logf("%q: front %q, straight pgsql: %q (%v)", k, fo, so, serr)
		}
	}
	for k, v := range map[string]string{"ユーザー@example.net": "user@example.net", "ångström@example.net": "ang@example.net",
		"\xe5ngstr\xf6m@example.net": "ang@example.net", `back\slash@example.jp`: "bs@example.jp"} {
		if fo, _ := front(k, ""); fo != v+"\n" {
			t.Errorf("%q through the front: %q, want %q", k, fo, v)
		}
	}
	t.Logf("%d keys: %d identical to straight pgsql:, %d answered differently (non-ASCII, which Postfix 3.7's LATIN1 session cannot send faithfully), %d errors through the front",
		len(keys), same, frontOnly, errs)
}
