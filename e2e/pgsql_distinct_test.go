package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"mapgate/internal/testpg"
)

// TestE2EPgsqlDistinctKeys: 2,000 distinct keys (half present) through
// postmap -q -, in one stream and in 8 streams at once, over mapgate's
// socketmap with a pgsql: map (address search off, cache off: one query
// per key), with Postfix's own pgsql: client on the same keys beside it.
// Every answer of every stream is checked against the table: no key gets
// another key's answer, whatever the concurrency. Nothing is timed here;
// the comparison of times is phase (g) of the benchmark (make bench,
// benchrun -only-pgsql).
func TestE2EPgsqlDistinctKeys(t *testing.T) {
	requireTools(t)
	const rows, nkeys = 20000, 2000
	s := testpg.Start(t)
	if err := s.CreateDB("bulk", "UTF8"); err != nil {
		t.Fatal(err)
	}
	s.MustExec(t, "bulk", fmt.Sprintf(`CREATE TABLE alias (address varchar(255) PRIMARY KEY, goto text NOT NULL);
INSERT INTO alias SELECT 'user' || i || '@example.jp', 'dest' || i || '@dest.example' FROM generate_series(1, %d) AS i`, rows))
	if err := s.GrantRead("bulk"); err != nil {
		t.Fatal(err)
	}
	cf := filepath.Join(cfDir(t), "alias.cf")
	if err := os.WriteFile(cf, []byte(testpg.Instantiate("hosts = x\nuser = x\npassword = x\ndbname = x\nquery = SELECT goto FROM alias WHERE address = '%s'\n", s, "bulk")), 0o644); err != nil {
		t.Fatal(err)
	}
	mg := startMapgate(t, map[string]string{"alias": "pgsql:" + cf}, "--set", "alias_address_search=no")
	conf := confDir(t)

	var keys []string
	want := map[string]string{}
	for i := range nkeys {
		n := (i*7919)%rows + 1
		k := fmt.Sprintf("user%d@example.jp", n)
		if i%2 == 1 {
			k = fmt.Sprintf("nobody%d@example.jp", i)
		} else {
			want[k] = fmt.Sprintf("dest%d@dest.example", n)
		}
		keys = append(keys, k)
	}
	// check runs streams postmap processes at once over table and checks
	// every answer of each.
	check := func(table string, streams int) {
		t.Helper()
		var wg sync.WaitGroup
		errs := make([]string, streams)
		for st := range streams {
			wg.Go(func() {
				res := postmapStream(t, conf, table, keys)
				got, _ := matchStream(keys, res.lines)
				wrong, first := 0, ""
				for i, k := range keys {
					if got[i].found != (want[k] != "") || got[i].value != want[k] {
						if wrong == 0 {
							first = fmt.Sprintf("%q: found %v %q, want %q", k, got[i].found, got[i].value, want[k])
						}
						wrong++
					}
				}
				if wrong > 0 || res.fatal() || res.err != nil {
					errs[st] = fmt.Sprintf("%s, stream %d of %d: %d of %d answers wrong (first %s); exit %v; %s",
						table, st+1, streams, wrong, len(keys), first, res.err, tail(res.stderr, 3))
				}
			})
		}
		wg.Wait()
		for _, e := range errs {
			if e != "" {
				t.Error(e)
			}
		}
	}
	for _, streams := range []int{1, 8} {
		check("pgsql:"+cf, streams)
		check("socketmap:inet:"+mg.Addr+":alias", streams)
	}
}
