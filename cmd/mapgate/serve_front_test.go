package main

import (
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"mapgate/internal/mgproc"
)

// TestServeMySQLFront: the binary with mysql_listen answers a MySQL client
// on a 0660 unix socket with the admin's .cf behind it, and counts its
// lookups with front="mysql".
func TestServeMySQLFront(t *testing.T) {
	f := newFixture(t)
	maddr := freeAddr(t)
	sock := filepath.Join(f.dir, "front.sock")
	mgproc.Start(t, f.bin, "serve", "--map", "virtual_alias="+f.cf, "--metrics-listen", maddr,
		"--set", "mysql_listen=unix:"+sock, "--set", "mysql_password=pw", "--set", "socket_group=0")
	st, err := os.Stat(sock)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o660), st.Mode().Perm())

	cfg := mysql.NewConfig()
	cfg.Net, cfg.Addr, cfg.User, cfg.Passwd, cfg.DBName = "unix", sock, "postfix", "pw", "virtual_alias"
	cfg.Timeout = 5 * time.Second
	db, err := sql.Open("mysql", cfg.FormatDSN())
	require.NoError(t, err)
	defer db.Close()
	one := func(stmt string) ([]string, error) {
		rows, err := db.Query(stmt)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		var out []string
		for rows.Next() {
			var v string
			require.NoError(t, rows.Scan(&v))
			out = append(out, v)
		}
		return out, rows.Err()
	}
	for range 3 {
		got, err := one(`'bob@example.jp'`)
		require.NoError(t, err)
		assert.Equal(t, []string{"bob@example.jp"}, got)
	}
	for _, k := range []string{`'nobody@example.jp'`, `'ほげ@example.jp'`, `'bob+tag@example.jp'`} {
		got, err := one(k)
		require.NoError(t, err, k)
		assert.Empty(t, got, "%s: the front runs no address search of its own", k)
	}
	_, err = one(`SELECT goto FROM alias`)
	var me *mysql.MySQLError
	require.True(t, errors.As(err, &me), "%v", err)
	assert.Equal(t, uint16(1064), me.Number)

	m := scrape(t, maddr)
	assert.Equal(t, 3.0, m[`mapgate_lookups_total{front="mysql",map="virtual_alias",result="ok"}`])
	assert.Equal(t, 3.0, m[`mapgate_lookups_total{front="mysql",map="virtual_alias",result="notfound"}`])
	assert.Zero(t, m[`mapgate_lookups_total{front="socketmap",map="virtual_alias",result="ok"}`])

	// The database gone: where socketmap answers TEMP, an error packet
	// (Postfix: 451, retry), never an empty result.
	require.NoError(t, f.db.Stop())
	_, err = one(`'bob@example.jp'`)
	require.True(t, errors.As(err, &me), "database down: %v, want an error packet", err)
	assert.Contains(t, me.Message, "temporary")
	// A key that cannot match is still answered without the database.
	got, err := one(`'ほげ@example.jp'`)
	require.NoError(t, err)
	assert.Empty(t, got)
	require.NoError(t, f.db.Start())
	require.Eventually(t, func() bool {
		got, err := one(`'bob@example.jp'`)
		return err == nil && len(got) == 1
	}, 30*time.Second, 200*time.Millisecond, "the front answers again once the database is back")
}
