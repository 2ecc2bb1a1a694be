package pfinst

import (
	"os"
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
