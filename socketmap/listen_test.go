package socketmap_test

import (
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"mapgate/socketmap"
)

func TestParseSpec(t *testing.T) {
	t.Parallel()
	tests := []struct {
		spec, network, address string
		bad                    bool
	}{
		{"inet:127.0.0.1:10025", "tcp", "127.0.0.1:10025", false},
		{"127.0.0.1:10025", "tcp", "127.0.0.1:10025", false},
		{"localhost:0", "tcp", "localhost:0", false},
		{"inet:[::1]:10025", "tcp", "[::1]:10025", false},
		{"[::1]:10025", "tcp", "[::1]:10025", false},
		{":10025", "tcp", ":10025", false},
		{"unix:/run/mapgate/map.sock", "unix", "/run/mapgate/map.sock", false},
		{"unix:", "", "", true},
		{"inet:127.0.0.1", "", "", true},
		{"127.0.0.1:", "", "", true},
		{"/run/x.sock", "", "", true},
		{"", "", "", true},
	}
	for _, tt := range tests {
		network, address, err := socketmap.ParseSpec(tt.spec)
		if tt.bad {
			assert.Error(t, err, tt.spec)
			continue
		}
		require.NoError(t, err, tt.spec)
		assert.Equal(t, tt.network, network, tt.spec)
		assert.Equal(t, tt.address, address, tt.spec)
	}
}

func TestListen_tcp(t *testing.T) {
	t.Parallel()
	l, err := socketmap.Listen("inet:127.0.0.1:0", socketmap.UnixOptions{})
	require.NoError(t, err)
	ts := serveOn(t, l, &recorder{})
	cl, err := socketmap.Dial("inet:" + ts.addr)
	require.NoError(t, err)
	defer cl.Close()
	r, err := cl.Lookup("m", "k")
	require.NoError(t, err)
	assert.Equal(t, socketmap.OK("m|k"), r)
}

func sockPath(t *testing.T) string { return filepath.Join(t.TempDir(), "map.sock") }

func lookupOver(t *testing.T, spec string) socketmap.Reply {
	t.Helper()
	cl, err := socketmap.Dial(spec)
	require.NoError(t, err)
	defer cl.Close()
	cl.Timeout = testBound
	r, err := cl.Lookup("m", "k")
	require.NoError(t, err)
	return r
}

func TestListen_unixDefaultModeAndRemovedOnClose(t *testing.T) {
	t.Parallel()
	path := sockPath(t)
	l, err := socketmap.Listen("unix:"+path, socketmap.UnixOptions{})
	require.NoError(t, err)
	fi, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, fs.ModeSocket, fi.Mode().Type())
	assert.Equal(t, socketmap.DefaultSocketMode, fi.Mode().Perm())

	ts := serveOn(t, l, &recorder{})
	assert.Equal(t, socketmap.OK("m|k"), lookupOver(t, "unix:"+path))
	require.NoError(t, ts.Close())
	<-ts.served
	ts.served <- socketmap.ErrServerClosed
	_, err = os.Lstat(path)
	assert.ErrorIs(t, err, fs.ErrNotExist, "socket file removed on close")
}

func TestListen_unixModeAndOwnerApplied(t *testing.T) {
	t.Parallel()
	path := sockPath(t)
	uo := socketmap.UnixOptions{
		Mode:  0o620,
		Owner: strconv.Itoa(os.Getuid()),
		Group: strconv.Itoa(os.Getgid()),
	}
	l, err := socketmap.Listen("unix:"+path, uo)
	require.NoError(t, err)
	defer l.Close()
	fi, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o620), fi.Mode().Perm())
}

func TestListen_unixUnknownOwner(t *testing.T) {
	t.Parallel()
	path := sockPath(t)
	_, err := socketmap.Listen("unix:"+path, socketmap.UnixOptions{Owner: "no-such-user-mapgate"})
	require.Error(t, err)
	_, err = socketmap.Listen("unix:"+path, socketmap.UnixOptions{Group: "no-such-group-mapgate"})
	require.Error(t, err)
	_, err = os.Lstat(path)
	assert.ErrorIs(t, err, fs.ErrNotExist, "nothing left behind")
}

func TestListen_unixStaleSocketReplaced(t *testing.T) {
	t.Parallel()
	path := sockPath(t)
	stale, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	require.NoError(t, err)
	stale.SetUnlinkOnClose(false)
	require.NoError(t, stale.Close()) // leaves a socket file nobody listens on

	l, err := socketmap.Listen("unix:"+path, socketmap.UnixOptions{})
	require.NoError(t, err)
	serveOn(t, l, &recorder{})
	assert.Equal(t, socketmap.OK("m|k"), lookupOver(t, "unix:"+path))
}

func TestListen_unixLiveSocketNotStolen(t *testing.T) {
	t.Parallel()
	path := sockPath(t)
	l, err := socketmap.Listen("unix:"+path, socketmap.UnixOptions{})
	require.NoError(t, err)
	serveOn(t, l, &recorder{})

	_, err = socketmap.Listen("unix:"+path, socketmap.UnixOptions{})
	require.ErrorIs(t, err, socketmap.ErrSocketInUse)
	assert.Equal(t, socketmap.OK("m|k"), lookupOver(t, "unix:"+path), "first server still reachable")
}

func TestListen_unixRegularFileNotRemoved(t *testing.T) {
	t.Parallel()
	path := sockPath(t)
	require.NoError(t, os.WriteFile(path, []byte("precious"), 0o600))
	_, err := socketmap.Listen("unix:"+path, socketmap.UnixOptions{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "not a socket")
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, "precious", string(b))
}
