package pgsqlcf

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"mapgate/internal/testpg"
)

// blackoutSchema is a small alias table and an integer-keyed table; rows
// whose text the database encoding cannot hold are left out of LATIN1.
func blackoutSchema(latin1 bool) string {
	rows := []string{"bob@example.net", "josé@example.jp", "ångström@example.net"}
	if !latin1 {
		rows = append(rows, "ユーザー@example.net", "ほげ@example.jp")
	}
	var b strings.Builder
	b.WriteString("CREATE TABLE alias (address varchar(255) PRIMARY KEY, goto text NOT NULL);\n")
	b.WriteString("CREATE TABLE quota (id integer PRIMARY KEY, bytes bigint NOT NULL);\n")
	b.WriteString("INSERT INTO quota VALUES (1, 1024);\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "INSERT INTO alias VALUES ('%s', 'found:%s');\n", r, r)
	}
	return b.String()
}

// blackoutServer starts a private PostgreSQL with a LATIN1 database "l1"
// and a UTF8 database "u8", each with blackoutSchema.
func blackoutServer(t *testing.T) *testpg.Server {
	s := testpg.Start(t)
	for db, latin1 := range map[string]bool{"l1": true, "u8": false} {
		enc := "UTF8"
		if latin1 {
			enc = "LATIN1"
		}
		require.NoError(t, s.CreateDB(db, enc))
		s.MustExec(t, db, blackoutSchema(latin1))
		require.NoError(t, s.GrantRead(db))
	}
	return s
}

func sqlstate(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

// TestBlackoutSQLSTATEs shows what a key alone does to a client that sets
// client_encoding = UTF8 as Postfix 3.8 and later do: the server fails the
// statement, with the SQLSTATE below, where Postfix's dict_pgsql.c downs the
// host for retry_interval. The same key fails both the way Postfix sends it
// (spliced into the text, simple query protocol) and bound as a parameter
// (extended protocol): binding alone does not avoid it. The connection
// stays usable after each error: the error is the statement's, not the
// host's.
func TestBlackoutSQLSTATEs(t *testing.T) {
	s := blackoutServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	conns := map[string]*pgx.Conn{}
	for _, db := range []string{"l1", "u8"} {
		cfg, err := pgx.ParseConfig(s.UserConnString(db))
		require.NoError(t, err)
		cfg.RuntimeParams["client_encoding"] = "UTF8"
		c, err := pgx.ConnectConfig(ctx, cfg)
		require.NoError(t, err)
		defer c.Close(context.Background())
		var enc string
		require.NoError(t, c.QueryRow(ctx, "SHOW client_encoding").Scan(&enc))
		require.Equal(t, "UTF8", enc)
		conns[db] = c
	}

	const aliasQ = "SELECT goto FROM alias WHERE address = '%s'"
	const quotaQ = "SELECT bytes FROM quota WHERE id = '%s'"
	for _, tc := range []struct {
		db, query, key string
		state          string // "" = no error
		found          bool
	}{
		{"l1", aliasQ, "ほげ@example.jp", "22P05", false},            // untranslatable_character
		{"l1", aliasQ, "😀@example.jp", "22P05", false},             // untranslatable_character
		{"l1", aliasQ, "\xff@example.jp", "22021", false},          // character_not_in_repertoire
		{"u8", aliasQ, "\xe9@example.jp", "22021", false},          // Latin-1 bytes, not UTF-8
		{"l1", quotaQ, "bob@example.net", "22P02", false},          // invalid_text_representation
		{"u8", quotaQ, "bob@example.net", "22P02", false},          // invalid_text_representation
		{"u8", quotaQ, "1", "", true},                              // a number is fine
		{"l1", aliasQ, strings.Repeat("a", 300) + "@x", "", false}, // longer than varchar(255): no error
		{"l1", aliasQ, "ångström@example.net", "", true},           // Latin-1 holds it: converted, found
		{"l1", aliasQ, "josé@example.jp", "", true},
		{"u8", aliasQ, "ユーザー@example.net", "", true},
		{"u8", aliasQ, "ほげ@example.jp", "", true},
	} {
		tpl, err := ParseQuery(tc.query)
		require.NoError(t, err)
		args, ok := tpl.Expand(tc.key, nil)
		require.True(t, ok)
		c := conns[tc.db]
		name := fmt.Sprintf("%s %q %q", tc.db, tc.query, tc.key)

		// As Postfix sends it: the key escaped into the text, simple protocol.
		text := strings.Replace(tc.query, "%s", strings.ReplaceAll(tc.key, "'", "''"), 1)
		res, err := c.PgConn().Exec(ctx, text).ReadAll()
		if err == nil && len(res) == 1 {
			err = res[0].Err
		}
		require.Equal(t, tc.state, sqlstate(err), "simple protocol, %s: %v", name, err)
		if tc.state == "" {
			require.NoError(t, err, name)
			require.Equal(t, tc.found, len(res[0].Rows) == 1, name)
		}

		// Bound ($1), parameter untyped and in text format: the server
		// infers its type as it does for Postfix's '…' literal.
		rr := c.PgConn().ExecParams(ctx, tpl.SQL, [][]byte{[]byte(args[0].(string))}, nil, nil, nil)
		n := 0
		for rr.NextRow() {
			n++
		}
		_, err = rr.Close()
		require.Equal(t, tc.state, sqlstate(err), "bound, %s: %v", name, err)
		if tc.state == "" {
			require.Equal(t, tc.found, n == 1, name)
		}

		// The connection is still good.
		var one int
		require.NoError(t, c.QueryRow(ctx, "SELECT 1").Scan(&one), "after %s", name)
	}

	// NUL: PostgreSQL text cannot hold it (Postfix's C strings cannot send
	// it; a bound parameter can, and the server refuses it).
	rr := conns["u8"].PgConn().ExecParams(ctx, "SELECT goto FROM alias WHERE address = $1", [][]byte{[]byte("bob\x00@example.net")}, nil, nil, nil)
	_, err := rr.Close()
	require.Equal(t, "22021", sqlstate(err), "NUL: %v", err)
}

// postfixVersion is `postconf -d mail_version`, split into major and minor.
func postfixVersion(t *testing.T) (int, int) {
	out, err := exec.Command("postconf", "-d", "-h", "mail_version").Output()
	require.NoError(t, err, "postconf not installed: run make deps")
	parts := strings.SplitN(strings.TrimSpace(string(out)), ".", 3)
	require.GreaterOrEqual(t, len(parts), 2)
	major, _ := strconv.Atoi(parts[0])
	minor, _ := strconv.Atoi(parts[1])
	return major, minor
}

// postmapQuery is Postfix's own `postmap -q key pgsql:cf`: the value, and
// postmap's exit status (0 found, 1 not found).
func postmapQuery(t *testing.T, conf, cf, key string) (string, int, string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "postmap", "-c", conf, "-q", key, "pgsql:"+cf)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else {
		require.NoError(t, err)
	}
	return strings.TrimRight(o.String(), "\n"), code, e.String()
}

// TestPostfix37Answers asks Postfix's own pgsql: client (3.7 and older hard-
// wire client_encoding LATIN1). An internationalized address that exists in
// a UTF8 database is not found, with no error at all: a wrong 550 for real
// mail. A non-Latin-1 key in a LATIN1 database is no error either (its
// bytes are read as Latin-1 characters). The integer column fails on any
// version (22P02): postmap reports a lookup error.
func TestPostfix37Answers(t *testing.T) {
	if _, err := exec.LookPath("postmap"); err != nil {
		t.Skip("postmap not installed: run make deps")
	}
	if major, minor := postfixVersion(t); major > 3 || major == 3 && minor >= 8 {
		t.Skipf("Postfix %d.%d sets client_encoding UTF8: this test is about 3.7 and older", major, minor)
	}
	s := blackoutServer(t)
	conf := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(conf, "main.cf"), nil, 0o644))
	writeMap := func(db, query string) string {
		p := filepath.Join(conf, db+"-"+strconv.Itoa(len(query))+".cf")
		text := fmt.Sprintf("hosts = inet:127.0.0.1:%d\nuser = %s\npassword = %s\ndbname = %s\nquery = %s\n", s.Port, testpg.User, testpg.Password, db, query)
		require.NoError(t, os.WriteFile(p, []byte(text), 0o600))
		_, err := Parse(p)
		require.NoError(t, err)
		return p
	}
	alias := map[string]string{
		"u8": writeMap("u8", "SELECT goto FROM alias WHERE address = '%s'"),
		"l1": writeMap("l1", "SELECT goto FROM alias WHERE address = '%s'"),
	}
	quota := writeMap("u8", "SELECT bytes FROM quota WHERE id = '%s'")

	for _, tc := range []struct {
		db, key, value string
		code           int
	}{
		{"u8", "bob@example.net", "found:bob@example.net", 0},
		{"u8", "ユーザー@example.net", "", 1}, // exists: a wrong "not found"
		{"u8", "ångström@example.net", "", 1},
		{"u8", "josé@example.jp", "", 1},
		{"l1", "bob@example.net", "found:bob@example.net", 0},
		{"l1", "josé@example.jp", "", 1}, // exists in LATIN1 too: the UTF-8 bytes are two Latin-1 characters
		{"l1", "ほげ@example.jp", "", 1},   // no 22P05 on 3.7
	} {
		got, code, stderr := postmapQuery(t, conf, alias[tc.db], tc.key)
		t.Logf("postmap -q %q pgsql:(%s) -> exit %d %q %s", tc.key, tc.db, code, got, strings.TrimSpace(stderr))
		require.Equal(t, tc.code, code, "%s %q: %s", tc.db, tc.key, stderr)
		require.Equal(t, tc.value, got, "%s %q", tc.db, tc.key)
		require.NotContains(t, stderr, "warning", "%s %q: no error on 3.7", tc.db, tc.key)
	}
	// The same keys through a UTF-8 client (what mapgate speaks) are found.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, s.UserConnString("u8"))
	require.NoError(t, err)
	defer c.Close(context.Background())
	for _, key := range []string{"ユーザー@example.net", "ångström@example.net", "josé@example.jp"} {
		var got string
		require.NoError(t, c.QueryRow(ctx, "SELECT goto FROM alias WHERE address = $1", key).Scan(&got), key)
		require.Equal(t, "found:"+key, got)
	}

	// A non-numeric key against an integer column: an error on any
	// version (the server's 22P02), which downs the host.
	got, code, stderr := postmapQuery(t, conf, quota, "bob@example.net")
	t.Logf("postmap -q bob@example.net pgsql:(integer id) -> exit %d %q %s", code, got, strings.TrimSpace(stderr))
	require.NotEqual(t, 0, code)
	require.Empty(t, got)
	require.Contains(t, stderr, "warning", "the query failed")
	got, code, _ = postmapQuery(t, conf, quota, "1")
	require.Equal(t, 0, code)
	require.Equal(t, "1024", got)
}

// TestHostForms: each form of hosts reaches the server the way Postfix's
// own client does, and Host says where: a unix: socket directory (libpq
// then uses .s.PGSQL.5432 in it), a bare host:port, and a postgresql://
// URI, which overrides the file's dbname (set to a database that does not
// exist here).
func TestHostForms(t *testing.T) {
	if _, err := exec.LookPath("postmap"); err != nil {
		t.Skip("postmap not installed: run make deps")
	}
	tcp := blackoutServer(t)
	sock := testpg.StartSocketOnly(t)
	require.NoError(t, sock.CreateDB("u8", "UTF8"))
	sock.MustExec(t, "u8", blackoutSchema(false))
	require.NoError(t, sock.GrantRead("u8"))

	conf := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(conf, "main.cf"), nil, 0o644))
	for i, tc := range []struct {
		hosts, dbname string
		kind          HostKind
		addr          string
	}{
		{"unix:" + sock.SocketDir, "u8", Unix, sock.SocketPath()},
		{sock.SocketDir, "u8", Unix, sock.SocketPath()},
		{fmt.Sprintf("127.0.0.1:%d", tcp.Port), "u8", TCP, tcp.Addr()},
		{fmt.Sprintf("postgresql://%s:%s@127.0.0.1:%d/u8", testpg.User, testpg.Password, tcp.Port), "nosuchdb", URI, ""},
	} {
		p := filepath.Join(conf, fmt.Sprintf("h%d.cf", i))
		text := fmt.Sprintf("hosts = %s\nuser = %s\npassword = %s\ndbname = %s\nquery = SELECT goto FROM alias WHERE address = '%%s'\n", tc.hosts, testpg.User, testpg.Password, tc.dbname)
		require.NoError(t, os.WriteFile(p, []byte(text), 0o600))
		cf, err := Parse(p)
		require.NoError(t, err)
		require.Len(t, cf.Hosts, 1)
		h := cf.Hosts[0]
		require.Equal(t, tc.kind, h.Kind, tc.hosts)
		require.Equal(t, tc.addr, h.Addr(), tc.hosts)

		got, code, stderr := postmapQuery(t, conf, p, "bob@example.net")
		require.Equal(t, 0, code, "%s: %s", tc.hosts, stderr)
		require.Equal(t, "found:bob@example.net", got, tc.hosts)

		// pgx with ConnString reaches the same database, and speaks UTF-8.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		c, err := pgx.Connect(ctx, cf.ConnString(h))
		require.NoError(t, err, cf.ConnString(h))
		require.NoError(t, c.QueryRow(ctx, "SELECT goto FROM alias WHERE address = $1", "ユーザー@example.net").Scan(&got))
		require.Equal(t, "found:ユーザー@example.net", got)
		c.Close(ctx)
		cancel()

		if h.Kind == URI {
			user, password, db, err := h.URIFields()
			require.NoError(t, err)
			require.Equal(t, []string{testpg.User, testpg.Password, "u8"}, []string{user, password, db})
		}
	}
}
