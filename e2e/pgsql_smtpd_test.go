package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mapgate/internal/pfinst"
	"mapgate/internal/testpg"
)

// TestE2EPgsqlSMTPD: RCPT TO through a real smtpd whose virtual_alias_maps
// is mapgate over socketmap (a pgsql: map), beside Postfix's own pgsql:
// client, for a LATIN1 and a UTF8 database. Every recipient must get
// through mapgate the answer the database means: an address that exists is
// accepted (internationalized ones too), one the database cannot hold is
// unknown, good mail is never deferred. Postfix 3.7's pgsql: (client
// encoding LATIN1) is logged beside it, with the replies where it differs.
func TestE2EPgsqlSMTPD(t *testing.T) {
	requireTools(t)
	s := testpg.Start(t)
	dir := t.TempDir()
	maps := map[string]string{}
	for _, enc := range []string{"LATIN1", "UTF8"} {
		db := strings.ToLower(enc)
		if err := s.CreateDB(db, enc); err != nil {
			t.Fatal(err)
		}
		rows := []string{"bob@example.jp", "josé@example.jp", "@example.com"}
		if enc == "UTF8" {
			rows = append(rows, "ユーザー@example.jp", "ほげ@example.jp")
		}
		sqlText := "CREATE TABLE alias (address varchar(255) PRIMARY KEY, goto text NOT NULL, active boolean NOT NULL DEFAULT true);\n"
		for _, r := range rows {
			sqlText += fmt.Sprintf("INSERT INTO alias (address, goto) VALUES ('%s', 'dest@dest.example');\n", r)
		}
		s.MustExec(t, db, sqlText)
		if err := s.GrantRead(db); err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, db+".cf")
		text := testpg.Instantiate("hosts = x\nuser = x\npassword = x\ndbname = x\nquery = SELECT goto FROM alias WHERE address = '%s' AND active\n", s, db)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		maps[db] = "pgsql:" + p
	}
	mg := startMapgate(t, maps, "--set", "recipient_delimiter=+")

	type want struct{ latin1, utf8 int } // the answer the database means, per encoding
	recipients := []struct {
		rcpt string
		want want
	}{
		{"bob@example.jp", want{250, 250}},
		{"nobody@example.jp", want{550, 550}},
		{"josé@example.jp", want{250, 250}},
		{"ユーザー@example.jp", want{550, 250}},
		{"ほげ@example.jp", want{550, 250}},
		{"😀@example.jp", want{550, 550}},
		{"bob+tag@example.jp", want{250, 250}},
		{"anyone@example.com", want{250, 250}},
		{"ほげ@example.com", want{250, 250}}, // LATIN1: its own step cannot match; the catch-all does
		{"bob@example.jp", want{250, 250}},
	}
	for _, db := range []string{"latin1", "utf8"} {
		viaMapgate := pfinst.New(t, pfinst.Options{VirtualAliasMaps: "socketmap:inet:" + mg.Addr + ":" + db, Extra: smtpdMainCF})
		viaPgsql := pfinst.New(t, pfinst.Options{VirtualAliasMaps: maps[db], Extra: smtpdMainCF})
		logOnFailure(t, db+" socketmap instance", viaMapgate)
		logOnFailure(t, db+" pgsql: instance", viaPgsql)
		var b strings.Builder
		fmt.Fprintf(&b, "%s database: RCPT replies (left: socketmap to mapgate; right: Postfix's pgsql:)\n", db)
		right, pgRight := 0, 0
		for _, r := range recipients {
			w := r.want.latin1
			if db == "utf8" {
				w = r.want.utf8
			}
			gc, gl := viaMapgate.RCPT(r.rcpt)
			pc, pl := viaPgsql.RCPT(r.rcpt)
			if gc == w {
				right++
			} else {
				t.Errorf("%s RCPT TO:<%s>: mapgate %q, the database means %d", db, r.rcpt, gl, w)
			}
			if pc == w {
				pgRight++
			}
			fmt.Fprintf(&b, "%s | %s | %s\n", pad(r.rcpt, 22), pad(short(gl, 46), 46), short(pl, 60))
		}
		fmt.Fprintf(&b, "right: mapgate %d of %d, pgsql: %d of %d", right, len(recipients), pgRight, len(recipients))
		t.Log(b.String())
		if n := strings.Count(viaMapgate.Log(), "Temporary lookup failure"); n > 0 {
			t.Errorf("%s socketmap instance logged %d temporary lookup failures", db, n)
		}
	}
}
