package testpg

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
)

// TestServerLifecycle starts a private server, makes a LATIN1 database, reads
// a row back as the read-only role over TCP (scram-sha-256), is refused with a
// wrong password, and survives a kill and a restart on the same port.
func TestServerLifecycle(t *testing.T) {
	s := Start(t)
	require.NoError(t, s.CreateDB("l1", "LATIN1"))
	s.MustExec(t, "l1", `CREATE TABLE alias (address varchar(255) PRIMARY KEY, goto text NOT NULL);
		INSERT INTO alias VALUES ('josé@example.jp', 'jose@example.jp')`)
	require.NoError(t, s.GrantRead("l1"))

	query := func(conn string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, conn)
		if err != nil {
			return "", err
		}
		defer c.Close(ctx)
		var enc, got string
		if err := c.QueryRow(ctx, "SELECT pg_encoding_to_char(encoding) FROM pg_database WHERE datname = current_database()").Scan(&enc); err != nil {
			return "", err
		}
		require.Equal(t, "LATIN1", enc)
		err = c.QueryRow(ctx, "SELECT goto FROM alias WHERE address = $1", "josé@example.jp").Scan(&got)
		return got, err
	}
	got, err := query(s.UserConnString("l1"))
	require.NoError(t, err)
	require.Equal(t, "jose@example.jp", got)
	_, err = query("host=127.0.0.1 port=" + itoa(s.Port) + " user=postfix password=wrong dbname=l1 sslmode=disable")
	require.Error(t, err, "scram-sha-256 over TCP must refuse a wrong password")

	pid := s.PID()
	require.NoError(t, s.Kill())
	_, err = query(s.UserConnString("l1"))
	require.Error(t, err, "a killed server must not answer")

	require.NoError(t, s.Start())
	require.NotEqual(t, pid, s.PID())
	got, err = query(s.UserConnString("l1"))
	require.NoError(t, err)
	require.Equal(t, "jose@example.jp", got)

	require.NoError(t, s.Pause())
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	_, err = pgx.Connect(ctx, s.UserConnString("l1"))
	cancel()
	require.Error(t, err, "a paused server must not answer")
	require.NoError(t, s.Resume())
	got, err = query(s.UserConnString("l1"))
	require.NoError(t, err)
	require.Equal(t, "jose@example.jp", got)

	require.NoError(t, s.Stop())
	require.Zero(t, s.PID())
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestMain(m *testing.M) { Main(m) }
