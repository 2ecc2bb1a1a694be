package testdb

import (
	"database/sql"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestServerLifecycle starts a private server, loads the latin1 schema, reads
// a row back as the read-only user over TCP, and survives a kill and restart.
func TestServerLifecycle(t *testing.T) {
	s := Start(t)
	s.MustExec(t, Schema("postfix", "latin1", "latin1_general_ci"))

	dsn := User + ":" + Password + "@tcp(" + s.Addr() + ")/postfix?charset=utf8mb4"
	query := func() (string, error) {
		db, err := sql.Open("mysql", dsn)
		require.NoError(t, err)
		defer db.Close()
		var got string
		err = db.QueryRow("SELECT goto FROM alias WHERE address = ?", "josé@example.jp").Scan(&got)
		return got, err
	}
	got, err := query()
	require.NoError(t, err)
	require.Equal(t, "jose@example.jp", got)

	require.NoError(t, s.Kill())
	_, err = query()
	require.Error(t, err, "a killed server must not answer")

	require.NoError(t, s.Start())
	got, err = query()
	require.NoError(t, err)
	require.Equal(t, "jose@example.jp", got)
}
