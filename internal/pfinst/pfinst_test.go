package pfinst

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestSetAlternates(t *testing.T) {
	t.Parallel()
	const d = "/var/tmp/mgpf-1/etc"
	cases := []struct {
		name, in string
		add      bool
		want     string
	}{
		{"empty file", "", true, "alternate_config_directories = " + d + "\n"},
		{"no newline at end", "myhostname = x", true, "myhostname = x\nalternate_config_directories = " + d + "\n"},
		{"append to existing", "a = 1\nalternate_config_directories = /x, /y\nb = 2\n", true,
			"a = 1\nalternate_config_directories = /x /y " + d + "\nb = 2\n"},
		{"continuation lines", "alternate_config_directories = /x\n  /y\nb = 2\n", true,
			"alternate_config_directories = /x /y " + d + "\nb = 2\n"},
		{"no duplicate", "alternate_config_directories = " + d + "\n", true, "alternate_config_directories = " + d + "\n"},
		{"remove keeps others", "alternate_config_directories = /x " + d + "\n", false, "alternate_config_directories = /x\n"},
		{"remove last drops line", "a = 1\nalternate_config_directories = " + d + "\nb = 2\n", false, "a = 1\nb = 2\n"},
		{"comment untouched", "#alternate_config_directories = /z\n", true,
			"#alternate_config_directories = /z\nalternate_config_directories = " + d + "\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := setAlternates(c.in, d, c.add); got != c.want {
				t.Errorf("setAlternates(%q, add=%v)\n got %q\nwant %q", c.in, c.add, got, c.want)
			}
		})
	}
}

// TestInstance starts an instance without alias maps (every recipient of a
// virtual alias domain is unknown), talks SMTP to it, submits a message with
// sendmail, and checks that Stop leaves nothing behind.
func TestInstance(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a private Postfix instance; skipped with -short")
	}
	if err := Installed(); err != nil {
		t.Fatal(err)
	}
	in := New(t, Options{Extra: map[string]string{"smtpd_banner": "$myhostname ESMTP pfinst"}})
	main, err := os.ReadFile(DefaultMainCF)
	if err != nil || !strings.Contains(string(main), in.ConfigDir) {
		t.Fatalf("%s does not list %s: %v\n%s", DefaultMainCF, in.ConfigDir, err, main)
	}

	for _, rcpt := range []string{"bob@example.jp", "ほげ@example.jp"} {
		code, line := in.RCPT(rcpt)
		if code != 550 || !strings.Contains(line, "5.1.1") {
			t.Errorf("RCPT %s: got %q, want 550 5.1.1", rcpt, line)
		}
	}
	if code, line := in.RCPT("someone@elsewhere.example"); code != 250 {
		// From mynetworks, relaying is permitted (and discarded).
		t.Errorf("RCPT to a relay domain from mynetworks: %q", line)
	}

	if err := in.Sendmail("bob@example.jp", "hello"); err != nil {
		t.Fatal(err)
	}
	// The unknown recipient bounces; the bounce to root is discarded. Wait
	// (bounded) until the queue is empty again.
	deadline := time.Now().Add(30 * time.Second)
	for {
		d, a, i, err := in.Queue()
		m, _ := in.QueueCount("maildrop")
		if err == nil && d+a+i+m == 0 && strings.Contains(in.Log(), "status=bounced") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("queue not empty after 30s: deferred %d active %d incoming %d maildrop %d (%v)\n%s", d, a, i, m, err, in.Log())
		}
		time.Sleep(100 * time.Millisecond)
	}
	if ms, err := in.Messages(); err != nil || len(ms) != 0 {
		t.Errorf("postqueue -j: %v, %v", ms, err)
	}
	if out, errOut, err := in.Postmap("", "-q", "x", "inline:{x=y}"); err != nil || out != "y\n" {
		t.Errorf("postmap -q x inline:{x=y}: %q %q %v", out, errOut, err)
	}

	pid := in.masterPID()
	if err := in.Stop(); err != nil {
		t.Fatal(err)
	}
	if alive(pid) {
		t.Errorf("master %d still running after Stop", pid)
	}
	if _, err := os.Stat(in.Dir); !os.IsNotExist(err) {
		t.Errorf("%s still exists after Stop: %v", in.Dir, err)
	}
	main, _ = os.ReadFile(DefaultMainCF)
	if strings.Contains(string(main), in.ConfigDir) {
		t.Errorf("%s still lists %s after Stop", DefaultMainCF, in.ConfigDir)
	}
}

// TestEditAlternatesLeavesNoMainCF: on a machine whose Postfix has no
// main.cf ("No configuration"), the file that instances need is created with
// the first instance and removed with the last; an admin's own main.cf is
// only edited, never removed.
func TestEditAlternatesLeavesNoMainCF(t *testing.T) {
	saved := alternatesFile
	t.Cleanup(func() { alternatesFile = saved })
	alternatesFile = filepath.Join(t.TempDir(), "etc", "main.cf")

	require := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	require(editAlternates("/var/tmp/mgpf-a/etc", true))
	require(editAlternates("/var/tmp/mgpf-b/etc", true))
	b, err := os.ReadFile(alternatesFile)
	require(err)
	if !strings.Contains(string(b), "alternate_config_directories = /var/tmp/mgpf-a/etc /var/tmp/mgpf-b/etc") {
		t.Fatalf("created main.cf:\n%s", b)
	}
	require(editAlternates("/var/tmp/mgpf-a/etc", false))
	if _, err := os.Stat(alternatesFile); err != nil {
		t.Fatalf("removed while an instance still needs it: %v", err)
	}
	require(editAlternates("/var/tmp/mgpf-b/etc", false))
	if _, err := os.Stat(alternatesFile); !os.IsNotExist(err) {
		t.Fatalf("main.cf created by pfinst is left behind after the last instance: %v", err)
	}

	// A file created here whose last entry another program removed goes
	// with the next removal.
	require(os.WriteFile(alternatesFile, []byte(createdMarker), 0o644))
	require(editAlternates("/var/tmp/mgpf-c/etc", false))
	if _, err := os.Stat(alternatesFile); !os.IsNotExist(err) {
		t.Fatalf("main.cf with only pfinst's marker left behind: %v", err)
	}

	// An admin's main.cf stays, even when it had nothing else.
	require(os.WriteFile(alternatesFile, nil, 0o644))
	require(editAlternates("/var/tmp/mgpf-a/etc", true))
	require(editAlternates("/var/tmp/mgpf-a/etc", false))
	if b, err := os.ReadFile(alternatesFile); err != nil || len(b) != 0 {
		t.Fatalf("admin's empty main.cf: %q, %v", b, err)
	}
}

// TestHasMapType works whether or not /etc/postfix/main.cf exists (a fresh
// machine has none), and names a missing type.
func TestHasMapType(t *testing.T) {
	if err := Installed(); err != nil {
		t.Skip(err)
	}
	if err := HasMapType("static"); err != nil {
		t.Errorf("static: %v", err)
	}
	err := HasMapType("no-such-type")
	if err == nil || !strings.Contains(err.Error(), "no no-such-type: map type") {
		t.Errorf("no-such-type: %v", err)
	}
}
