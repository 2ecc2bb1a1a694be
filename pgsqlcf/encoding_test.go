package pgsqlcf

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"mapgate/internal/testpg"
)

// TestEncodingRules measures, for a client speaking UTF-8 and the key
// bound as a parameter, which keys each database encoding refuses. The
// server checks the whole statement, wherever the parameter sits: the
// same SQLSTATE comes from a comparison, a select list and a function
// argument. PostgreSQL's LATIN1 is ISO-8859-1 (no €, but U+0080-U+009F),
// its WIN1252 is Microsoft's code page 1252 with five bytes undefined
// (€, but no U+0081), SQL_ASCII converts nothing but still checks that
// the client's bytes are UTF-8.
func TestEncodingRules(t *testing.T) {
	s := testpg.Start(t)
	encs := []string{"LATIN1", "WIN1252", "SQL_ASCII", "EUC_JP", "UTF8"}
	conns := map[string]*pgconn.PgConn{}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for _, enc := range encs {
		db := strings.ToLower(enc)
		require.NoError(t, s.CreateDB(db, enc))
		s.MustExec(t, db, "CREATE TABLE t (k varchar(64) PRIMARY KEY, n integer NOT NULL); INSERT INTO t VALUES ('bob', 1)")
		require.NoError(t, s.GrantRead(db))
		c, err := pgconn.Connect(ctx, s.UserConnString(db))
		require.NoError(t, err)
		defer c.Close(context.Background())
		conns[enc] = c
	}
	queries := []string{
		"SELECT n FROM t WHERE k = $1",
		"SELECT $1::text",
		"SELECT length($1)",
		"SELECT n FROM t WHERE k = 'bob' OR $1 = 'x'",
	}
	// want[key] lists the SQLSTATE for each of encs ("" = answered).
	want := map[string][5]string{
		"bob":          {"", "", "", "", ""},
		"josé":         {"", "", "", "", ""},
		"€uro":         {"22P05", "", "", "22P05", ""},
		"\u0081":       {"", "22P05", "", "22P05", ""},
		"ほげ":           {"22P05", "22P05", "", "", ""},
		"😀":            {"22P05", "22P05", "", "22P05", ""},
		"\xe9":         {"22021", "22021", "22021", "22021", "22021"},
		"a\x00b":       {"22021", "22021", "22021", "22021", "22021"},
		"\xed\xa0\x80": {"22021", "22021", "22021", "22021", "22021"}, // a UTF-16 surrogate in UTF-8 form
	}
	for key, states := range want {
		for i, enc := range encs {
			for _, q := range queries {
				rr := conns[enc].ExecParams(ctx, q, [][]byte{[]byte(key)}, nil, nil, nil)
				for rr.NextRow() {
				}
				_, err := rr.Close()
				assert.Equal(t, states[i], sqlstate(err), "%s %q %q", enc, q, key)
			}
		}
	}
	// A key that is not a number against an integer: 22P02 in every encoding.
	for _, enc := range encs {
		rr := conns[enc].ExecParams(ctx, "SELECT k FROM t WHERE n = $1", [][]byte{[]byte("bob@example.net")}, nil, nil, nil)
		_, err := rr.Close()
		require.Equal(t, "22P02", sqlstate(err), fmt.Sprintf("%s: %v", enc, err))
	}
}
