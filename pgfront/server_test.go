package pgfront_test

import (
	"context"
	"errors"
	"mapgate/internal/conncore"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"mapgate/answer"
	"mapgate/pgfront"
)

// table is a recording resolver for the map "m": a key starting "nf-" is
// not found, "kc-" a key-caused failure, "big:N" a value of N bytes,
// "unset" a zero Result; any other key is found as "got:" + key, so that
// a test sees the exact bytes the front handed on.
type table struct {
	mu   sync.Mutex
	keys []string
	temp bool
	slow time.Duration
}

func (t *table) HasMap(name string) bool { return name == "m" }

func (t *table) Resolve(ctx context.Context, name, key string) answer.Result {
	t.mu.Lock()
	t.keys = append(t.keys, key)
	temp, slow := t.temp, t.slow
	t.mu.Unlock()
	if slow > 0 {
		time.Sleep(slow)
	}
	switch {
	case temp:
		return answer.Fail(answer.ClassHost, "database down")
	case key == "unset":
		return answer.Result{}
	case key == "panic":
		panic("resolver bug")
	case strings.HasPrefix(key, "nf-"):
		return answer.NotFound()
	case strings.HasPrefix(key, "kc-"):
		return answer.Fail(answer.ClassKey, "value out of range for the column")
	case key == "limit":
		return answer.Fail(answer.ClassLimit, "expansion_limit exceeded")
	case strings.HasPrefix(key, "big:"):
		n, _ := strconv.Atoi(key[4:])
		return answer.Found(strings.Repeat("x", n))
	}
	return answer.Found("got:" + key)
}

func (t *table) asked() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]string(nil), t.keys...)
}

// start serves a front for tb on a loopback TCP port and returns its address.
func start(t *testing.T, tb *table, mod func(*pgfront.Server)) (string, *pgfront.Server) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return serve(t, l, tb, mod)
}

func serve(t *testing.T, l net.Listener, tb *table, mod func(*pgfront.Server)) (string, *pgfront.Server) {
	s := &pgfront.Server{Resolver: tb, User: "postfix", Password: "secret", Limits: conncore.Limits{RequestTimeout: 2 * time.Second}}
	if mod != nil {
		mod(s)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(l) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := <-done; !errors.Is(err, pgfront.ErrServerClosed) {
			t.Errorf("Serve: %v", err)
		}
	})
	return l.Addr().String(), s
}

func connString(addr, user, pass, db string) string {
	host, port, _ := net.SplitHostPort(addr)
	return "host=" + host + " port=" + port + " user=" + user + " password=" + pass + " dbname=" + db + " sslmode=prefer connect_timeout=5"
}

func connect(t *testing.T, addr string) *pgconn.PgConn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := pgconn.Connect(ctx, connString(addr, "postfix", "secret", "m"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

// query runs stmt as a simple query and returns its rows' first column.
func query(c *pgconn.PgConn, stmt string) ([]string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	res, err := c.Exec(ctx, stmt).ReadAll()
	if err != nil {
		return nil, err
	}
	var out []string
	for _, r := range res {
		if r.Err != nil {
			return nil, r.Err
		}
		for _, row := range r.Rows {
			out = append(out, string(row[0]))
		}
	}
	return out, nil
}

func TestServerAnswers(t *testing.T) {
	tb := &table{}
	addr, _ := start(t, tb, nil)
	c := connect(t, addr)
	if got := c.ParameterStatus("standard_conforming_strings"); got != "on" {
		t.Fatalf("standard_conforming_strings = %q", got)
	}
	for _, tc := range []struct {
		stmt string
		want []string
	}{
		{`'bob@example.jp'`, []string{"got:bob@example.jp"}},
		{`'nf-nobody@example.jp'`, nil},
		{`'kc-key-caused'`, nil},
		{`'o''brien\x'`, []string{`got:o'brien\x`}},
		{`''''`, []string{"got:'"}},
		{`''`, nil},
		{`set client_encoding to 'LATIN1'`, nil},
		{"'\xe5ngstr\xf6m@example.net'", []string{"got:ångström@example.net"}}, // LATIN1 now: not UTF-8, so read as Latin-1
		{"'ほげ@example.jp'", []string{"got:ほげ@example.jp"}},                     // UTF-8 in a LATIN1 session: as sent
		{`SET client_encoding = 'UTF8'`, nil},
		{`'ほげ@example.jp'`, []string{"got:ほげ@example.jp"}},
		{`'big:100001'`, []string{strings.Repeat("x", 100001)}},
	} {
		got, err := query(c, tc.stmt)
		if err != nil {
			t.Fatalf("%s: %v", tc.stmt, err)
		}
		if strings.Join(got, "|") != strings.Join(tc.want, "|") {
			t.Errorf("%s: got %q, want %q", tc.stmt, got, tc.want)
		}
	}
	if got := c.ParameterStatus("client_encoding"); got != "UTF8" {
		t.Errorf("client_encoding after SET = %q", got)
	}
}

// Every statement that is not one quoted escaped key gets an ERROR and
// is never executed; the connection stays usable.
func TestServerRefusesNonKeys(t *testing.T) {
	tb := &table{}
	addr, s := start(t, tb, nil)
	c := connect(t, addr)
	refused := []string{`SELECT 1`, `bob@example.jp`, `'a'b'`, `'a' OR '1'='1'`, `'a'; DROP TABLE x`, `DROP TABLE x`,
		`E'a\\'`, `'unterminated`, `SET standard_conforming_strings = off`, `SET client_encoding TO 'SJIS'`,
		`SET NAMES 'BIG5'`, `BEGIN`, `COPY x FROM STDIN`, "'a\xff'" /* not UTF-8 in a UTF8 session */}
	for _, stmt := range refused {
		_, err := query(c, stmt)
		var pe *pgconn.PgError
		if !errors.As(err, &pe) || pe.Severity != "ERROR" {
			t.Errorf("%q: err = %v, want an ERROR", stmt, err)
		}
	}
	// The extended protocol is refused too, and the session goes on.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	rr := c.ExecParams(ctx, `'x'`, nil, nil, nil, nil).Read()
	var pe *pgconn.PgError
	if !errors.As(rr.Err, &pe) || pe.Code != "0A000" {
		t.Errorf("extended protocol: err = %v, want 0A000", rr.Err)
	}
	if got, err := query(c, `'bob@example.jp'`); err != nil || len(got) != 1 {
		t.Errorf("after the refusals: %q, %v", got, err)
	}
	if k := tb.asked(); len(k) != 1 {
		t.Errorf("resolver asked %q, want only the one key", k)
	}
	if st := s.Stats(); st.Refused != uint64(len(refused)+1) {
		t.Errorf("Stats.Refused = %d, want %d", st.Refused, len(refused)+1)
	}
}

// A failure of one key is never an ERROR (Postfix's client would skip the
// host for every key): with the front .cf's suffix (and its
// expansion_limit = 1) it is two rows, which that client refuses for this
// lookup alone; from an older front .cf a key-caused failure is an empty
// result and an expansion_limit overrun an ERROR, as before.
func TestServerFailOne(t *testing.T) {
	addr, _ := start(t, &table{}, nil)
	c := connect(t, addr)
	for _, tc := range []struct {
		stmt    string
		rows    int
		isError bool
	}{
		{`'kc-x'` + answer.LimitedQuerySuffix, 2, false},
		{`'limit'` + answer.LimitedQuerySuffix, 2, false},
		{`'bob@example.jp'` + answer.LimitedQuerySuffix, 1, false},
		{`'nf-x'` + answer.LimitedQuerySuffix, 0, false},
		{`'kc-x'`, 0, false},
		{`'limit'`, 0, true},
		{`'kc-x' /* expansion_limit = 2 */`, 0, true},
	} {
		got, err := query(c, tc.stmt)
		var pe *pgconn.PgError
		if tc.isError != errors.As(err, &pe) || (!tc.isError && (err != nil || len(got) != tc.rows)) {
			t.Errorf("%s: %q, %v; want %d rows, error %v", tc.stmt, got, err, tc.rows, tc.isError)
		}
		if got, err := query(c, `'bob@example.jp'`); err != nil || len(got) != 1 {
			t.Fatalf("after %s: %q, %v", tc.stmt, got, err)
		}
	}
}

// The reply rule: an ERROR only when the database cannot be asked; an
// unset Result is a failure, never an empty result.
func TestServerTempIsError(t *testing.T) {
	tb := &table{}
	addr, _ := start(t, tb, nil)
	c := connect(t, addr)
	var pe *pgconn.PgError
	if _, err := query(c, `'unset'`); !errors.As(err, &pe) {
		t.Errorf("zero Result: err = %v, want an ERROR", err)
	}
	// A resolver that panics: an ERROR, and the session goes on.
	if _, err := query(c, `'panic'`); !errors.As(err, &pe) {
		t.Errorf("resolver panic: err = %v, want an ERROR", err)
	}
	if got, err := query(c, `'bob@example.jp'`); err != nil || len(got) != 1 {
		t.Errorf("after the panic: %q, %v", got, err)
	}
	tb.mu.Lock()
	tb.temp = true
	tb.mu.Unlock()
	if _, err := query(c, `'bob@example.jp'`); !errors.As(err, &pe) || !strings.Contains(pe.Message, "temporary") {
		t.Errorf("host down: err = %v, want a temporary-failure ERROR", err)
	}
}

func TestServerRefusesLogins(t *testing.T) {
	tb := &table{}
	addr, s := start(t, tb, nil)
	for _, tc := range []struct{ user, pass, db, code string }{
		{"postfix", "wrong", "m", "28P01"},
		{"root", "secret", "m", "28P01"},
		{"postfix", "secret", "nosuchmap", "3D000"},
		{strings.Repeat("u", 5000), "secret", "m", "28P01"},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err := pgconn.Connect(ctx, connString(addr, tc.user, tc.pass, tc.db))
		cancel()
		var pe *pgconn.PgError
		if !errors.As(err, &pe) || pe.Code != tc.code {
			t.Errorf("login %.20s/%s/%s: err = %v, want %s", tc.user, tc.pass, tc.db, err, tc.code)
		} else if len(pe.Message) > 200 {
			t.Errorf("login %.20s: reply of %d bytes", tc.user, len(pe.Message))
		}
	}
	if st := s.Stats(); st.FailedLogins != 4 {
		t.Errorf("FailedLogins = %d, want 4", st.FailedLogins)
	}
	// New credentials apply to the next login.
	s.SetCredentials("postfix", "new")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if c, err := pgconn.Connect(ctx, connString(addr, "postfix", "new", "m")); err != nil {
		t.Errorf("login with the new password: %v", err)
	} else {
		c.Close(ctx)
	}
	if _, err := pgconn.Connect(ctx, connString(addr, "postfix", "secret", "m")); err == nil {
		t.Errorf("the old password still logs in")
	}
}

// A unix socket as libpq names it: DIR/.s.PGSQL.5432 for host=DIR.
func TestServerUnixSocket(t *testing.T) {
	dir := t.TempDir()
	l, err := net.Listen("unix", filepath.Join(dir, ".s.PGSQL.5432"))
	if err != nil {
		t.Fatal(err)
	}
	tb := &table{}
	serve(t, l, tb, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := pgconn.Connect(ctx, "host="+dir+" user=postfix password=secret dbname=m")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	if got, err := query(c, `'bob@example.jp'`); err != nil || len(got) != 1 || got[0] != "got:bob@example.jp" {
		t.Errorf("over the unix socket: %q, %v", got, err)
	}
	_ = os.Remove(filepath.Join(dir, ".s.PGSQL.5432"))
}

func TestServerSlowResolverTimesOut(t *testing.T) {
	tb := &table{slow: 3 * time.Second}
	addr, _ := start(t, tb, func(s *pgfront.Server) { s.RequestTimeout = 200 * time.Millisecond })
	c := connect(t, addr)
	start := time.Now()
	_, err := query(c, `'bob@example.jp'`)
	if err == nil {
		t.Fatal("a lookup past its deadline was answered")
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Errorf("answered after %v", el)
	}
}

func pgconnConnect(ctx context.Context, cs string) (*pgconn.PgConn, error) {
	c, err := pgconn.Connect(ctx, cs)
	if err == nil {
		c.Close(ctx)
	}
	return c, err
}
