package stress

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"mapgate/internal/mgproc"
	"mapgate/internal/testdb"
	"mapgate/internal/testpg"
)

const pgSchemaSQL = `CREATE TABLE alias (
  address varchar(255) PRIMARY KEY,
  dest varchar(255) NOT NULL,
  active smallint NOT NULL DEFAULT 1
);
CREATE TABLE alias_domain (
  alias_domain varchar(255) PRIMARY KEY,
  target_domain varchar(255) NOT NULL,
  active smallint NOT NULL DEFAULT 1
);
INSERT INTO alias_domain VALUES ('ad.example', 'd1.example', 1);
`

// TestConcurrentCheckerPgsql runs the checker against two PostgreSQL
// hosts serving pgsql: maps, with a LATIN1 database (the keys it cannot
// hold: their steps are misses, or TEMP where the shape proves nothing)
// and a UTF8 one (their rows are found). The writer changes rows on both
// hosts while the fault injector kills, stops and restarts them.
func TestConcurrentCheckerPgsql(t *testing.T) {
	for _, enc := range []string{"LATIN1", "UTF8"} {
		t.Run(enc, func(t *testing.T) { runPgChecker(t, enc, 30*time.Second) })
	}
}

func runPgChecker(t *testing.T, enc string, defaultDur time.Duration) {
	if testing.Short() {
		t.Skip("the checker needs private PostgreSQL servers and time (not in -short)")
	}
	seed := *seedFlag
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	dur := *durationFlag
	if dur == 0 {
		dur = defaultDur
	}
	t.Logf("checker seed %d (replay: go test ./stress/ -run TestConcurrentCheckerPgsql/%s -stress.seed=%d -stress.duration=%v)", seed, enc, seed, dur)

	pgs := []*testpg.Server{testpg.Start(t), testpg.Start(t)}
	dbs := make([]execer, len(pgs))
	for i, h := range pgs {
		require.NoError(t, h.CreateDB("chk", enc))
		h.MustExec(t, "chk", pgSchemaSQL)
		require.NoError(t, h.GrantRead("chk"))
		// One connection per change (the writer waits for faults to end).
		dbs[i] = func(q string, _ ...any) (sql.Result, error) { return nil, h.Exec("chk", q) }
	}

	dir := t.TempDir()
	args := []string{"serve", "--set", "recipient_delimiter=+", "--set", "alias_propagate_extension=yes",
		"--set", "rewrite_address_search=no", "--set", "branch_address_search=no",
		"--set", "query_timeout=500ms", "--set", "dial_timeout=500ms", "--set", "breaker_timeout=1s",
		"--set", "lookup_timeout=4s"}
	// The MySQL front serves the same maps (a front is protocol only).
	frontPort, err := testdb.FreePort()
	require.NoError(t, err)
	frontAddr := fmt.Sprintf("127.0.0.1:%d", frontPort)
	args = append(args, "--set", "mysql_listen=inet:"+frontAddr, "--set", "mysql_user=postfix", "--set", "mysql_password="+frontPassword)
	for name, body := range maps {
		p := filepath.Join(dir, name+".cf")
		text := fmt.Sprintf("hosts = inet:%s inet:%s\nuser = %s\npassword = %s\ndbname = chk\n%s",
			pgs[0].Addr(), pgs[1].Addr(), testpg.User, testpg.Password, body)
		require.NoError(t, os.WriteFile(p, []byte(text), 0o600))
		args = append(args, "--map", name+"=pgsql:"+p)
	}
	mg := mgproc.Start(t, mgproc.Build(t), args...)

	hist := &history{}
	now := time.Now()
	hist.add(version{st: state{alias: map[string]row{}, adActive: true, utf8mb4: enc == "UTF8"}, start: now, end: now, what: "initial"})
	recs, changes, faults := drive(t, seed, dur, "pgsql", dbs, []server{pgs[0], pgs[1]}, hist, mg.Addr, frontAddr)
	final := hist.vs[len(hist.vs)-1].st
	for i, h := range pgs {
		require.NoError(t, pgSameAsModel(h, final), "host%d", i+1)
	}
	if f := os.Getenv("STRESS_LOG"); f != "" {
		_ = os.WriteFile(f, []byte(mg.Log()), 0o644)
	}
	checked, temps := verify(t, recs, hist, cacheWindow{}, dur, seed, changes, faults, mg)
	// One host is faulted at a time: the other can answer every lookup.
	// (Before pooled connections the server had closed were dropped before
	// use, 0.9% of the lookups of a 20 s run with 4 kills were "no database
	// host available"; since, none.)
	if down := temps["TEMP no database host available"] + temps["TEMP database unavailable"]; down*200 > checked {
		t.Errorf("%d of %d lookups TEMP for want of a host, while one host was up", down, checked)
	}
}

// pgSameAsModel compares a host's alias rows with the model's.
func pgSameAsModel(h *testpg.Server, st state) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, h.SuperConnString("chk"))
	if err != nil {
		return err
	}
	defer c.Close(context.Background())
	rows, err := c.Query(ctx, "SELECT address, dest, active FROM alias")
	if err != nil {
		return err
	}
	got := map[string]row{}
	for rows.Next() {
		var a string
		var r row
		var active int16
		if err := rows.Scan(&a, &r.dest, &active); err != nil {
			return err
		}
		r.active = active != 0
		got[a] = r
	}
	if err := rows.Err(); err != nil {
		return err
	}
	for a, r := range st.alias {
		if got[a] != r {
			return fmt.Errorf("%s: host has %+v, the model %+v", a, got[a], r)
		}
	}
	if len(got) != len(st.alias) {
		return fmt.Errorf("host has %d rows, the model %d", len(got), len(st.alias))
	}
	return nil
}
