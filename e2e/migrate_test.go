package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"mapgate/internal/mgproc"
	"mapgate/internal/pfinst"
)

// migrateSQL adds to testdb's data set what the PostfixAdmin setup below
// needs: a relay (backup MX) domain with its valid recipients (one address,
// and a catch-all for a subdomain), and a mailbox behind the example.com
// catch-all.
const migrateSQL = `INSERT INTO domain (domain, backupmx) VALUES ('relay2.example', 1);
INSERT INTO mailbox (username, maildir, local_part, domain) VALUES ('catchall@example.jp','example.jp/catchall/','catchall','example.jp');
CREATE TABLE relay_recipient (address varchar(255) NOT NULL PRIMARY KEY) DEFAULT CHARSET=latin1 COLLATE=latin1_general_ci;
INSERT INTO relay_recipient VALUES ('u@relay2.example'), ('@sub.relay2.example');`

// PostfixAdmin's mailbox, domain and relay queries (DOCUMENTS/POSTFIX_CONF.txt).
const (
	qMailboxDir = `query = SELECT maildir FROM mailbox WHERE username='%s' AND active = '1'`
	qVDomains   = `query = SELECT domain FROM domain WHERE domain='%s' AND backupmx = '0' AND active = '1'`
	qRelay      = `query = SELECT domain FROM domain WHERE domain='%s' AND backupmx = '1' AND active = '1'`
	qRelayRcpt  = `query = SELECT address FROM relay_recipient WHERE address='%s'`
)

// compareRecipients cover every rewritten parameter: exact addresses,
// +ext, case, catch-alls, an alias domain, a mailbox without an alias, a
// relay domain's subdomains and recipients (relay_domains,
// relay_recipient_maps), and unknown users and domains. They hold no
// key that latin1 cannot hold, so the mysql: setup answers each without a
// database error.
var compareRecipients = []string{
	"bob@example.jp", "alice@example.jp", "o'brien@example.jp", "josé@example.jp", "catchall@example.jp",
	"bob+tag@example.jp", "alice+x@example.jp", "BOB@EXAMPLE.JP", "Bob+Tag@Example.JP",
	"anyone@example.com", "any+thing@example.com", "bob@example.com",
	"bob@example.net", "bob+tag@example.net", "alice@example.net", "nobody@example.net",
	"u@relay2.example", "u+x@relay2.example", "v@relay2.example", "u@sub.relay2.example", "v+x@sub.relay2.example",
	"u@a.b.relay2.example",
	"u@relay2.example.org", "u@xrelay2.example", "u@sub.example.jp",
	"nobody@example.jp", "nobody+x@example.jp", "inactive@example.jp", "postmaster@example.jp",
	"u@unknown.example",
}

// attackRecipients are the seed's keys that latin1 cannot hold: asked last,
// because through mysql: the first one blacks the tables out.
var attackRecipients = []string{"ほげ@example.jp", "ほげ@example.com", "😀@example.jp"}

// migrateSetup is a PostfixAdmin-style virtual(8) setup on proxy:mysql:,
// before and after migrate's output has been applied.
type migrateSetup struct {
	in     *pfinst.Instance
	bin    string // the built mapgate
	output string // what migrate printed
}

// newVirtualSetup starts a private Postfix whose virtual(8) writes
// maildirs, with every PostfixAdmin map on proxy:mysql:.
func newVirtualSetup(t *testing.T) *migrateSetup {
	t.Helper()
	db := startDB(t, migrateSQL)
	dir := cfDir(t)
	cf := func(name, q string) string { return "proxy:mysql:" + writeCF(t, dir, name, db, q) }
	in := pfinst.New(t, pfinst.Options{VirtualMailboxes: true, Extra: map[string]string{
		"recipient_delimiter":     "+",
		"virtual_mailbox_domains": cf("domains", qVDomains),
		"virtual_alias_maps": strings.Join([]string{cf("alias", qAlias), cf("alias_domain", qAliasDomain),
			cf("catchall", qCatchall), cf("domain_catchall", qDomainCatchall)}, ", "),
		"virtual_mailbox_maps": cf("mailbox", qMailboxDir) + ", " + cf("domain_mailbox", qDomainMailbox),
		"relay_domains":        "$mydestination, " + cf("relay", qRelay),
		"relay_recipient_maps": cf("relay_recipient", qRelayRcpt),
		// No relaying for the client's address: relay_domains decides.
		"smtpd_relay_restrictions": "reject_unauth_destination",
	}})
	logOnFailure(t, "virtual(8) instance", in)
	return &migrateSetup{in: in, bin: mgproc.Build(t)}
}

// replies asks smtpd about each recipient (RCPT only).
func (s *migrateSetup) replies(rcpts []string) []string {
	out := make([]string, len(rcpts))
	for i, r := range rcpts {
		_, out[i] = s.in.RCPT(r)
	}
	return out
}

// migrate runs `mapgate migrate --config-dir` on the instance, applies the
// postconf commands it printed, starts mapgate with the configuration it
// printed, and restarts Postfix.
func (s *migrateSetup) migrate(t *testing.T) { s.migrateWith(t) }

// migrateWith is migrate with extra migrate flags (--via mysql --write).
func (s *migrateSetup) migrateWith(t *testing.T, flags ...string) {
	t.Helper()
	args := append([]string{"migrate"}, flags...)
	args = append(args, "--config-dir", s.in.ConfigDir)
	cmd := exec.Command(s.bin, args...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	if err := cmd.Run(); err != nil {
		t.Fatalf("mapgate %s: %v\n%s", strings.Join(args, " "), err, e.String())
	}
	s.output = o.String()
	t.Logf("mapgate %s:\n%s", strings.Join(args, " "), s.output)
	var config strings.Builder
	for _, line := range strings.Split(s.output, "\n") {
		switch {
		case strings.HasPrefix(line, "postconf "):
			s.postconf(t, line)
		case !strings.HasPrefix(line, "#"):
			config.WriteString(line + "\n")
		}
	}
	cfgPath := filepath.Join(t.TempDir(), "mapgate.cf")
	if err := os.WriteFile(cfgPath, []byte(config.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	s.socketDirs(t, config.String())
	p := mgproc.Start(t, s.bin, "serve", "--config", cfgPath)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("mapgate log:\n%s", tail(p.Log(), 40))
		}
	})
	if err := s.in.Restart(); err != nil {
		t.Fatal(err)
	}
}

// postconf runs one printed "postconf -e|-P 'setting'" on the instance.
func (s *migrateSetup) postconf(t *testing.T, line string) {
	t.Helper()
	flag, setting, ok := strings.Cut(strings.TrimPrefix(line, "postconf "), " ")
	setting = strings.Trim(setting, "'")
	if !ok || (flag != "-e" && flag != "-P") || strings.ContainsRune(setting, '\'') {
		t.Fatalf("migrate printed a command this test cannot apply: %q", line)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if out, err := s.in.Command(ctx, "postconf", flag, setting).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", line, err, out)
	}
}

// socketDirs makes QUEUE/mapgate as contrib/mapgate.service does (root,
// group postfix, 0750), for the unix sockets migrate put there, and the
// directory of each front socket below it that migrate's output says to
// make (QUEUE/mapgate/pg for the PostgreSQL front's .s.PGSQL.5432).
func (s *migrateSetup) socketDirs(t *testing.T, config string) {
	t.Helper()
	g, err := user.LookupGroup("postfix")
	if err != nil {
		t.Fatal(err)
	}
	gid, _ := strconv.Atoi(g.Gid)
	base := filepath.Join(s.in.QueueDir, "mapgate")
	dirs := []string{base}
	for _, line := range strings.Split(config, "\n") {
		if _, v, ok := strings.Cut(line, "_listen = unix:"); ok {
			if d := filepath.Dir(v); d != base && strings.HasPrefix(d, base+"/") {
				dirs = append(dirs, d)
			}
		}
	}
	for _, d := range dirs {
		if err := os.Mkdir(d, 0o750); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(d, 0, gid); err != nil {
			t.Fatal(err)
		}
	}
}

// maildirCount counts the messages in one maildir's new/ and cur/.
func (s *migrateSetup) maildirCount(mailbox string) int {
	n := 0
	for _, sub := range []string{"new", "cur"} {
		ents, _ := os.ReadDir(filepath.Join(s.in.MailDir, "example.jp", mailbox, sub))
		n += len(ents)
	}
	return n
}

// waitMaildirs waits (bounded) until each mailbox holds at least want[mb]
// messages, and returns what they hold.
func (s *migrateSetup) waitMaildirs(want map[string]int, limit time.Duration) map[string]int {
	deadline := time.Now().Add(limit)
	for {
		got, done := map[string]int{}, true
		for mb, n := range want {
			got[mb] = s.maildirCount(mb)
			done = done && got[mb] >= n
		}
		if done || time.Now().After(deadline) {
			return got
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitLog waits (bounded) until the maillog has n lines with every sub,
// and returns how many it has.
func (s *migrateSetup) waitLog(n int, limit time.Duration, subs ...string) int {
	deadline := time.Now().Add(limit)
	for {
		got := countLines(s.in.Log(), subs...)
		if got >= n || time.Now().After(deadline) {
			return got
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestE2EMigrateVirtualDelivery applies mapgate migrate's printed output to
// a PostfixAdmin setup whose virtual(8) delivers into maildirs, as a new
// user would. It checks that
//   - smtpd answers every recipient as it did on proxy:mysql: (for each
//     rewritten parameter: aliases, catch-alls, an alias domain, mailboxes,
//     virtual_mailbox_domains and relay_domains with its subdomains), and
//     rejects the seed's attack keys at RCPT;
//   - mail is delivered into the maildirs (virtual(8) keeps its own mysql:
//     client: it refuses socketmap tables);
//   - the seed's sendmail -t loop: locally submitted mail to the attack key
//     reaches virtual(8)'s mysql: client and is deferred or bounced, and the
//     good mail submitted right after it is still delivered.
func TestE2EMigrateVirtualDelivery(t *testing.T) {
	requireTools(t)
	s := newVirtualSetup(t)
	before := s.replies(compareRecipients)
	beforeAttack := s.replies(attackRecipients)

	s.migrate(t)
	for _, want := range []string{"postconf -P 'virtual/unix/virtual_mailbox_maps=proxy:mysql:", "postconf -P 'virtual/unix/max_use=1'"} {
		if !strings.Contains(s.output, want) {
			t.Errorf("migrate's output lacks %q", want)
		}
	}
	after := s.replies(compareRecipients)
	afterAttack := s.replies(attackRecipients)
	t.Run("smtpd replies before and after", func(t *testing.T) {
		compareReplies(t, before, after, beforeAttack, afterAttack)
	})
	t.Run("delivery into maildirs", func(t *testing.T) {
		deliverGood(t, s)
	})
	t.Run("sendmail loop", func(t *testing.T) {
		sendmailLoop(t, s)
	})
}

// compareReplies checks that smtpd's replies are the same before and after
// (with queue IDs and such cut off: code and enhanced status only), and that
// the attack keys are refused at RCPT after migrating (a catch-all still
// takes the key it covers).
func compareReplies(t *testing.T, before, after, beforeAttack, afterAttack []string) {
	var b strings.Builder
	fmt.Fprintf(&b, "RCPT replies (left: proxy:mysql:; right: after mapgate migrate)\n")
	diffs := 0
	for i, r := range compareRecipients {
		fmt.Fprintf(&b, "%s | %s | %s\n", pad(r, 24), pad(short(before[i], 60), 60), short(after[i], 60))
		if replyCode(before[i]) == "" || strings.HasPrefix(before[i], "4") {
			t.Errorf("RCPT TO:<%s> before migrating: %q (the comparison needs an answer without a database error)", r, before[i])
			continue
		}
		if replyCode(before[i]) != replyCode(after[i]) {
			diffs++
			t.Errorf("RCPT TO:<%s>: proxy:mysql: %q, after migrate %q", r, before[i], after[i])
		}
	}
	fmt.Fprintf(&b, "attack keys (proxy:mysql: fails the query; the answer after is mapgate's)\n")
	wantAfter := map[string]string{"ほげ@example.jp": "550 5.1.1", "ほげ@example.com": "250 2.1.5", "😀@example.jp": "550 5.1.1"}
	for i, r := range attackRecipients {
		fmt.Fprintf(&b, "%s | %s | %s\n", pad(r, 24), pad(short(beforeAttack[i], 60), 60), short(afterAttack[i], 60))
		if got := replyCode(afterAttack[i]); got != wantAfter[r] {
			t.Errorf("RCPT TO:<%s> after migrate: %q, want %s", r, afterAttack[i], wantAfter[r])
		}
	}
	if !strings.HasPrefix(beforeAttack[0], "451 4.3.0") {
		t.Errorf("proxy:mysql: RCPT TO:<%s>: %q, want 451 4.3.0 (else the test no longer reproduces the problem)", attackRecipients[0], beforeAttack[0])
	}
	t.Logf("%d recipients compared, %d differences\n%s", len(compareRecipients), diffs, b.String())
}

// replyCode is "250 2.1.5" from "250 2.1.5 Ok".
func replyCode(line string) string {
	f := strings.Fields(line)
	if len(f) < 2 {
		return ""
	}
	return f[0] + " " + f[1]
}

// deliverGood sends mail through smtpd to recipients that end in
// maildirs, directly and through aliases, extensions, an alias domain and a
// catch-all, and waits until every message is there.
func deliverGood(t *testing.T, s *migrateSetup) {
	sends := map[string]string{ // recipient → mailbox it lands in
		"bob@example.jp": "bob", "bob+tag@example.jp": "bob", "BOB@EXAMPLE.JP": "bob", "bob@example.net": "bob",
		"catchall@example.jp": "catchall", "anyone@example.com": "catchall",
	}
	want := map[string]int{"bob": s.maildirCount("bob"), "catchall": s.maildirCount("catchall"), "alice": s.maildirCount("alice")}
	// alice@example.jp is aliased to alice@example.jp and alice@example.com
	// (the catch-all's mailbox).
	sends["alice@example.jp"] = "alice"
	want["catchall"]++
	for rcpt, mb := range sends {
		if code, line := s.in.Send(rcpt, "to "+rcpt); code != 250 {
			t.Errorf("mail to %s: %q", rcpt, line)
		}
		want[mb]++
	}
	got := s.waitMaildirs(want, 60*time.Second)
	total, delivered := 0, 0
	for mb, n := range want {
		total += n
		delivered += min(got[mb], n)
		if got[mb] != n {
			t.Errorf("maildir %s holds %d messages, want %d", mb, got[mb], n)
		}
	}
	if n := countLines(s.in.Log(), "status=deferred"); n > 0 {
		t.Errorf("%d deliveries deferred:\n%s", n, grepLines(s.in.Log(), "status=deferred"))
	}
	t.Logf("delivered into maildirs: %d of %d (%d mails sent through smtpd)", delivered, total, len(sends))
}

// sendmailLoop is the seed's loop, bounded: each round submits a mail to
// the attack key with sendmail -t, waits until virtual(8) has given up on
// it, then submits a good mail, which must be delivered (not held up by the
// failed query before it).
func sendmailLoop(t *testing.T, s *migrateSetup) {
	const rounds = 3
	start := s.maildirCount("bob")
	attack := []string{"to=<ほげ@example.jp>", "relay=virtual"}
	for i := range rounds {
		if err := s.in.Sendmail("ほげ@example.jp", fmt.Sprintf("attack %d", i)); err != nil {
			t.Fatal(err)
		}
		tried := s.waitLog(i+1, 30*time.Second, attack...)
		if tried < i+1 {
			t.Fatalf("round %d: virtual(8) has not tried the attack mail (%d tries logged)", i, tried)
		}
		if err := s.in.Sendmail("bob@example.jp", fmt.Sprintf("good %d", i)); err != nil {
			t.Fatal(err)
		}
		got := s.waitMaildirs(map[string]int{"bob": start + i + 1}, 30*time.Second)["bob"]
		if got != start+i+1 {
			t.Fatalf("round %d: good mail not delivered after the attack mail (bob has %d, want %d)\n%s",
				i, got, start+i+1, grepLines(s.in.Log(), "to=<bob@example.jp>"))
		}
	}
	log := s.in.Log()
	deferred := countLines(log, append(attack, "status=deferred")...)
	bounced := countLines(log, append(attack, "status=bounced")...)
	if sent := countLines(log, append(attack, "status=sent")...); sent > 0 {
		t.Errorf("attack mail delivered %d times", sent)
	}
	t.Logf("sendmail loop, %d rounds: good mail delivered %d/%d; attack mail deferred %d, bounced %d\n%s",
		rounds, s.maildirCount("bob")-start, rounds, deferred, bounced, grepLines(log, "to=<ほげ@example.jp>"))
}
