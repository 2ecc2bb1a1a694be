package mysqlfront_test

import (
	"context"
	"database/sql"
	"errors"
	"io"
	"mapgate/internal/conncore"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"mapgate/answer"
	"mapgate/mysqlfront"
)

// table is a recording resolver: a fixed map "m" and its answers.
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
		return answer.Result{} // a resolver that forgot to say
	case key == "keyfail":
		return answer.Fail(answer.ClassKey, "the key's characters")
	case key == "limit":
		return answer.Fail(answer.ClassLimit, "expansion_limit exceeded")
	case strings.HasPrefix(key, "big:"):
		n, _ := strconv.Atoi(key[4:])
		return answer.Found(strings.Repeat("x", n))
	case key == "bob@example.jp" || strings.ContainsAny(key, "'\\\x00\"\n"):
		return answer.Found("got:" + key)
	}
	return answer.NotFound()
}

func start(t *testing.T, tb *table, mod func(*mysqlfront.Server)) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "my.sock")
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	s := &mysqlfront.Server{Resolver: tb, User: "postfix", Password: "secret", Limits: conncore.Limits{RequestTimeout: 2 * time.Second}}
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
		if err := <-done; !errors.Is(err, mysqlfront.ErrServerClosed) {
			t.Errorf("Serve: %v", err)
		}
	})
	return path
}

func open(t *testing.T, path, user, pass, db string) *sql.DB {
	t.Helper()
	cfg := mysql.NewConfig()
	cfg.Net, cfg.Addr, cfg.User, cfg.Passwd, cfg.DBName = "unix", path, user, pass, db
	cfg.Timeout = 2 * time.Second
	d, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		t.Fatal(err)
	}
	d.SetMaxOpenConns(1)
	t.Cleanup(func() { d.Close() })
	return d
}

func rows(t *testing.T, d *sql.DB, stmt string) ([]string, error) {
	t.Helper()
	r, err := d.Query(stmt)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	var out []string
	for r.Next() {
		var v string
		if err := r.Scan(&v); err != nil {
			t.Fatal(err)
		}
		out = append(out, v)
	}
	return out, r.Err()
}

func TestServerAnswers(t *testing.T) {
	tb := &table{}
	d := open(t, start(t, tb, nil), "postfix", "secret", "m")
	for _, tc := range []struct {
		stmt string
		want []string
	}{
		{`'bob@example.jp'`, []string{"got:bob@example.jp"}},
		{`'nobody@example.jp'`, nil},
		{`'o\'brien\\x\0y\"\n'`, []string{"got:o'brien\\x\x00y\"\n"}},
		{`''`, nil},
		{`SET NAMES utf8mb4`, nil},
		{`SET autocommit=1`, nil}, // what the client libraries send
		{`set AUTOCOMMIT = 1;`, nil},
		{`SET autocommit= 1`, nil},
	} {
		got, err := rows(t, d, tc.stmt)
		if err != nil {
			t.Fatalf("%s: %v", tc.stmt, err)
		}
		if strings.Join(got, "|") != strings.Join(tc.want, "|") {
			t.Errorf("%s: got %q, want %q", tc.stmt, got, tc.want)
		}
	}
	if err := d.Ping(); err != nil {
		t.Errorf("ping: %v", err)
	}
}

func TestServerRefusesNonKeys(t *testing.T) {
	tb := &table{}
	d := open(t, start(t, tb, nil), "postfix", "secret", "m")
	for _, stmt := range []string{`SELECT 1`, `bob@example.jp`, `'a'b'`, `'a\x'`, `'a' OR '1'='1'`, `DROP TABLE x`, `'unterminated`, `SET NAMES sjis`} {
		_, err := rows(t, d, stmt)
		var me *mysql.MySQLError
		if !errors.As(err, &me) {
			t.Errorf("%s: err = %v, want a MySQL error", stmt, err)
		}
	}
	tb.mu.Lock()
	defer tb.mu.Unlock()
	if len(tb.keys) != 0 {
		t.Errorf("resolver asked %q for statements that are not keys", tb.keys)
	}
}

// A failure of one key is never an error packet (Postfix's client would
// skip the host for every key): with the front .cf's suffix (and its
// expansion_limit = 1) it is two rows, which that client refuses for this
// lookup alone; from an older front .cf, a key-caused failure is an empty
// result and an expansion_limit overrun an error, as before.
func TestServerFailOne(t *testing.T) {
	d := open(t, start(t, &table{}, nil), "postfix", "secret", "m")
	d.SetMaxOpenConns(1)
	for _, tc := range []struct {
		stmt    string
		rows    int
		isError bool
	}{
		{`'keyfail'` + answer.LimitedQuerySuffix, 2, false},
		{`'limit'` + answer.LimitedQuerySuffix, 2, false},
		{`'bob@example.jp'` + answer.LimitedQuerySuffix, 1, false},
		{`'nobody@example.jp'` + answer.LimitedQuerySuffix, 0, false},
		{`'keyfail'`, 0, false},
		{`'limit'`, 0, true},
		{`'keyfail' /* expansion_limit = 2 */`, 0, true},
	} {
		got, err := rows(t, d, tc.stmt)
		var me *mysql.MySQLError
		if tc.isError != errors.As(err, &me) || (!tc.isError && (err != nil || len(got) != tc.rows)) {
			t.Errorf("%s: %q, %v; want %d rows, error %v", tc.stmt, got, err, tc.rows, tc.isError)
		}
		if got, err := rows(t, d, `'bob@example.jp'`); err != nil || len(got) != 1 {
			t.Fatalf("after %s: %q, %v", tc.stmt, got, err)
		}
	}
}

// An Answer never assigned is a failure, never an empty result set.
func TestServerZeroAnswerIsError(t *testing.T) {
	d := open(t, start(t, &table{}, nil), "postfix", "secret", "m")
	var me *mysql.MySQLError
	if _, err := rows(t, d, `'unset'`); !errors.As(err, &me) {
		t.Errorf("zero Answer: err = %v, want an error packet", err)
	}
}

// Postfix's mysql: client reads an answer of any size: socketmap's
// 100000-byte reply limit is not the front's. A value longer than one
// packet (16 MiB - 1) goes out split, as the protocol splits a long row.
func TestServerLargeAnswers(t *testing.T) {
	d := open(t, start(t, &table{}, nil), "postfix", "secret", "m")
	d.SetMaxOpenConns(1)
	for _, n := range []int{100001, 292 << 10, 1<<24 - 1 - 5, 1<<24 - 1 - 4, 1<<24 + 100} {
		got, err := rows(t, d, "'big:"+strconv.Itoa(n)+"'")
		if err != nil || len(got) != 1 || len(got[0]) != n {
			l := -1
			if len(got) == 1 {
				l = len(got[0])
			}
			t.Fatalf("answer of %d bytes: %d rows (first %d bytes), err %v", n, len(got), l, err)
		}
		if got, err := rows(t, d, `'bob@example.jp'`); err != nil || len(got) != 1 {
			t.Fatalf("after %d bytes: %q, %v", n, got, err)
		}
	}
}

func TestServerTempIsError(t *testing.T) {
	tb := &table{temp: true}
	d := open(t, start(t, tb, nil), "postfix", "secret", "m")
	_, err := rows(t, d, `'bob@example.jp'`)
	var me *mysql.MySQLError
	if !errors.As(err, &me) || !strings.Contains(me.Message, "temporary") {
		t.Errorf("err = %v, want a temporary-failure error packet", err)
	}
}

func TestServerSlowResolverTimesOut(t *testing.T) {
	tb := &table{slow: 3 * time.Second}
	d := open(t, start(t, tb, func(s *mysqlfront.Server) { s.RequestTimeout = 200 * time.Millisecond }), "postfix", "secret", "m")
	if _, err := rows(t, d, `'bob@example.jp'`); err == nil {
		t.Errorf("a lookup past its deadline answered without error")
	}
}

func TestServerAuthAndDB(t *testing.T) {
	tb := &table{}
	path := start(t, tb, nil)
	for _, tc := range []struct{ user, pass, db string }{
		{"postfix", "wrong", "m"}, {"root", "secret", "m"}, {"postfix", "", "m"}, {"postfix", "secret", "nosuchmap"},
	} {
		if err := open(t, path, tc.user, tc.pass, tc.db).Ping(); err == nil {
			t.Errorf("%+v: connected", tc)
		}
	}
	d := open(t, path, "postfix", "secret", "")
	if _, err := rows(t, d, `'bob@example.jp'`); err == nil {
		t.Errorf("a key without a selected map answered")
	}
	if _, err := d.Exec("USE nosuchmap"); err == nil {
		t.Errorf("USE nosuchmap: no error")
	}
}

func TestServerOverlongStatementIsNotFound(t *testing.T) {
	tb := &table{}
	d := open(t, start(t, tb, nil), "postfix", "secret", "m")
	got, err := rows(t, d, "'"+strings.Repeat("a", mysqlfront.DefaultMaxPacket+10)+"'")
	if err != nil || len(got) != 0 {
		t.Errorf("over-long key: %q, %v; want an empty result", got, err)
	}
	if got, err := rows(t, d, `'bob@example.jp'`); err != nil || len(got) != 1 {
		t.Errorf("next key after an over-long one: %q, %v", got, err)
	}
}

func TestServerConnectionCap(t *testing.T) {
	tb := &table{}
	path := start(t, tb, func(s *mysqlfront.Server) { s.MaxConns = 1 })
	d1 := open(t, path, "postfix", "secret", "m")
	if err := d1.Ping(); err != nil {
		t.Fatal(err)
	}
	err := open(t, path, "postfix", "secret", "m").Ping()
	var me *mysql.MySQLError
	if !errors.As(err, &me) || me.Number != 1040 {
		t.Errorf("second connection over a cap of 1: %v, want error 1040", err)
	}
}

// TestServerShutdownLetsALookupFinish: Shutdown closes idle connections at
// once, and a lookup in flight still gets its answer.
func TestServerShutdownLetsALookupFinish(t *testing.T) {
	tb := &table{slow: 500 * time.Millisecond}
	path := filepath.Join(t.TempDir(), "my.sock")
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	s := &mysqlfront.Server{Resolver: tb, User: "postfix", Password: "secret"}
	served := make(chan error, 1)
	go func() { served <- s.Serve(l) }()
	idle := open(t, path, "postfix", "secret", "m")
	if err := idle.Ping(); err != nil {
		t.Fatal(err)
	}
	busy := open(t, path, "postfix", "secret", "m")
	if err := busy.Ping(); err != nil {
		t.Fatal(err)
	}
	answered := make(chan []string, 1)
	go func() {
		got, err := rows(t, busy, `'bob@example.jp'`)
		if err != nil {
			t.Errorf("lookup in flight during Shutdown: %v", err)
		}
		answered <- got
	}()
	for range 100 { // until the lookup has reached the resolver
		tb.mu.Lock()
		n := len(tb.keys)
		tb.mu.Unlock()
		if n > 0 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	if got := <-answered; len(got) != 1 {
		t.Errorf("lookup in flight answered %q", got)
	}
	if err := <-served; !errors.Is(err, mysqlfront.ErrServerClosed) {
		t.Errorf("Serve: %v", err)
	}
}

// TestServerStats: the counters the daemon exports per front.
func TestServerStats(t *testing.T) {
	tb := &table{}
	var s *mysqlfront.Server
	path := start(t, tb, func(srv *mysqlfront.Server) {
		srv.MaxConns = 1
		srv.HandshakeTimeout = 100 * time.Millisecond
		s = srv
	})
	if err := open(t, path, "postfix", "wrong", "m").Ping(); err == nil {
		t.Fatal("a wrong password logged in")
	}
	// A client that never answers the greeting is closed at HandshakeTimeout.
	nc, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	_ = nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	begin := time.Now()
	if _, err := io.Copy(io.Discard, nc); err != nil {
		t.Fatalf("silent client: %v (not closed by the server)", err)
	}
	if el := time.Since(begin); el > 2*time.Second {
		t.Errorf("silent client closed after %v, want about HandshakeTimeout (100ms)", el)
	}
	d1 := open(t, path, "postfix", "secret", "m")
	if err := d1.Ping(); err != nil {
		t.Fatal(err)
	}
	err = open(t, path, "postfix", "secret", "m").Ping()
	var me *mysql.MySQLError
	if !errors.As(err, &me) || me.Number != 1040 {
		t.Fatalf("a second login over a cap of 1: %v, want error 1040", err)
	}
	var st mysqlfront.Stats
	for range 100 {
		if st = s.Stats(); st.HandshakeTimeouts == 1 && st.Open == 1 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	// d1 is logged in; the second login was refused with 1040 (database/sql
	// tries it up to 3 times), the wrong password counted, the silent client
	// timed out.
	if st.Open != 1 || st.Rejected < 1 || st.Accepted != 3 || st.FailedLogins != 1 || st.HandshakeTimeouts != 1 || st.Unauthenticated != 0 {
		t.Errorf("stats %+v", st)
	}
}

// TestServerUnauthenticatedDoNotTakeSlots: connections that never log in,
// more than MaxConns, leave every slot to clients that do.
func TestServerUnauthenticatedDoNotTakeSlots(t *testing.T) {
	tb := &table{}
	path := start(t, tb, func(s *mysqlfront.Server) { s.MaxConns = 2 })
	for range 10 {
		nc, err := net.Dial("unix", path)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
	}
	for i := range 2 {
		d := open(t, path, "postfix", "secret", "m")
		if got, err := rows(t, d, `'bob@example.jp'`); err != nil || len(got) != 1 {
			t.Errorf("client %d beside 10 unauthenticated connections: %q, %v", i, got, err)
		}
	}
}
