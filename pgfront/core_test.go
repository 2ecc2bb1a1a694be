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
	"mapgate/hosts"
	"mapgate/internal/testdb"
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
