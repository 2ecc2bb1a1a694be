package audit

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"mapgate/internal/testdb"
	"mapgate/lookup"
	"mapgate/mysqlcf"
)

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func writeCF(t *testing.T, s *testdb.Server, db, query string, extra string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), db+".cf")
	text := fmt.Sprintf("hosts = %s\nuser = %s\npassword = %s\ndbname = %s\nquery = %s\n%s",
		s.Addr(), testdb.User, testdb.Password, db, query, extra)
	require.NoError(t, os.WriteFile(p, []byte(text), 0o600))
	return p
}

// TestFixStatementsWork runs the statements the audit proposes, as an admin
// would, and audits again: the double-encoded rows must match their UTF-8
// keys afterwards, the COMPACT table must convert (ROW_FORMAT=DYNAMIC
// first), and no probe may break the maps any more.
func TestFixStatementsWork(t *testing.T) {
	s := testdb.Start(t)
	s.MustExec(t, testdb.Schema("legacy", "latin1", "latin1_general_ci")+`
DELETE FROM legacy.alias WHERE address LIKE 'jos%';
INSERT INTO legacy.alias (address, goto, domain) VALUES
 (X'6A6F73C3A9406578616D706C652E6A70', 'jose@example.jp', 'example.jp'),
 (X'E381BBE38192406578616D706C652E6A70', 'hoge@example.jp', 'example.jp');
ALTER TABLE legacy.mailbox ROW_FORMAT=COMPACT;
`)
	ctx := testCtx(t)
	const qAlias = "SELECT goto FROM alias WHERE address='%s' AND active = '1'"
	const qMailbox = "SELECT maildir FROM mailbox WHERE username='%s' AND active = '1'"
	specs := []lookup.MapSpec{
		{Name: "alias", Paths: []string{writeCF(t, s, "legacy", qAlias, "charset = latin1\n")}},
		{Name: "mailbox", Paths: []string{writeCF(t, s, "legacy", qMailbox, "")}},
	}
	r := Maps(ctx, specs, Options{})
	require.Empty(t, r.Failures())
	require.True(t, r.AtRisk())
	require.Len(t, r.Fix, 2)

	var alias, mailbox *TableFix
	for _, f := range r.Fix {
		switch f.Table {
		case "alias":
			alias = f
		case "mailbox":
			mailbox = f
		}
	}
	require.NotNil(t, alias)
	require.NotNil(t, mailbox)
	assert.Contains(t, strings.Join(alias.Statements, "\n"), "VARBINARY(255)")
	assert.Equal(t, "ALTER TABLE `legacy`.`mailbox` ROW_FORMAT=DYNAMIC;", mailbox.Statements[0])

	// The conversion without ROW_FORMAT=DYNAMIC fails on the COMPACT
	// table, as the caveat says.
	err := s.Exec("CREATE TABLE legacy.compact_copy LIKE legacy.mailbox; ALTER TABLE legacy.compact_copy CONVERT TO CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci;")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "Error 1709")
	s.MustExec(t, "DROP TABLE IF EXISTS legacy.compact_copy")

	for _, f := range r.Fix {
		for _, st := range f.Statements {
			if strings.HasPrefix(st, "--") {
				continue
			}
			s.MustExec(t, st)
		}
	}

	// The rows written as UTF-8 through latin1 now match over utf8mb4.
	db, err := sql.Open("mysql", fmt.Sprintf("%s:%s@tcp(%s)/legacy?charset=utf8mb4", testdb.User, testdb.Password, s.Addr()))
	require.NoError(t, err)
	defer db.Close()
	for key, want := range map[string]string{"jos\u00e9@example.jp": "jose@example.jp", "\u307b\u3052@example.jp": "hoge@example.jp"} {
		var got string
		require.NoError(t, db.QueryRowContext(ctx, "SELECT goto FROM alias WHERE address = ?", key).Scan(&got), key)
		assert.Equal(t, want, got)
	}

	// And the audit is clean once the .cf says utf8mb4.
	specs[0].Paths = []string{writeCF(t, s, "legacy", qAlias, "charset = utf8mb4\n")}
	r = Maps(ctx, specs, Options{})
	require.Empty(t, r.Failures())
	assert.False(t, r.AtRisk())
	assert.Empty(t, r.Fix)
	for _, m := range r.Maps {
		for _, p := range m.Files[0].Probes {
			assert.False(t, p.Breaks, "%s %s", m.Name, p.Class)
		}
	}
}

func TestBinaryType(t *testing.T) {
	for in, want := range map[string]string{
		"varchar(255)": "VARBINARY(255)", "char(2)": "BINARY(2)", "text": "BLOB",
		"tinytext": "TINYBLOB", "mediumtext": "MEDIUMBLOB", "longtext": "LONGBLOB",
	} {
		got, ok := binaryType(in)
		assert.True(t, ok, in)
		assert.Equal(t, want, got, in)
	}
	_, ok := binaryType("enum('a','b')")
	assert.False(t, ok)
}

func TestColSuffix(t *testing.T) {
	cases := []struct {
		c    colMeta
		want string
	}{
		{colMeta{def: sql.NullString{String: "''", Valid: true}}, " NOT NULL DEFAULT ''"},
		{colMeta{nullable: true, def: sql.NullString{String: "NULL", Valid: true}}, " NULL DEFAULT NULL"},
		{colMeta{}, " NOT NULL"},
		{colMeta{def: sql.NullString{String: "it's", Valid: true}, comment: "a \\ b"}, ` NOT NULL DEFAULT 'it\'s' COMMENT 'a \\ b'`},
		{colMeta{def: sql.NullString{String: "1", Valid: true}}, " NOT NULL DEFAULT 1"},
	}
	for _, c := range cases {
		assert.Equal(t, c.want, colSuffix(&c.c))
	}
}

func TestMakeExample(t *testing.T) {
	e := makeExample([]byte("jos\xc3\xa9@x"))
	assert.Equal(t, `"jos\xc3\xa9@x"`, e.Bytes)
	assert.Equal(t, `"jos\u00e9@x"`, e.AsUTF8)
	e = makeExample([]byte("jos\xe9\"@x"))
	assert.Equal(t, `"jos\xe9\"@x"`, e.Bytes)
	assert.Empty(t, e.AsUTF8)
	e = makeExample([]byte(strings.Repeat("a", 100)))
	assert.True(t, strings.HasSuffix(e.Bytes, `"...(4 more bytes)`), e.Bytes)
}

func TestProbeKeyLabels(t *testing.T) {
	tmpl, err := mysqlcf.ParseQuery("SELECT x FROM t WHERE a='%3' AND b='%u'")
	require.NoError(t, err)
	for _, c := range probeClasses {
		key, args, ok := probeKey(c, tmpl, 10)
		require.True(t, ok, c.id)
		require.Len(t, args, 2)
		if c.id == "too_long" {
			assert.Equal(t, strings.Repeat("a", 11), args[1])
			continue
		}
		assert.Equal(t, c.sample, args[0], key)
		assert.Equal(t, c.sample, args[1], key)
	}
}
