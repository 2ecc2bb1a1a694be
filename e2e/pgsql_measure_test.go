package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"mapgate/internal/pfinst"
	"mapgate/internal/testpg"
)

// TestE2EPgsqlDistinctKeys measures the distinct-keys comparison of the
// benchmark for pgsql: maps: 4,000 distinct keys (half present) through
// postmap -q -, one stream and 8 streams, with Postfix's pgsql:, its
// proxy:pgsql: (proxymap, one connection per table), and mapgate over
// socketmap (address search off, cache off: one query per key, as
// postmap asks pgsql:). Every answer is checked; the times and ratios are
// logged (the machine is shared: read the ratios of runs back to back).
func TestE2EPgsqlDistinctKeys(t *testing.T) {
	requireTools(t)
	const rows = 20000
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
	pf := pfinst.New(t, pfinst.Options{VirtualAliasMaps: "proxy:pgsql:" + cf, Extra: smtpdMainCF})

	var keys []string
	want := map[string]string{}
	for i := 0; i < 4000; i++ {
		n := (i*7919)%rows + 1
		k := fmt.Sprintf("user%d@example.jp", n)
		if i%2 == 1 {
			k = fmt.Sprintf("nobody%d@example.jp", i)
		} else {
			want[k] = fmt.Sprintf("dest%d@dest.example", n)
		}
		keys = append(keys, k)
	}
	run := func(table string, streams int, proxy bool) time.Duration {
		t.Helper()
		var wg sync.WaitGroup
		errs := make([]string, streams)
		start := time.Now()
		for st := 0; st < streams; st++ {
			wg.Add(1)
			go func(st int) {
				defer wg.Done()
				var res streamResult
				if proxy {
					res = proxyStream(t, pf, table, keys)
				} else {
					res = postmapStream(t, conf, table, keys)
				}
				got, _ := matchStream(keys, res.lines)
				wrong := 0
				for i, k := range keys {
					if got[i].found != (want[k] != "") || got[i].value != want[k] {
						wrong++
					}
				}
				if wrong > 0 || res.fatal() {
					errs[st] = fmt.Sprintf("%s: %d wrong answers; %s", table, wrong, tail(res.stderr, 3))
				}
			}(st)
		}
		wg.Wait()
		d := time.Since(start)
		for _, e := range errs {
			if e != "" {
				t.Error(e)
			}
		}
		return d
	}
	sm := "socketmap:inet:" + mg.Addr + ":alias"
	run(sm, 1, false) // warm both
	run("pgsql:"+cf, 1, false)
	var b strings.Builder
	for _, streams := range []int{1, 8} {
		pg := run("pgsql:"+cf, streams, false)
		px := run("proxy:pgsql:"+cf, streams, true)
		mgd := run(sm, streams, false)
		fmt.Fprintf(&b, "%d stream(s) x %d distinct keys: pgsql: %v, proxy:pgsql: %v, mapgate %v; mapgate/pgsql: %.2f, mapgate/proxy:pgsql: %.2f\n",
			streams, len(keys), pg.Round(time.Millisecond), px.Round(time.Millisecond), mgd.Round(time.Millisecond),
			mgd.Seconds()/pg.Seconds(), mgd.Seconds()/px.Seconds())
	}
	t.Log(b.String())
}

// proxyStream is postmapStream through a private Postfix instance, whose
// proxymap serves proxy: tables.
func proxyStream(t *testing.T, pf *pfinst.Instance, table string, keys []string) streamResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := pf.Command(ctx, "postmap", "-q", "-", table)
	cmd.Stdin = strings.NewReader(strings.Join(keys, "\n") + "\n")
	var o, e strings.Builder
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	var lines []string
	for _, l := range strings.Split(strings.TrimRight(o.String(), "\n"), "\n") {
		if l != "" {
			lines = append(lines, l)
		}
	}
	return streamResult{lines: lines, stderr: e.String(), err: err}
}
