package stress

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql"
	"github.com/stretchr/testify/require"

	mganswer "mapgate/answer"
	"mapgate/internal/mgproc"
	"mapgate/internal/testdb"
	"mapgate/lookup"
	"mapgate/socketmap"
)

var (
	seedFlag     = flag.Uint64("stress.seed", 0, "replay the checker with this seed (0: a new one)")
	durationFlag = flag.Duration("stress.duration", 0, "how long the checker runs (default 60s; -short: skipped)")
	clientsFlag  = flag.Int("stress.clients", 16, "concurrent socketmap clients")
	frontFlag    = flag.Int("stress.frontclients", 8, "concurrent clients of the MySQL front (Postfix's mysql: escaping, keys folded as Postfix folds them)")
)

const schemaSQL = `CREATE TABLE alias (
  address varchar(255) NOT NULL,
  dest varchar(255) NOT NULL,
  active tinyint(1) NOT NULL DEFAULT 1,
  PRIMARY KEY (address)
) ENGINE=InnoDB DEFAULT CHARSET=latin1 COLLATE=latin1_general_ci;
CREATE TABLE alias_domain (
  alias_domain varchar(255) NOT NULL,
  target_domain varchar(255) NOT NULL,
  active tinyint(1) NOT NULL DEFAULT 1,
  PRIMARY KEY (alias_domain)
) ENGINE=InnoDB DEFAULT CHARSET=latin1 COLLATE=latin1_general_ci;
INSERT INTO alias_domain VALUES ('ad.example', 'd1.example', 1);
`

// The maps under test: an address-searched alias map with extension
// propagation; a map whose query binds only the domain and whose result
// carries the key's own user (result_format %U@%s: any answer shared
// between keys shows); and a UNION with a catch-all branch.
var maps = map[string]string{
	"alias": "query = SELECT dest FROM alias WHERE address = '%s' AND active = 1\n",
	"rewrite": "query = SELECT target_domain FROM alias_domain WHERE alias_domain = '%d' AND active = 1\n" +
		"result_format = %U@%s\n",
	"branch": "query = SELECT dest FROM alias WHERE address = '%s' AND active = 1\n" +
		"  UNION ALL SELECT dest FROM alias WHERE address = CONCAT('@', '%d') AND active = 1\n" +
		"  AND NOT EXISTS (SELECT 1 FROM alias WHERE address = '%s' AND active = 1)\n",
}

// schemaLag is how long after a conversion of the key column mapgate may
// still answer on the old column facts (lookup.ConfirmEvery, and the
// confirming query's own time).
const schemaLag = lookup.ConfirmEvery + 500*time.Millisecond

var (
	asciiLocals   = []string{"bob", "alice", "carol", "dave", "erin", "frank"}
	unicodeLocals = []string{"ほげ", "ふが", "😀"}
	domains       = []string{"d1.example", "d2.example"}
)

// version is one state of the database and when the change that made it
// ran: it began at start on the first host and ended at end on the last.
type version struct {
	st         state
	start, end time.Time
	what       string
}

// history is the writer's record of versions, read by the checker.
type history struct {
	mu sync.Mutex
	vs []version
}

func (h *history) add(v version) {
	h.mu.Lock()
	h.vs = append(h.vs, v)
	h.mu.Unlock()
}

// possible returns the states the database may have held at some instant
// in [a, b]: version i holds from its change's commit (in [start_i, end_i])
// until the next one's.
func (h *history) possible(a, b time.Time) []version {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []version
	for i, v := range h.vs {
		if v.start.After(b) {
			break
		}
		if i+1 < len(h.vs) && h.vs[i+1].end.Before(a) {
			continue
		}
		out = append(out, v)
	}
	return out
}

// record is one lookup and its reply.
type record struct {
	mapName, key string
	// front: asked through the MySQL front, which asks exactly the key
	// (Postfix's mysql: client runs the address search itself).
	front bool
	a, b  time.Time
	reply socketmap.Reply
	err   error
}

// cacheWindow is what the checker allows when mapgate's answer cache is
// on: an OK may come from rows read up to pos before the request
// (cache_stale_max, when every host is down; else cache_ttl), each search
// step's miss up to neg before it (cache_negative_ttl, never stale). The
// zero value: no cache, every answer from a state between request and
// reply.
type cacheWindow struct {
	pos, neg time.Duration
}

func TestConcurrentChecker(t *testing.T) {
	runChecker(t, nil, 60*time.Second, cacheWindow{})
}

// TestConcurrentCheckerCached runs the checker with the answer cache on
// (a short TTL, a shorter negative TTL, stale answers allowed while every
// host is down): no answer may be older than the cache allows, and no
// search step's miss older than the negative TTL. (With a 1 ms window
// instead, this run reports tens of thousands of wrong answers: the
// model sees the cache.)
func TestConcurrentCheckerCached(t *testing.T) {
	runChecker(t, []string{"--set", "cache_ttl=1s", "--set", "cache_negative_ttl=300ms", "--set", "cache_stale_max=3s"},
		30*time.Second, cacheWindow{pos: 3 * time.Second, neg: 300 * time.Millisecond})
}

func runChecker(t *testing.T, extra []string, defaultDur time.Duration, cw cacheWindow) {
	if testing.Short() {
		t.Skip("the checker needs private MariaDB servers and time (not in -short)")
	}
	seed := *seedFlag
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	dur := *durationFlag
	if dur == 0 {
		dur = defaultDur
	}
	t.Logf("checker seed %d (replay: go test ./stress/ -run TestConcurrentChecker -stress.seed=%d -stress.duration=%v)", seed, seed, dur)

	hosts := make([]*testdb.Server, 2)
	for i := range hosts {
		h, err := testdb.NewArgs()
		require.NoError(t, err)
		t.Cleanup(h.Close)
		hosts[i] = h
	}
	dbs := make([]*sql.DB, len(hosts))
	for i, h := range hosts {
		h.MustExec(t, "CREATE DATABASE chk; USE chk;\n"+schemaSQL+testdb.Grant("chk"))
		db, err := sql.Open("mysql", h.RootDSN("chk")+"&charset=utf8mb4&multiStatements=true")
		require.NoError(t, err)
		db.SetMaxOpenConns(2)
		t.Cleanup(func() { db.Close() })
		dbs[i] = db
	}

	dir := t.TempDir()
	args := []string{"serve", "--set", "recipient_delimiter=+", "--set", "alias_propagate_extension=yes",
		"--set", "rewrite_address_search=no", "--set", "branch_address_search=no",
		"--set", "query_timeout=500ms", "--set", "dial_timeout=500ms", "--set", "breaker_timeout=1s",
		"--set", "lookup_timeout=4s"}
	frontPort, err := testdb.FreePort()
	require.NoError(t, err)
	frontAddr := fmt.Sprintf("127.0.0.1:%d", frontPort)
	args = append(args, "--set", "mysql_listen=inet:"+frontAddr, "--set", "mysql_user=postfix", "--set", "mysql_password="+frontPassword)
	args = append(args, extra...)
	for name, body := range maps {
		p := filepath.Join(dir, name+".cf")
		text := fmt.Sprintf("hosts = inet:%s inet:%s\nuser = %s\npassword = %s\ndbname = chk\n%s",
			hosts[0].Addr(), hosts[1].Addr(), testdb.User, testdb.Password, body)
		require.NoError(t, os.WriteFile(p, []byte(text), 0o600))
		args = append(args, "--map", name+"="+p)
	}
	mg := mgproc.Start(t, mgproc.Build(t), args...)

	hist := &history{}
	now := time.Now()
	hist.add(version{st: state{alias: map[string]row{}, adActive: true}, start: now, end: now, what: "initial"})
	recs, changes, faults := drive(t, seed, dur, "mysql", []execer{dbs[0].Exec, dbs[1].Exec}, []server{hosts[0], hosts[1]}, hist, mg.Addr, frontAddr)
	// The checker's own premise: both hosts hold what the model says.
	final := hist.vs[len(hist.vs)-1].st
	for i, db := range dbs {
		require.NoError(t, sameAsModel(db, final), "host%d", i+1)
	}

	verify(t, recs, hist, cw, dur, seed, changes, faults, mg)
}

// drive runs the writer (dialect: the SQL of dbs), the fault injector on
// hosts, the socketmap clients against addr and the MySQL front's clients
// against frontAddr (none when it is empty) for dur, and returns every
// client's records, the changes and the faults.
func drive(t *testing.T, seed uint64, dur time.Duration, dialect string, dbs []execer, hosts []server, hist *history, addr, frontAddr string) ([][]record, map[string]int, map[string]int) {
	ctx, cancel := context.WithTimeout(context.Background(), dur)
	defer cancel()
	var hostMu sync.Mutex // held by a change on both hosts, or by a fault
	var wg sync.WaitGroup
	var writerErr, faultErr error
	faults := map[string]int{}
	changes := map[string]int{}

	// The writer.
	wg.Add(1)
	go func() {
		defer wg.Done()
		writerErr = runWriter(ctx, rand.New(rand.NewPCG(seed, 1)), dialect, dbs, hist, &hostMu, changes)
	}()
	// The fault injector.
	wg.Add(1)
	go func() {
		defer wg.Done()
		faultErr = runFaults(ctx, rand.New(rand.NewPCG(seed, 2)), hosts, &hostMu, faults)
	}()
	// The clients: socketmap's, then the MySQL front's.
	nfront := *frontFlag
	if frontAddr == "" {
		nfront = 0
	}
	recs := make([][]record, *clientsFlag+nfront)
	for c := range recs {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(seed, uint64(100+c)))
			if c < *clientsFlag {
				recs[c] = runClient(ctx, rng, addr)
			} else {
				// Every other front client sends its keys as a front .cf
				// with the suffix (and expansion_limit = 1) does.
				recs[c] = runFrontClient(ctx, rng, frontAddr, c%2 == 1)
			}
		}(c)
	}
	wg.Wait()
	require.NoError(t, writerErr, "writer")
	require.NoError(t, faultErr, "fault injector")
	return recs, changes, faults
}

// verify checks every recorded answer against the states the database
// may have held between its request and its reply, and logs the counts.
//
// It returns how many lookups it checked and the TEMP answers by cause.
func verify(t *testing.T, recs [][]record, hist *history, cw cacheWindow, dur time.Duration, seed uint64, changes, faults map[string]int, mg *mgproc.Proc) (int, map[string]int) {
	checked, ok, wrong := 0, 0, 0
	frontChecked, frontOK := 0, 0
	temps := map[string]int{}
	var wrongs []string
	for _, rs := range recs {
		for _, r := range rs {
			checked++
			if r.front {
				frontChecked++
			}
			if r.err != nil {
				temps["client error: "+r.err.Error()]++
				continue
			}
			switch r.reply.Status {
			case socketmap.StatusTemp, socketmap.StatusTimeout:
				temps[r.reply.Status.String()+" "+r.reply.Text]++
				continue
			}
			allowed := hist.possible(r.a, r.b)
			if matches(r, allowed) || cw.pos > 0 && matchesCached(r, hist, cw) {
				ok++
				if r.front {
					frontOK++
				}
				continue
			}
			wrong++
			if len(wrongs) < 20 {
				var exp []string
				for _, v := range allowed {
					exp = append(exp, fmt.Sprintf("%+v (%s)", v.st.answer(r.mapName, r.key), v.what))
				}
				via := "socketmap"
				if r.front {
					via = "MySQL front"
				}
				wrongs = append(wrongs, fmt.Sprintf("%s %s %q → %s; the database allowed: %s", via, r.mapName, r.key, r.reply, strings.Join(exp, " | ")))
			}
		}
	}
	t.Logf("checked %d lookups from %d clients in %v: %d right, %d wrong, %d TEMP/TIMEOUT", checked, len(recs), dur, ok, wrong, checked-ok-wrong)
	t.Logf("of these, through the MySQL front: %d lookups from %d clients, %d right", frontChecked, *frontFlag, frontOK)
	t.Logf("database changes: %s", counts(changes))
	t.Logf("faults: %s", counts(faults))
	t.Logf("TEMP by cause: %s", counts(temps))
	for _, w := range wrongs {
		t.Errorf("wrong answer: %s", w)
	}
	if checked < 1000 {
		t.Errorf("only %d lookups: the checker did not get going", checked)
	}
	if *frontFlag > 0 && frontOK < frontChecked/2 {
		t.Errorf("only %d of %d answers through the MySQL front were OK/NOTFOUND", frontOK, frontChecked)
	}
	if ok < checked/2 {
		t.Errorf("only %d of %d answers were OK/NOTFOUND: mostly TEMP proves little", ok, checked)
	}
	if t.Failed() {
		t.Logf("mapgate log (tail):\n%s", tail(mg.Log(), 40))
		t.Logf("replay: go test ./stress/ -run TestConcurrentChecker -stress.seed=%d -stress.duration=%v", seed, dur)
	}
	return checked, temps
}

// sameAsModel compares a host's alias rows with the model's.
func sameAsModel(db *sql.DB, st state) error {
	rows, err := db.Query("SELECT address, dest, active FROM alias")
	if err != nil {
		return err
	}
	defer rows.Close()
	got := map[string]row{}
	for rows.Next() {
		var a string
		var r row
		if err := rows.Scan(&a, &r.dest, &r.active); err != nil {
			return err
		}
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

// matchesCached: the reply is one the cache may give. Each search step's
// answer comes from its own cache entry, read at its own time: an OK from
// step i needs a state within the positive window in which step i finds
// that value and, for each earlier step, a state within the negative
// window in which it misses; a NOTFOUND needs, for each step, a state
// within the negative window in which it misses.
func matchesCached(r record, hist *history, cw cacheWindow) bool {
	pos := hist.possible(r.a.Add(-cw.pos), r.b)
	neg := hist.possible(r.a.Add(-cw.neg), r.b)
	if r.mapName != "alias" || r.front {
		// One query per lookup: one entry.
		if r.reply.Status == socketmap.StatusOK {
			return matches(r, pos)
		}
		return matches(r, neg)
	}
	if strings.IndexByte(r.key, 0) >= 0 {
		return r.reply == socketmap.NotFound()
	}
	missesIn := func(st aliasStep) bool {
		for _, v := range neg {
			if _, ok := v.st.aliasStepAnswer(st); !ok {
				return true
			}
		}
		return false
	}
	for _, st := range aliasSteps(r.key) {
		if r.reply.Status == socketmap.StatusOK {
			for _, v := range pos {
				if val, ok := v.st.aliasStepAnswer(st); ok && r.reply == socketmap.OK(val) {
					return true
				}
			}
		}
		if !missesIn(st) {
			return false
		}
	}
	return r.reply == socketmap.NotFound()
}

func matches(r record, allowed []version) bool {
	for _, v := range allowed {
		want := v.st.answer(r.mapName, r.key)
		if r.front {
			want = v.st.frontAnswer(r.mapName, r.key)
		}
		switch {
		case want.found && r.reply == socketmap.OK(want.value):
			return true
		case !want.found && r.reply == socketmap.NotFound():
			return true
		}
	}
	return false
}

func counts(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s=%d", k, m[k]))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// randomKey draws a key: existing and missing users, +extensions, catch-all
// domains, characters latin1 cannot hold, over-long, NUL, mixed case.
func randomKey(rng *rand.Rand) string {
	var local string
	switch rng.IntN(10) {
	case 0, 1, 2, 3:
		local = asciiLocals[rng.IntN(len(asciiLocals))]
	case 4:
		local = fmt.Sprintf("nobody%d", rng.IntN(1000))
	case 5, 6:
		local = unicodeLocals[rng.IntN(len(unicodeLocals))]
	case 7:
		local = strings.Repeat("a", 256+rng.IntN(100))
	case 8:
		local = asciiLocals[rng.IntN(len(asciiLocals))] + "\x00x"
	default:
		local = ""
	}
	if rng.IntN(4) == 0 && local != "" {
		local += "+Tag" + fmt.Sprint(rng.IntN(3))
	}
	domain := domains[rng.IntN(len(domains))]
	if rng.IntN(4) == 0 {
		domain = "ad.example"
	}
	key := local + "@" + domain
	if rng.IntN(3) == 0 {
		key = mixCase(rng, key)
	}
	return key
}

func mixCase(rng *rand.Rand, s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'a' <= c && c <= 'z' && rng.IntN(2) == 0 {
			b[i] = c - ('a' - 'A')
		}
	}
	return string(b)
}

func runClient(ctx context.Context, rng *rand.Rand, addr string) []record {
	var out []record
	c, err := socketmap.Dial("inet:" + addr)
	if err != nil {
		return []record{{err: err}}
	}
	defer func() { c.Close() }()
	names := []string{"alias", "rewrite", "branch"}
	for ctx.Err() == nil && len(out) < 2_000_000 {
		r := record{mapName: names[rng.IntN(len(names))], key: randomKey(rng)}
		r.a = time.Now()
		r.reply, r.err = c.Lookup(r.mapName, r.key)
		r.b = time.Now()
		out = append(out, r)
		if r.err != nil {
			c.Close()
			if c, err = socketmap.Dial("inet:" + addr); err != nil {
				return out
			}
		}
	}
	return out
}

// execer runs one statement on one host (sql.DB's Exec).
type execer func(query string, args ...any) (sql.Result, error)

// runWriter changes the database on both hosts, one change at a time,
// while no fault is injected, and records each resulting state.
func runWriter(ctx context.Context, rng *rand.Rand, dialect string, dbs []execer, hist *history, hostMu *sync.Mutex, changes map[string]int) error {
	cur := hist.vs[0].st.clone()
	n := 0
	var converted time.Time // the last conversion to utf8mb4
	for ctx.Err() == nil {
		time.Sleep(time.Duration(20+rng.IntN(60)) * time.Millisecond)
		next := cur.clone()
		// mapgate's documented lag for schema facts: a row only the new
		// character set can hold is found from lookup.ConfirmEvery after
		// the conversion on. Before that such a key is still answered on
		// the old facts; the writer leaves that time before adding one.
		unicodeOK := time.Since(converted) > schemaLag
		what, stmt := change(rng, dialect, &next, &n, unicodeOK)
		if stmt == "" {
			continue
		}
		hostMu.Lock()
		start := time.Now()
		var err error
		for _, exec := range dbs {
			if _, err = exec(stmt); err != nil {
				break
			}
		}
		end := time.Now()
		hostMu.Unlock()
		if err != nil {
			return fmt.Errorf("%s: %q: %w", what, stmt, err)
		}
		hist.add(version{st: next, start: start, end: end, what: what})
		if what == "alter-utf8mb4" {
			converted = end
		}
		changes[strings.Fields(what)[0]]++
		cur = next
	}
	return nil
}

// change draws one change, applies it to st and returns its SQL in the
// dialect ("mysql", "pgsql"). A PostgreSQL database's encoding changes
// only by dump and restore: no conversions there.
func change(rng *rand.Rand, dialect string, st *state, n *int, unicodeOK bool) (what, stmt string) {
	*n++
	addrs := make([]string, 0, len(st.alias))
	for a := range st.alias {
		addrs = append(addrs, a)
	}
	sort.Strings(addrs)
	pick := func() string { return addrs[rng.IntN(len(addrs))] }
	q := func(s string) string { return "'" + s + "'" }
	switch k := rng.IntN(100); {
	case k < 30: // insert or replace a row
		locals := asciiLocals
		if st.utf8mb4 && unicodeOK && rng.IntN(2) == 0 {
			locals = unicodeLocals
		}
		addr := locals[rng.IntN(len(locals))] + "@" + domains[rng.IntN(len(domains))]
		if rng.IntN(5) == 0 {
			addr = "@" + domains[rng.IntN(len(domains))] // a catch-all
		}
		dest := fmt.Sprintf("g%d@dest.example", *n)
		active := rng.IntN(4) != 0
		st.alias[addr] = row{dest: dest, active: active}
		if dialect == "pgsql" {
			return "insert " + addr, fmt.Sprintf("INSERT INTO alias (address, dest, active) VALUES (%s, %s, %d) ON CONFLICT (address) DO UPDATE SET dest = EXCLUDED.dest, active = EXCLUDED.active", q(addr), q(dest), b2i(active))
		}
		return "insert " + addr, fmt.Sprintf("REPLACE INTO alias (address, dest, active) VALUES (%s, %s, %d)", q(addr), q(dest), b2i(active))
	case k < 45 && len(addrs) > 0:
		a := pick()
		delete(st.alias, a)
		return "delete " + a, "DELETE FROM alias WHERE address = " + q(a)
	case k < 60 && len(addrs) > 0:
		a := pick()
		r := st.alias[a]
		r.dest = fmt.Sprintf("g%d@dest.example", *n)
		st.alias[a] = r
		return "update " + a, fmt.Sprintf("UPDATE alias SET dest = %s WHERE address = %s", q(r.dest), q(a))
	case k < 80 && len(addrs) > 0:
		a := pick()
		r := st.alias[a]
		r.active = !r.active
		st.alias[a] = r
		return "active " + a, fmt.Sprintf("UPDATE alias SET active = %d WHERE address = %s", b2i(r.active), q(a))
	case k < 88:
		st.adActive = !st.adActive
		return "alias_domain-active", fmt.Sprintf("UPDATE alias_domain SET active = %d", b2i(st.adActive))
	case k >= 88 && dialect == "pgsql":
		return "", ""
	case k < 94 && !st.utf8mb4:
		st.utf8mb4 = true
		return "alter-utf8mb4", "ALTER TABLE alias CONVERT TO CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci"
	case k < 100 && st.utf8mb4:
		// Rows latin1 cannot hold go first, in the same statement batch.
		var del []string
		for _, a := range addrs {
			if !isLatin1(a) {
				del = append(del, q(a))
				delete(st.alias, a)
			}
		}
		st.utf8mb4 = false
		stmt := ""
		if len(del) > 0 {
			stmt = "DELETE FROM alias WHERE address IN (" + strings.Join(del, ",") + "); "
		}
		return "alter-latin1", stmt + "ALTER TABLE alias CONVERT TO CHARACTER SET latin1 COLLATE latin1_general_ci"
	}
	return "", ""
}

func isLatin1(s string) bool {
	for _, r := range s {
		if r > 0xFF {
			return false
		}
	}
	return true
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// server is a database server the fault injector can kill, stop and
// restart (testdb's MariaDB, testpg's PostgreSQL).
type server interface {
	Kill() error
	Start() error
	Pause() error
	Resume() error
}

// runFaults kills, stops and restarts one host at a time, while the
// writer waits.
func runFaults(ctx context.Context, rng *rand.Rand, hosts []server, hostMu *sync.Mutex, faults map[string]int) error {
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Duration(1500+rng.IntN(2000)) * time.Millisecond):
		}
		h := hosts[i%len(hosts)]
		which := fmt.Sprintf("host%d", i%len(hosts)+1)
		hostMu.Lock()
		var err error
		if rng.IntN(2) == 0 {
			faults["kill+restart "+which]++
			if err = h.Kill(); err == nil {
				time.Sleep(time.Duration(300+rng.IntN(1200)) * time.Millisecond)
				err = h.Start()
			}
		} else {
			faults["stop+continue "+which]++
			if err = h.Pause(); err == nil {
				time.Sleep(time.Duration(300+rng.IntN(1200)) * time.Millisecond)
				err = h.Resume()
			}
		}
		hostMu.Unlock()
		if err != nil {
			return fmt.Errorf("%s: %w", which, err)
		}
	}
}

// frontPassword is the MySQL front's password in the checker.
const frontPassword = "checker-front"

// runFrontClient asks the MySQL front as Postfix's mysql: client does: a
// connection per map (dbname names it), each key folded as Postfix folds a
// mysql: table's key and sent escaped as the whole statement
// (interpolateParams: the driver's escaping is mysql_real_escape_string's).
// Rows are joined with ',' as Postfix joins them; no rows is not found; an
// error packet is a failure (the host down, for Postfix). limited: the
// statement ends with answer.LimitedQuerySuffix and more than one row is a
// failure of that lookup, as for a front .cf with expansion_limit = 1.
func runFrontClient(ctx context.Context, rng *rand.Rand, addr string, limited bool) []record {
	stmt := "?"
	if limited {
		stmt += mganswer.LimitedQuerySuffix
	}
	names := []string{"alias", "rewrite", "branch"}
	dbs := map[string]*sql.DB{}
	defer func() {
		for _, db := range dbs {
			db.Close()
		}
	}()
	for _, n := range names {
		db, err := sql.Open("mysql", fmt.Sprintf("postfix:%s@tcp(%s)/%s?interpolateParams=true&charset=utf8mb4&timeout=2s&readTimeout=6s", frontPassword, addr, n))
		if err != nil {
			return []record{{err: err}}
		}
		db.SetMaxOpenConns(1)
		dbs[n] = db
	}
	var out []record
	for ctx.Err() == nil && len(out) < 2_000_000 {
		r := record{mapName: names[rng.IntN(len(names))], key: fold(randomKey(rng)), front: true}
		if strings.IndexByte(r.key, 0) >= 0 {
			continue // Postfix's client sends a C string: it never asks a key with a NUL
		}
		r.a = time.Now()
		r.reply, r.err = frontLookup(ctx, dbs[r.mapName], stmt, r.key, limited)
		r.b = time.Now()
		if ctx.Err() != nil && (r.err != nil || r.reply.Status == socketmap.StatusTemp) {
			break // the run ended during this lookup (the client's own deadline)
		}
		out = append(out, r)
	}
	return out
}

// frontLookup is one lookup through the front, as a socketmap reply.
func frontLookup(ctx context.Context, db *sql.DB, stmt, key string, limited bool) (socketmap.Reply, error) {
	rows, err := db.QueryContext(ctx, stmt, key)
	if err != nil {
		return socketmap.Temp("error packet: " + err.Error()), nil
	}
	defer rows.Close()
	var vals []string
	for rows.Next() {
		var v sql.NullString
		if err := rows.Scan(&v); err != nil {
			return socketmap.Reply{}, err
		}
		if v.Valid {
			vals = append(vals, v.String)
		}
	}
	if err := rows.Err(); err != nil {
		return socketmap.Temp("error packet: " + err.Error()), nil
	}
	if len(vals) == 0 {
		return socketmap.NotFound(), nil
	}
	if limited && len(vals) > 1 {
		return socketmap.Temp("expansion limit exceeded (a failure of this key alone)"), nil
	}
	return socketmap.OK(strings.Join(vals, ",")), nil
}
