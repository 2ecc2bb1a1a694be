package pgfront_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"mapgate/answer"
	"mapgate/internal/testpg"
)

func TestMain(m *testing.M) { testpg.Main(m) }

// pgResolver answers from a real PostgreSQL with one bound query over one
// connection: a stand-in for the lookup core, to measure what the front
// itself adds.
type pgResolver struct {
	mu sync.Mutex
	c  *pgx.Conn
}

func (r *pgResolver) HasMap(name string) bool { return name == "m" }

func (r *pgResolver) Resolve(ctx context.Context, name, key string) answer.Result {
	r.mu.Lock()
	defer r.mu.Unlock()
	var v string
	err := r.c.QueryRow(ctx, "SELECT goto FROM alias WHERE address = $1", key).Scan(&v)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return answer.NotFound()
	case err != nil:
		return answer.Fail(answer.ClassHost, "query failed")
	}
	return answer.Found(v)
}

// TestFrontLatency: Postfix's pgsql: client (one postmap -q - process
// each, 2000 ASCII keys, half of them found) straight on a private
// PostgreSQL and through the front in front of the same database: the
// same output, and the time per lookup of each, as a ratio, in one run.
func TestFrontLatency(t *testing.T) {
	if testing.Short() {
		t.Skip("starts PostgreSQL and runs postmap; skipped with -short")
	}
	srv := testpg.Start(t)
	if err := srv.CreateDB("pf", "UTF8"); err != nil {
		t.Fatal(err)
	}
	var ins strings.Builder
	ins.WriteString("CREATE TABLE alias (address text PRIMARY KEY, goto text NOT NULL);\nINSERT INTO alias VALUES ")
	const n = 2000
	for i := range n / 2 {
		if i > 0 {
			ins.WriteString(",")
		}
		fmt.Fprintf(&ins, "('user%d@example.net','box%d@example.net')", i, i)
	}
	srv.MustExec(t, "pf", ins.String())
	if err := srv.GrantRead("pf"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, srv.UserConnString("pf"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	addr, _ := startResolver(t, &pgResolver{c: c})
	front := postmapFront(t, tcpHosts(addr))

	direct := filepath.Join(t.TempDir(), "direct.cf")
	if err := os.WriteFile(direct, []byte(fmt.Sprintf("hosts = inet:127.0.0.1:%d\nuser = %s\npassword = %s\ndbname = pf\nquery = SELECT goto FROM alias WHERE address = '%%s'\n",
		srv.Port, testpg.User, testpg.Password)), 0o644); err != nil {
		t.Fatal(err)
	}
	straight := postmapTable(t, direct)

	var keys strings.Builder
	for i := range n {
		fmt.Fprintf(&keys, "user%d@example.net\n", i)
	}
	run := func(f func(string, string) (string, error)) (string, time.Duration) {
		start := time.Now()
		out, err := f("-", keys.String())
		if err != nil {
			t.Fatal(err)
		}
		return out, time.Since(start)
	}
	// Warm both (the server's caches, the binaries), then measure.
	run(straight)
	run(front)
	outS, dS := run(straight)
	outF, dF := run(front)
	if outS != outF || strings.Count(outF, "\n") != n/2 {
		t.Fatalf("outputs differ: straight %d lines, front %d lines", strings.Count(outS, "\n"), strings.Count(outF, "\n"))
	}
	perS, perF := dS/time.Duration(n), dF/time.Duration(n)
	t.Logf("%d lookups in one postmap -q -: straight pgsql: %v (%v a lookup), through the front %v (%v a lookup): ratio %.2f, %v added a lookup",
		n, dS.Round(time.Millisecond), perS, dF.Round(time.Millisecond), perF, float64(dF)/float64(dS), perF-perS)
}
