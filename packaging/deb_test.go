// Package packaging holds the Debian package's pieces (nfpm.yaml, the
// maintainer scripts, copyright) and the test that installs and purges the
// package built by `make deb`.
package packaging

import (
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDebInstallPurge builds the package (make deb, or takes MAPGATE_DEB),
// installs it on this machine with dpkg -i, checks its files, the mapgate
// user and `mapgate version`, then purges it and checks that nothing is
// left: files, conffile, user, group, membership of group postfix, systemd
// enablement state. It needs root and dpkg, and is skipped without them; CI
// runs it as root. It refuses to touch a machine where mapgate is already
// installed or a mapgate user exists.
func TestDebInstallPurge(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and installs a .deb (not in -short)")
	}
	if os.Geteuid() != 0 {
		t.Skip("installing a .deb needs root (CI runs as root)")
	}
	for _, tool := range []string{"dpkg", "dpkg-query", "dpkg-deb"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not found: not a Debian machine", tool)
		}
	}
	if out, err := exec.Command("dpkg-query", "-W", "-f=${Status}", "mapgate").Output(); err == nil && strings.Contains(string(out), "installed") {
		t.Skipf("package mapgate is already installed here (%s); not touching it", out)
	}
	if _, err := user.Lookup("mapgate"); err == nil {
		t.Skip("a mapgate user already exists here (make install?); not touching it")
	}

	deb := os.Getenv("MAPGATE_DEB")
	if deb == "" {
		deb = filepath.Join(t.TempDir(), "mapgate.deb")
		make := exec.Command("make", "-C", "..", "deb", "DEB_OUT="+deb)
		out, err := make.CombinedOutput()
		require.NoError(t, err, "make deb:\n%s", out)
	}
	version := debField(t, deb, "Version")
	files := debFiles(t, deb)
	require.Contains(t, files, "/usr/bin/mapgate")

	// Purge even when a check fails; a failed purge is reported.
	t.Cleanup(func() {
		if out, err := dpkg("--purge", "mapgate"); err != nil {
			t.Errorf("cleanup: dpkg --purge mapgate: %v\n%s", err, out)
		}
	})
	out, err := dpkg("-i", deb)
	require.NoError(t, err, "dpkg -i:\n%s", out)
	// Again: the upgrade path of the maintainer scripts (postinst
	// configure with the old version), the conffile kept, the user reused.
	out, err = dpkg("-i", deb)
	require.NoError(t, err, "dpkg -i, a second time (upgrade path):\n%s", out)

	t.Run("lintian", func(t *testing.T) {
		lintian, err := exec.LookPath("lintian")
		if err != nil {
			t.Skip("lintian not installed (apt-get install lintian; make deb-lint)")
		}
		out, err := exec.Command(lintian, "-I", "-E", "--pedantic", deb).CombinedOutput()
		var tags []string
		for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			if l != "" && !strings.Contains(l, "running with root privileges") {
				tags = append(tags, l)
			}
		}
		assert.NoError(t, err, "%s", out)
		assert.Empty(t, tags, "lintian tags (explain each in packaging/lintian-overrides, or fix it)")
	})

	t.Run("files", func(t *testing.T) {
		for _, f := range files {
			_, err := os.Stat(f)
			assert.NoError(t, err, f)
		}
		mode := func(p string) os.FileMode {
			st, err := os.Stat(p)
			require.NoError(t, err, p)
			return st.Mode().Perm()
		}
		assert.Equal(t, os.FileMode(0o755), mode("/usr/bin/mapgate"))
		for _, p := range []string{"/lib/systemd/system/mapgate.service", "/lib/systemd/system/mapgate.socket",
			"/lib/systemd/system/mapgate-mysql.socket", "/lib/systemd/system/mapgate-pgsql.socket",
			"/etc/mapgate/mapgate.cf", "/usr/share/doc/mapgate/README.md", "/usr/share/doc/mapgate/alerts.yml",
			"/usr/share/doc/mapgate/copyright", "/usr/share/doc/mapgate/changelog.gz", "/usr/share/man/man8/mapgate.8.gz"} {
			assert.Equal(t, os.FileMode(0o644), mode(p), p)
		}
		conf, err := exec.Command("dpkg-query", "-W", "-f=${Conffiles}", "mapgate").Output()
		require.NoError(t, err)
		assert.Contains(t, string(conf), "/etc/mapgate/mapgate.cf", "a conffile")

		// The manual page is the installed binary's own `mapgate help man`.
		want, err := exec.Command("/usr/bin/mapgate", "help", "man").Output()
		require.NoError(t, err)
		assert.Equal(t, string(want), gunzip(t, "/usr/share/man/man8/mapgate.8.gz"), "mapgate.8.gz is mapgate help man")
	})

	t.Run("user", func(t *testing.T) {
		u, err := user.Lookup("mapgate")
		require.NoError(t, err, "postinst creates the mapgate user")
		uid, _ := strconv.Atoi(u.Uid)
		assert.Less(t, uid, 1000, "a system user")
		assert.Equal(t, "/nonexistent", u.HomeDir)
		_, err = os.Stat("/nonexistent")
		assert.ErrorIs(t, err, os.ErrNotExist, "no home directory created")
		g, err := user.LookupGroupId(u.Gid)
		require.NoError(t, err)
		assert.Equal(t, "mapgate", g.Name, "its own group")
		if pf, err := user.LookupGroup("postfix"); err == nil {
			gids, err := u.GroupIds()
			require.NoError(t, err)
			assert.Contains(t, gids, pf.Gid, "mapgate is in group postfix")
		}
	})

	t.Run("version", func(t *testing.T) {
		out, err := exec.Command("/usr/bin/mapgate", "version").Output()
		require.NoError(t, err)
		line := strings.TrimSpace(string(out))
		assert.Regexp(t, `^mapgate \S+`, line)
		t.Logf("package %s: %s", version, line)
		// The binary's version names the commit the package version names.
		if m := regexp.MustCompile(`\.([0-9a-f]{7,})$`).FindStringSubmatch(version); m != nil {
			assert.Contains(t, line, m[1][:7])
		}
	})

	out, err = dpkg("--purge", "mapgate")
	require.NoError(t, err, "dpkg --purge:\n%s", out)

	t.Run("nothing left", func(t *testing.T) {
		// Unknown to dpkg (empty), or known as not installed ("un", "pn");
		// never "rc" (config files left) or installed.
		st, _ := exec.Command("dpkg-query", "-W", "-f=${db:Status-Abbrev}", "mapgate").Output()
		abbrev := strings.TrimSpace(string(st))
		assert.True(t, abbrev == "" || strings.HasPrefix(abbrev, "un") || strings.HasPrefix(abbrev, "pn"),
			"dpkg status after purge: %q", abbrev)
		for _, f := range append(files, "/etc/mapgate", "/usr/share/doc/mapgate", "/var/spool/postfix/mapgate") {
			_, err := os.Lstat(f)
			assert.ErrorIs(t, err, os.ErrNotExist, "left behind: %s", f)
		}
		_, err := user.Lookup("mapgate")
		assert.Error(t, err, "user mapgate left behind")
		_, err = user.LookupGroup("mapgate")
		assert.Error(t, err, "group mapgate left behind")
		if grp, err := os.ReadFile("/etc/group"); err == nil {
			for _, l := range strings.Split(string(grp), "\n") {
				members := strings.Split(l[strings.LastIndexByte(l, ':')+1:], ",")
				assert.False(t, slices.Contains(members, "mapgate"), "mapgate still a member: %s", l)
			}
		}
		for _, pattern := range []string{"/etc/systemd/system/*mapgate*", "/etc/systemd/system/*/*mapgate*",
			"/var/lib/systemd/deb-systemd-helper-enabled/*mapgate*", "/var/lib/systemd/deb-systemd-helper-enabled/*/*mapgate*",
			"/var/lib/dpkg/info/mapgate.*"} {
			m, _ := filepath.Glob(pattern)
			assert.Empty(t, m, "left behind")
		}
	})
}

// dpkg runs dpkg non-interactively. Another dpkg or apt run holding the lock
// is waited for (a bounded number of times).
func dpkg(args ...string) ([]byte, error) {
	var out []byte
	var err error
	for try := 0; try < 60; try++ {
		cmd := exec.Command("dpkg", append([]string{"--force-confdef", "--force-confold"}, args...)...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		out, err = cmd.CombinedOutput()
		if err == nil || !bytes.Contains(out, []byte("lock")) {
			return out, err
		}
		time.Sleep(time.Second)
	}
	return out, err
}

func debField(t *testing.T, deb, field string) string {
	t.Helper()
	out, err := exec.Command("dpkg-deb", "-f", deb, field).Output()
	require.NoError(t, err)
	return strings.TrimSpace(string(out))
}

// debFiles lists the regular files in the package, as absolute paths.
func debFiles(t *testing.T, deb string) []string {
	t.Helper()
	out, err := exec.Command("dpkg-deb", "--fsys-tarfile", deb).Output()
	require.NoError(t, err)
	list := exec.Command("tar", "-t", "-v")
	list.Stdin = bytes.NewReader(out)
	tv, err := list.Output()
	require.NoError(t, err)
	var files []string
	for _, l := range strings.Split(string(tv), "\n") {
		if !strings.HasPrefix(l, "-") {
			continue
		}
		f := strings.Fields(l)
		files = append(files, strings.TrimPrefix(f[len(f)-1], "."))
	}
	return files
}

func gunzip(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	zr, err := gzip.NewReader(f)
	require.NoError(t, err)
	b, err := io.ReadAll(zr)
	require.NoError(t, err)
	return string(b)
}
