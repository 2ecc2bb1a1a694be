package mgproc

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"mapgate/internal/testdb"
	"mapgate/socketmap"
)

func TestMain(m *testing.M) {
	code := m.Run()
	RemoveBuild()
	os.Exit(code)
}

// TestStartStop builds the binary, runs it against a database that is not
// there (every lookup is TEMP, never NOTFOUND), and stops it with SIGTERM.
func TestStartStop(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the mapgate binary; skipped with -short")
	}
	bin := Build(t)
	if again := Build(t); again != bin {
		t.Fatalf("Build built twice: %s, %s", bin, again)
	}
	port, err := testdb.FreePort() // nothing listens there
	if err != nil {
		t.Fatal(err)
	}
	cf := filepath.Join(t.TempDir(), "alias.cf")
	if err := os.WriteFile(cf, []byte("hosts = 127.0.0.1:"+strconv.Itoa(port)+"\nuser = u\npassword = p\ndbname = d\n"+
		"query = SELECT goto FROM alias WHERE address='%s'\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p := Start(t, bin, "serve", "--map", "virtual_alias="+cf)
	if !strings.HasPrefix(p.Addr, "127.0.0.1:") {
		t.Fatalf("Addr = %q", p.Addr)
	}
	c, err := socketmap.Dial("inet:" + p.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Timeout = 30 * time.Second
	r, err := c.Lookup("virtual_alias", "bob@example.jp")
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != socketmap.StatusTemp && r.Status != socketmap.StatusTimeout {
		t.Errorf("lookup with the database down: %v, want TEMP or TIMEOUT", r)
	}

	if err := p.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	code, err := p.Wait(StopTimeout)
	if err != nil {
		t.Fatalf("after SIGTERM: %v\n%s", err, p.Log())
	}
	if code != 0 {
		t.Errorf("exit code %d after SIGTERM, want 0\n%s", code, p.Log())
	}
	if !strings.Contains(p.Log(), readyMsg) {
		t.Errorf("log lacks %s:\n%s", readyMsg, p.Log())
	}
	if err := p.Signal(syscall.SIGTERM); err == nil {
		t.Error("Signal after exit: no error")
	}
}

func TestStartFailsOnBadArgs(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the mapgate binary; skipped with -short")
	}
	bin := Build(t)
	_, err := start(bin, []string{"serve", "--map", "x=/nonexistent/x.cf"})
	if err == nil || !strings.Contains(err.Error(), "exited before it was ready") {
		t.Fatalf("start with a missing .cf: %v", err)
	}
}
