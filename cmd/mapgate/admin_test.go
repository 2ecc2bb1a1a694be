package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"mapgate/internal/mgproc"
	"mapgate/socketmap"
)

// TestServeCachePurge: with the cache on, a change is not seen until the
// entry is purged, over the admin socket (mapgate purge) or by SIGHUP.
func TestServeCachePurge(t *testing.T) {
	f := newFixture(t)
	sock := filepath.Join(f.dir, "admin.sock")
	cfgPath := filepath.Join(f.dir, "mapgate.cf")
	require.NoError(t, os.WriteFile(cfgPath, []byte("maps = virtual_alias="+f.cf+
		"\ncache_ttl = 1h\nadmin_socket = "+sock+"\n"), 0o644))
	maddr := freeAddr(t)
	p := mgproc.Start(t, f.bin, "serve", "--config", cfgPath, "--metrics-listen", maddr)
	c := dial(t, p.Addr)
	lookup := func(key string) socketmap.Reply {
		r, err := c.Lookup("virtual_alias", key)
		require.NoError(t, err)
		return r
	}
	purge := func(args ...string) (string, error) {
		out, err := exec.Command(f.bin, append([]string{"purge", "--config", cfgPath}, args...)...).CombinedOutput()
		return string(out), err
	}

	fi, err := os.Stat(sock)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), "the admin socket is the owner's only")

	require.Equal(t, socketmap.OK("bob@example.jp"), lookup("bob@example.jp"))
	f.db.MustExec(t, "UPDATE postfix.alias SET goto='v2@example.jp' WHERE address='bob@example.jp'")
	assert.Equal(t, socketmap.OK("bob@example.jp"), lookup("bob@example.jp"), "cached")

	out, err := purge("virtual_alias", "bob@example.jp")
	require.NoError(t, err, out)
	assert.Equal(t, "1 entries purged\n", out)
	assert.Equal(t, socketmap.OK("v2@example.jp"), lookup("bob@example.jp"), "purged")

	out, err = purge("no_such_map")
	assert.Error(t, err)
	assert.Contains(t, out, "no map")

	f.db.MustExec(t, "UPDATE postfix.alias SET goto='v3@example.jp' WHERE address='bob@example.jp'")
	assert.Equal(t, socketmap.OK("v2@example.jp"), lookup("bob@example.jp"), "cached")
	require.NoError(t, p.Signal(syscall.SIGHUP))
	waitLog(t, p, `msg=reloaded`, 1)
	assert.Contains(t, p.Log(), "answer cache cleared")
	assert.Equal(t, socketmap.OK("v3@example.jp"), lookup("bob@example.jp"), "SIGHUP clears the cache")

	m := scrape(t, maddr)
	assert.Positive(t, m[`mapgate_cache_total{event="miss",map="virtual_alias"}`])

	if os.Getuid() == 0 {
		// Another user cannot purge: the socket is 0600 (the directories
		// and the binary are opened up to show that it is the socket's
		// mode that refuses).
		pub := t.TempDir()
		for _, d := range []string{pub, filepath.Dir(pub), f.dir, filepath.Dir(f.dir)} {
			require.NoError(t, os.Chmod(d, 0o755))
		}
		bin, err := os.ReadFile(f.bin)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(pub, "mapgate"), bin, 0o755))
		cmd := exec.Command(filepath.Join(pub, "mapgate"), "purge", "--socket", sock)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		out, err := cmd.CombinedOutput()
		t.Logf("purge as uid 65534: %s %v", out, err)
		assert.Error(t, err)
		assert.Contains(t, string(out), "permission denied")
		assert.Equal(t, socketmap.OK("v3@example.jp"), lookup("bob@example.jp"))
	}
}
