package e2e

import (
	"flag"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mapgate/internal/pfinst"
)

// frontLoop is how long the seed's sendmail -t loop runs (one bad and one
// good mail a second). make test keeps it short; the seed's 30 s with
// go test ./e2e -run FrontVirtual -front-loop 30s.
var frontLoop = flag.Duration("front-loop", 10*time.Second, "length of the sendmail -t loop in TestE2EFrontVirtualDelivery (the seed's: 30s)")

// frontVirtualMaps are the PostfixAdmin virtual(8) maps, as name → query.
var frontVirtualMaps = [][2]string{
	{"domains", qVDomains}, {"alias", qAlias}, {"alias_domain", qAliasDomain}, {"catchall", qCatchall},
	{"domain_catchall", qDomainCatchall}, {"mailbox", qMailboxDir}, {"domain_mailbox", qDomainMailbox},
}

// virtualParams builds the main.cf parameters from table(name): every map
// a mysql: table, virtual(8)'s included.
func virtualParams(table func(name string) string) map[string]string {
	return map[string]string{
		"recipient_delimiter":     "+",
		"virtual_mailbox_domains": table("domains"),
		"virtual_alias_maps": strings.Join([]string{table("alias"), table("alias_domain"),
			table("catchall"), table("domain_catchall")}, ", "),
		"virtual_mailbox_maps": table("mailbox") + ", " + table("domain_mailbox"),
	}
}

// TestE2EFrontVirtualDelivery: a private Postfix whose virtual(8) delivers
// into maildirs, every table mysql:, once through mapgate's MySQL front and
// once straight on the database.
//   - Through the front: 20 good mails through smtpd are delivered; in the
//     seed's sendmail -t loop (a mail to ほげ@example.jp, which the latin1
//     column cannot hold, then a good one, every second) every good mail is
//     delivered without a deferral and every bad one bounced as unknown.
//   - Straight on mysql: the same loop defers good mail: the test asserts
//     it, so that it keeps proving the problem the front solves.
func TestE2EFrontVirtualDelivery(t *testing.T) {
	requireTools(t)
	db := startDB(t, migrateSQL)
	dir := cfDir(t)
	sock := filepath.Join(dir, "front.sock")
	orig := map[string]string{}
	for _, m := range frontVirtualMaps {
		orig[m[0]] = writeCF(t, dir, m[0], db, m[1])
	}
	startMapgate(t, orig, frontArgs(sock)...)
	rounds := int(*frontLoop / time.Second)

	run := func(t *testing.T, what string, table func(string) string) loopCounts {
		return virtualLoop(t, what, virtualParams(table), "bob@example.jp", "bob", rounds)
	}

	t.Run("front", func(t *testing.T) {
		t.Parallel()
		fronts := map[string]string{}
		for _, m := range frontVirtualMaps {
			fronts[m[0]] = "mysql:" + writeSQLFrontCF(t, dir, "mysql", m[0], sock, true)
		}
		var in *pfinst.Instance
		t.Run("20 good mails", func(t *testing.T) {
			in = pfinst.New(t, pfinst.Options{VirtualMailboxes: true, Extra: virtualParams(func(n string) string { return fronts[n] })})
			logOnFailure(t, "front instance", in)
			deliverTwentyGood(t, &migrateSetup{in: in}, "through the front")
		})
		t.Run("sendmail loop", func(t *testing.T) {
			run(t, "through the front", func(n string) string { return fronts[n] }).wantClean(t)
		})
	})
	t.Run("straight mysql", func(t *testing.T) {
		t.Parallel()
		if r := run(t, "straight on mysql:", func(n string) string { return "mysql:" + orig[n] }); r.delivered == rounds && r.goodDeferred == 0 {
			t.Errorf("straight on mysql: every good mail was delivered without a deferral: the test no longer reproduces the problem")
		}
	})
}

// loopCounts is what the seed's sendmail -t loop left in an instance.
type loopCounts struct {
	s                                        *migrateSetup
	bad, good                                string // the recipients
	rounds, delivered, goodDeferred, bounced int
}

// virtualLoop starts a private Postfix whose virtual(8) delivers into
// maildirs, with params, and runs the seed's sendmail -t loop on it:
// ほげ@example.jp, then good (whose maildir is mailbox).
func virtualLoop(t *testing.T, what string, params map[string]string, good, mailbox string, rounds int) loopCounts {
	t.Helper()
	in := pfinst.New(t, pfinst.Options{VirtualMailboxes: true, Extra: params})
	logOnFailure(t, what, in)
	return sendmailTLoop(t, &migrateSetup{in: in}, what, "ほげ@example.jp", good, mailbox, rounds)
}

// sendmailTLoop runs the seed's sendmail -t loop on s's instance: every
// second for rounds seconds a mail to bad, then one to good (whose maildir
// is mailbox); then it waits, bounded, for the good mail and counts what
// was delivered, deferred (or refused by cleanup) and bounced.
func sendmailTLoop(t *testing.T, s *migrateSetup, what, bad, good, mailbox string, rounds int) loopCounts {
	t.Helper()
	start := s.maildirCount(mailbox)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for i := range rounds {
		if err := s.in.Sendmail(bad, fmt.Sprintf("bad %d", i)); err != nil {
			t.Fatal(err)
		}
		if err := s.in.Sendmail(good, fmt.Sprintf("good %d", i)); err != nil {
			t.Fatal(err)
		}
		<-tick.C
	}
	// Bounded settling: what was going to be delivered without a retry is
	// delivered within seconds.
	s.waitMaildirs(map[string]int{mailbox: start + rounds}, 15*time.Second)
	log := s.in.Log()
	r := loopCounts{s: s, bad: bad, good: good, rounds: rounds, delivered: s.maildirCount(mailbox) - start,
		goodDeferred: countLines(log, "to=<"+good+">", "status=deferred") + countLines(log, "for "+good, "message not accepted, try again later"),
		bounced:      bounced(log, bad)}
	t.Logf("%s, sendmail -t loop of %d rounds: good mail delivered %d/%d, good mail deferred or refused %d times; bad mail bounced %d/%d, deferred %d",
		what, rounds, r.delivered, rounds, r.goodDeferred, r.bounced, rounds, countLines(log, "to=<"+bad+">", "status=deferred"))
	return r
}

// wantClean checks the loop through a front: every good mail delivered,
// none deferred, every bad one bounced (waiting, bounded, for the bounces)
// as unknown.
func (r loopCounts) wantClean(t *testing.T) {
	t.Helper()
	if r.delivered != r.rounds || r.goodDeferred != 0 {
		t.Errorf("good mail delivered %d/%d, deferred %d times; want all, none", r.delivered, r.rounds, r.goodDeferred)
	}
	deadline := time.Now().Add(15 * time.Second)
	for r.bounced < r.rounds && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
		r.bounced = bounced(r.s.in.Log(), r.bad)
	}
	if r.bounced != r.rounds {
		t.Errorf("bad mail bounced %d/%d times", r.bounced, r.rounds)
	}
	if n := countLines(r.s.in.Log(), "to=<"+r.bad+">", "status=bounced", "unknown user"); n != r.bounced {
		t.Errorf("%d of %d bounces say unknown user:\n%s", n, r.bounced, grepLines(r.s.in.Log(), "to=<"+r.bad+">"))
	}
}

// TestE2EMigrateViaMySQL applies `mapgate migrate --via mysql --write`'s
// printed output to the PostfixAdmin virtual(8) setup on proxy:mysql:, as
// a new user would: smtpd answers every recipient as before, mail lands in
// the maildirs, and the seed's sendmail -t loop neither defers good mail
// nor leaves bad mail anywhere but bounced (virtual(8) asks the front too).
func TestE2EMigrateViaMySQL(t *testing.T) {
	requireTools(t)
	s := newVirtualSetup(t)
	before := s.replies(compareRecipients)
	beforeAttack := s.replies(attackRecipients)

	s.migrateWith(t, "--via", "mysql", "--write")
	if strings.Contains(s.output, "socketmap:") {
		t.Errorf("migrate --via mysql pointed a parameter at socketmap")
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
		log := s.in.Log()
		if n := countLines(log, "to=<ほげ@example.jp>", "status=deferred"); n > 0 {
			t.Errorf("bad mail deferred %d times through the front; want bounced", n)
		}
	})
}

// deliverTwentyGood sends 20 good mails through s's smtpd (bob, with an
// extension and in upper case, at an alias domain, and the catch-all) and
// checks that virtual(8) put each in its maildir, none deferred.
func deliverTwentyGood(t *testing.T, s *migrateSetup, via string) {
	t.Helper()
	rcpts := []string{"bob@example.jp", "bob+tag@example.jp", "BOB@EXAMPLE.JP", "bob@example.net", "catchall@example.jp"}
	want := map[string]int{"bob": 0, "catchall": 0}
	for i := range 20 {
		r := rcpts[i%len(rcpts)]
		if code, line := s.in.Send(r, fmt.Sprintf("good %d", i)); code != 250 {
			t.Errorf("mail to %s: %q", r, line)
		}
		if r == "catchall@example.jp" {
			want["catchall"]++
		} else {
			want["bob"]++
		}
	}
	got := s.waitMaildirs(want, 60*time.Second)
	t.Logf("%s: delivered %d of 20 (bob %d, catchall %d)", via, got["bob"]+got["catchall"], got["bob"], got["catchall"])
	if got["bob"] != want["bob"] || got["catchall"] != want["catchall"] {
		t.Errorf("maildirs hold %v, want %v", got, want)
	}
	if n := countLines(s.in.Log(), "status=deferred"); n > 0 {
		t.Errorf("%d deliveries deferred:\n%s", n, grepLines(s.in.Log(), "status=deferred"))
	}
}
