package main

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"mapgate/internal/mgproc"
	"mapgate/internal/pfinst"
)

// TestServePgSQLFront: the binary with pgsql_listen serves Postfix's own
// pgsql: client (postmap) on a 0660 unix socket named as libpq names it,
// with the admin's .cf (a latin1 MariaDB table) behind it: found keys,
// absent and unrepresentable keys not found without an error, a good key
// after a bad one in one process; lookups counted with front="pgsql";
// a reload with a new pgsql_password refuses the old one and takes the
// new one.
func TestServePgSQLFront(t *testing.T) {
	f := newFixture(t)
	if err := pfinst.HasMapType("pgsql"); err != nil {
		t.Skip(err)
	}
	postmap, err := exec.LookPath("postmap")
	require.NoError(t, err, "postmap not installed: run make deps")
	maddr := freeAddr(t)
	sockDir := filepath.Join(f.dir, "pg")
	require.NoError(t, os.Mkdir(sockDir, 0o755))
	sock := filepath.Join(sockDir, ".s.PGSQL.5432")
	conf := filepath.Join(f.dir, "mapgate.conf")
	writeConf := func(pw string) {
		text := fmt.Sprintf("maps = virtual_alias=%s\npgsql_listen = unix:%s\npgsql_password = %s\nsocket_group = 0\nmetrics_listen = %s\n", f.cf, sock, pw, maddr)
		require.NoError(t, os.WriteFile(conf, []byte(text), 0o600))
	}
	writeConf("pw")
	p := mgproc.Start(t, f.bin, "serve", "--config", conf)
	st, err := os.Stat(sock)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o660), st.Mode().Perm())

	pfdir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(pfdir, "main.cf"), []byte("compatibility_level = 3.6\nsmtputf8_enable = no\n"), 0o644))
	frontCF := filepath.Join(pfdir, "front.cf")
	writeFront := func(pw string) {
		text := fmt.Sprintf("hosts = unix:%s\nuser = postfix\npassword = %s\ndbname = virtual_alias\nquery = '%%s'\n", sockDir, pw)
		require.NoError(t, os.WriteFile(frontCF, []byte(text), 0o644))
	}
	writeFront("pw")
	q := func(key, stdin string) (string, string) {
		cmd := exec.Command(postmap, "-c", pfdir, "-q", key, "pgsql:"+frontCF)
		cmd.Stdin = strings.NewReader(stdin)
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		_ = cmd.Run()
		return out.String(), errOut.String()
	}
	for range 3 {
		out, errOut := q("bob@example.jp", "")
		assert.Equal(t, "bob@example.jp\n", out, errOut)
	}
	for _, k := range []string{"nobody@example.jp", "ほげ@example.jp", "😀@example.jp", "\xff@example.jp", "o'brien\\@example.jp"} {
		out, errOut := q(k, "")
		assert.Empty(t, out, k)
		assert.Empty(t, errOut, "%q: no error", k)
	}
	out, errOut := q("-", "ほげ@example.jp\nbob@example.jp\n😀@example.jp\nalice@example.jp\n")
	assert.Equal(t, "bob@example.jp\tbob@example.jp\nalice@example.jp\talice@example.jp,alice@example.com\n", out, errOut)

	m := scrape(t, maddr)
	assert.Equal(t, 5.0, m[`mapgate_lookups_total{front="pgsql",map="virtual_alias",result="ok"}`])
	assert.Equal(t, 7.0, m[`mapgate_lookups_total{front="pgsql",map="virtual_alias",result="notfound"}`])
	assert.Zero(t, m[`mapgate_lookups_total{front="socketmap",map="virtual_alias",result="ok"}`])
	assert.Equal(t, 9.0, m[`mapgate_pgsql_connections_accepted_total`])
	assert.Zero(t, m[`mapgate_pgsql_logins_failed_total`])

	// A reload applies a new password to new logins.
	writeConf("pw2")
	require.NoError(t, p.Signal(syscall.SIGHUP))
	waitLog(t, p, "PostgreSQL front: new logins need the new pgsql_user and pgsql_password", 1)
	out, errOut = q("bob@example.jp", "")
	assert.Empty(t, out)
	assert.Contains(t, errOut, "password authentication failed")
	writeFront("pw2")
	out, errOut = q("bob@example.jp", "")
	assert.Equal(t, "bob@example.jp\n", out, errOut)
	m = scrape(t, maddr)
	assert.Equal(t, 1.0, m[`mapgate_pgsql_logins_failed_total`])
}

// TestServeSocketActivatedPgSQL: a socket systemd passes with
// FileDescriptorName=pgsql is served by the PostgreSQL front (Postfix's
// pgsql: client is answered there), the other one by socketmap.
func TestServeSocketActivatedPgSQL(t *testing.T) {
	f := newFixture(t)
	if err := pfinst.HasMapType("pgsql"); err != nil {
		t.Skip(err)
	}
	postmap, err := exec.LookPath("postmap")
	require.NoError(t, err, "postmap not installed: run make deps")
	sockDir := filepath.Join(f.dir, "pg")
	require.NoError(t, os.Mkdir(sockDir, 0o755))
	smSock, pgSock := filepath.Join(f.dir, "mapgate.sock"), filepath.Join(sockDir, ".s.PGSQL.5432")
	var socks []mgproc.Inherited
	for _, s := range []struct{ name, path string }{{"mapgate", smSock}, {"pgsql", pgSock}} {
		ul, err := net.ListenUnix("unix", &net.UnixAddr{Name: s.path, Net: "unix"})
		require.NoError(t, err)
		defer ul.Close()
		uf, err := ul.File()
		require.NoError(t, err)
		defer uf.Close()
		socks = append(socks, mgproc.Inherited{Name: s.name, File: uf})
	}
	mgproc.StartActivated(t, f.bin, socks, "serve", "--map", "virtual_alias="+f.cf, "--set", "pgsql_password=pw")
	pfdir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(pfdir, "main.cf"), nil, 0o644))
	frontCF := filepath.Join(pfdir, "front.cf")
	require.NoError(t, os.WriteFile(frontCF, []byte("hosts = unix:"+sockDir+"\nuser = postfix\npassword = pw\ndbname = virtual_alias\nquery = '%s'\n"), 0o644))
	out, err := exec.Command(postmap, "-c", pfdir, "-q", "bob@example.jp", "pgsql:"+frontCF).CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.Equal(t, "bob@example.jp\n", string(out), "the socket named pgsql is the PostgreSQL front")
	out, err = exec.Command(postmap, "-c", pfdir, "-q", "bob@example.jp", "socketmap:unix:"+smSock+":virtual_alias").CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.Equal(t, "bob@example.jp\n", string(out), "the other socket is socketmap")
}
