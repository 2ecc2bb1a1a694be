package e2e

import (
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"mapgate/internal/pfinst"
)

// smtpStep is one SMTP session of the seed's scenario and the reply mapgate
// must lead smtpd to give.
type smtpStep struct {
	rcpt string
	code int    // through mapgate
	dsn  string // enhanced status code through mapgate
}

// seedSessions is the order: a known recipient, the attack
// recipient, the known one again, more known and unknown ones, a latin1
// accent, an emoji, an address extension and a catch-all.
var seedSessions = []smtpStep{
	{"bob@example.jp", 250, "2.1.5"},
	{"ほげ@example.jp", 550, "5.1.1"},
	{"bob@example.jp", 250, "2.1.5"},
	{"alice@example.jp", 250, "2.1.5"},
	{"nobody@example.jp", 550, "5.1.1"},
	{"o'brien@example.jp", 250, "2.1.5"},
	{"inactive@example.jp", 550, "5.1.1"},
	{"josé@example.jp", 250, "2.1.5"},
	{"😀@example.jp", 550, "5.1.1"},
	{"bob+tag@example.jp", 250, "2.1.5"},
	{"anyone@example.com", 250, "2.1.5"},
	{"ほげ@example.com", 250, "2.1.5"}, // unrepresentable, but the @example.com catch-all matches
	{"bob@example.jp", 250, "2.1.5"},
}

// parityRecipients are ASCII recipients exercising Postfix's address search
// (extensions, catch-alls, case) with a healthy database.
var parityRecipients = []string{
	"bob@example.jp", "BOB@EXAMPLE.JP", "bob+tag@example.jp", "Bob+Tag@Example.JP", "bob+tag+more@example.jp",
	"bob+@example.jp", "+tag@example.jp", "alice+x@example.jp", "o'brien+x@example.jp",
	"nobody@example.jp", "nobody+x@example.jp", "inactive@example.jp", "inactive+x@example.jp",
	"anyone@example.com", "any+thing@example.com", "ANYONE@EXAMPLE.COM", "bob@example.com", "bob+tag@example.com",
	"bob@example.net", "nobody@example.net", "bob-tag@example.jp", "bob.tag@example.jp", "postmaster@example.jp",
}

// smtpdMainCF are the main.cf settings shared by every instance here:
// extensions as most sites configure them.
var smtpdMainCF = map[string]string{"recipient_delimiter": "+"}

// TestE2ESMTPD runs the seed's scenario through a real smtpd, once with
// virtual_alias_maps = socketmap:...:virtual_alias (mapgate) and once with
// proxy:mysql: (Postfix's own client, which must show the blackout: that
// guards that the test reproduces the problem). Then, with the database
// healthy and ASCII recipients only, it checks that mysql: (direct) and
// mapgate give the same 250/550 for extensions and catch-alls, which Postfix
// tries itself for mysql: but not for socketmap: (mapgate does it).
func TestE2ESMTPD(t *testing.T) {
	requireTools(t)
	db := startDB(t, `INSERT INTO alias (address, goto, domain) VALUES ('carol@example.jp','carol@dest.example','example.jp'),
 ('@example.net','net-catchall@dest.example','example.net');`)
	cf := writeCF(t, cfDir(t), "alias", db, qAlias)
	mg := startMapgate(t, map[string]string{"virtual_alias": cf}, "--set", "recipient_delimiter=+", "--set", "virtual_alias_propagate_extension=yes")

	viaMapgate := pfinst.New(t, pfinst.Options{
		VirtualAliasMaps: "socketmap:inet:" + mg.Addr + ":virtual_alias", Extra: smtpdMainCF})
	viaProxy := pfinst.New(t, pfinst.Options{VirtualAliasMaps: "proxy:mysql:" + cf, Extra: smtpdMainCF})
	logOnFailure(t, "socketmap instance", viaMapgate)
	logOnFailure(t, "proxy:mysql: instance", viaProxy)

	type row struct{ rcpt, mapgate, proxy string }
	var rows []row
	for _, s := range seedSessions {
		rows = append(rows, row{rcpt: s.rcpt})
	}
	for i, s := range seedSessions {
		code, line := viaMapgate.RCPT(s.rcpt)
		rows[i].mapgate = line
		if code != s.code || !strings.Contains(line, " "+s.dsn+" ") {
			t.Errorf("socketmap (mapgate) session %d, RCPT TO:<%s>: %q, want %d %s", i+1, s.rcpt, line, s.code, s.dsn)
		}
	}
	attackSeen := false
	for i, s := range seedSessions {
		code, line := viaProxy.RCPT(s.rcpt)
		rows[i].proxy = line
		if i == 0 {
			if code != 250 {
				t.Errorf("proxy:mysql: first session, RCPT TO:<%s>: %q, want 250 (before the attack)", s.rcpt, line)
			}
			continue
		}
		if s.rcpt == "ほげ@example.jp" {
			attackSeen = true
		}
		// From the attack on, every recipient is a temporary failure: the
		// blackout. If this fails, the test no longer reproduces the problem.
		if attackSeen && (code != 451 || !strings.Contains(line, "4.3.0")) {
			t.Errorf("proxy:mysql: session %d, RCPT TO:<%s>: %q, want the blackout's 451 4.3.0", i+1, s.rcpt, line)
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "RCPT replies, in session order (left: socketmap to mapgate; right: proxy:mysql:)\n")
	fmt.Fprintf(&b, "%-3s %s | %s | %s\n", "#", pad("recipient", 22), pad("socketmap:...:virtual_alias (mapgate)", 46), "proxy:mysql:alias.cf")
	for i, r := range rows {
		fmt.Fprintf(&b, "%-3d %s | %s | %s\n", i+1, pad(r.rcpt, 22), pad(short(r.mapgate, 46), 46), short(r.proxy, 80))
	}
	t.Log(b.String())
	if n := strings.Count(viaMapgate.Log(), "Temporary lookup failure"); n > 0 {
		t.Errorf("socketmap instance logged %d temporary lookup failures", n)
	}

	viaMySQL := pfinst.New(t, pfinst.Options{VirtualAliasMaps: "mysql:" + cf, Extra: smtpdMainCF})
	logOnFailure(t, "mysql: instance", viaMySQL)
	t.Run("address search parity with mysql:", func(t *testing.T) {
		var b strings.Builder
		fmt.Fprintf(&b, "address search parity (left: mysql: direct; right: socketmap to mapgate)\n")
		for _, rcpt := range parityRecipients {
			mc, ml := viaMySQL.RCPT(rcpt)
			gc, gl := viaMapgate.RCPT(rcpt)
			fmt.Fprintf(&b, "%s | %s | %s\n", pad(rcpt, 24), pad(short(ml, 46), 46), short(gl, 80))
			if mc != gc || mc == 0 {
				t.Errorf("RCPT TO:<%s>: mysql: %q, mapgate %q", rcpt, ml, gl)
			}
		}
		t.Log(b.String())
		// Guard the guard: the search itself must be exercised.
		for rcpt, want := range map[string]int{"bob+tag@example.jp": 250, "anyone@example.com": 250, "nobody+x@example.jp": 550} {
			if code, line := viaMySQL.RCPT(rcpt); code != want {
				t.Errorf("mysql: RCPT TO:<%s>: %q, want %d", rcpt, line, want)
			}
		}
	})

	// The rewrite itself: cleanup resolves each recipient through the map
	// (with the recipient's case as submitted), and Postfix propagates an
	// unmatched extension into the result, keeping the extension's case.
	// Both instances must deliver to the same final addresses.
	t.Run("extension propagation parity with mysql:", func(t *testing.T) {
		rcpts := []string{"carol@example.jp", "carol+tag@example.jp", "Carol+Tag@Example.JP", "someone@example.net", "someone+tag@example.net"}
		for _, in := range []*pfinst.Instance{viaMySQL, viaMapgate} {
			for _, r := range rcpts {
				if err := in.Sendmail(r, "extension test"); err != nil {
					t.Fatal(err)
				}
			}
		}
		finals := func(in *pfinst.Instance) []string {
			deadline := time.Now().Add(30 * time.Second)
			for {
				var out []string
				for _, l := range strings.Split(in.Log(), "\n") {
					if i := strings.Index(l, " to=<"); i >= 0 && strings.Contains(l, "@dest.example>") && strings.Contains(l, "status=sent") {
						f := strings.Fields(l[i+1:])
						out = append(out, strings.Join(f[:2], " "))
					}
				}
				if len(out) >= len(rcpts) || time.Now().After(deadline) {
					sort.Strings(out)
					return out
				}
				time.Sleep(100 * time.Millisecond)
			}
		}
		fm, fg := finals(viaMySQL), finals(viaMapgate)
		t.Logf("final recipients after virtual alias rewriting:\nmysql:   %s\nmapgate: %s", strings.Join(fm, "\n         "), strings.Join(fg, "\n         "))
		if strings.Join(fm, "\n") != strings.Join(fg, "\n") || len(fm) != len(rcpts) {
			t.Errorf("delivered recipients differ (want %d each):\nmysql:   %q\nmapgate: %q", len(rcpts), fm, fg)
		}
	})
}

// logOnFailure logs the end of an instance's maillog if the test fails.
func logOnFailure(t *testing.T, what string, in *pfinst.Instance) {
	t.Cleanup(func() {
		if t.Failed() || os.Getenv("E2E_DEBUG") != "" {
			t.Logf("%s maillog:\n%s", what, tail(in.Log(), 40))
		}
	})
}

// pad pads s with spaces to n terminal columns (wide characters count 2).
func pad(s string, n int) string {
	w := 0
	for _, r := range s {
		w++
		if r >= 0x1100 && (r <= 0x115f || r >= 0x2e80) && !(r >= 0xfe00 && r <= 0xfe0f) {
			w++
		}
	}
	if w >= n {
		return s
	}
	return s + strings.Repeat(" ", n-w)
}

func short(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

// TestE2ESendmailLoop is the seed's loop: a local submission (sendmail -t) to
// the attack recipient once a second, bounded, alongside normal mail (to
// carol@example.jp, an alias that leaves the virtual domains and is
// delivered to discard). Through mapgate, the normal mail is delivered and
// the attack mail bounces (nothing deferred, nothing left in the queue).
// Through proxy:mysql:, the test reports what the queue holds.
func TestE2ESendmailLoop(t *testing.T) {
	requireTools(t)
	const rounds = 20
	db := startDB(t, `INSERT INTO alias (address, goto, domain) VALUES ('carol@example.jp','carol@dest.example','example.jp');`)
	cf := writeCF(t, cfDir(t), "alias", db, qAlias)
	mg := startMapgate(t, map[string]string{"virtual_alias": cf}, "--set", "recipient_delimiter=+", "--set", "virtual_alias_propagate_extension=yes")

	loop := func(t *testing.T, in *pfinst.Instance) {
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for i := range rounds {
			if err := in.Sendmail("ほげ@example.jp", fmt.Sprintf("attack %d", i)); err != nil {
				t.Fatal(err)
			}
			if err := in.Sendmail("carol@example.jp", fmt.Sprintf("normal %d", i)); err != nil {
				t.Fatal(err)
			}
			<-tick.C
		}
	}
	report := func(t *testing.T, what string, in *pfinst.Instance) (counts map[string]int, msgs []pfinst.Message) {
		counts = map[string]int{}
		for _, q := range []string{"maildrop", "incoming", "active", "deferred", "hold"} {
			n, err := in.QueueCount(q)
			if err != nil {
				t.Fatal(err)
			}
			counts[q] = n
		}
		msgs, err := in.Messages()
		if err != nil {
			t.Error(err)
		}
		log := in.Log()
		reasons := map[string]int{}
		for _, m := range msgs {
			for _, r := range m.Recipients {
				reasons[fmt.Sprintf("%s %s: %s", m.Queue, r.Address, short(r.DelayReason, 90))]++
			}
		}
		var rs []string
		for r, n := range reasons {
			rs = append(rs, fmt.Sprintf("  %d x %s", n, r))
		}
		t.Logf("%s after %d rounds: queue maildrop %d, incoming %d, active %d, deferred %d, hold %d; "+
			"carol delivered %d/%d, ほげ bounced %d/%d, cleanup refusals %d\n%s",
			what, rounds, counts["maildrop"], counts["incoming"], counts["active"], counts["deferred"], counts["hold"],
			delivered(log, "carol@dest.example"), rounds, bounced(log, "ほげ@example.jp"), rounds,
			strings.Count(log, "message not accepted, try again later"), strings.Join(rs, "\n"))
		return counts, msgs
	}

	t.Run("socketmap", func(t *testing.T) {
		t.Parallel()
		in := pfinst.New(t, pfinst.Options{VirtualAliasMaps: "socketmap:inet:" + mg.Addr + ":virtual_alias", Extra: smtpdMainCF})
		logOnFailure(t, "socketmap instance", in)
		loop(t, in)
		// Let pickup, cleanup, qmgr and bounce finish (bounded).
		deadline := time.Now().Add(60 * time.Second)
		for {
			log := in.Log()
			d, a, i, err := in.Queue()
			m, _ := in.QueueCount("maildrop")
			if err == nil && d+a+i+m == 0 && delivered(log, "carol@dest.example") >= rounds && bounced(log, "ほげ@example.jp") >= rounds {
				break
			}
			if time.Now().After(deadline) {
				t.Errorf("queue did not settle within 60s")
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		counts, msgs := report(t, "socketmap (mapgate)", in)
		log := in.Log()
		if n := delivered(log, "carol@dest.example"); n != rounds {
			t.Errorf("normal mail delivered %d times, want %d", n, rounds)
		}
		if n := bounced(log, "ほげ@example.jp"); n != rounds {
			t.Errorf("attack mail bounced %d times, want %d (550: user unknown)", n, rounds)
		}
		if counts["deferred"] != 0 || counts["maildrop"] != 0 {
			t.Errorf("queue holds deferred %d, maildrop %d; want none", counts["deferred"], counts["maildrop"])
		}
		for _, m := range msgs {
			for _, r := range m.Recipients {
				if strings.Contains(r.Address, "ほげ") {
					t.Errorf("queued for the attack recipient: %+v", m)
				}
			}
		}
		if n := strings.Count(log, "message not accepted"); n > 0 {
			t.Errorf("cleanup refused %d messages", n)
		}
	})

	t.Run("proxy:mysql", func(t *testing.T) {
		t.Parallel()
		in := pfinst.New(t, pfinst.Options{VirtualAliasMaps: "proxy:mysql:" + cf, Extra: smtpdMainCF})
		logOnFailure(t, "proxy:mysql: instance", in)
		loop(t, in)
		time.Sleep(3 * time.Second) // let the last submissions be tried once
		counts, _ := report(t, "proxy:mysql:", in)
		// The attack mail can never be accepted by cleanup through mysql:; if
		// the queue is empty, the test no longer reproduces the problem.
		if counts["maildrop"]+counts["incoming"]+counts["active"]+counts["deferred"] == 0 {
			t.Errorf("proxy:mysql: queue is empty: the seed's attack was not reproduced")
		}
	})
}

// delivered counts the maillog's successful deliveries to addr.
func delivered(log, addr string) int {
	return countLines(log, "to=<"+addr+">", "status=sent")
}

// bounced counts the maillog's bounces of addr.
func bounced(log, addr string) int {
	return countLines(log, "to=<"+addr+">", "status=bounced")
}

func countLines(s string, subs ...string) int {
	n := 0
	for _, l := range strings.Split(s, "\n") {
		ok := true
		for _, sub := range subs {
			ok = ok && strings.Contains(l, sub)
		}
		if ok {
			n++
		}
	}
	return n
}
