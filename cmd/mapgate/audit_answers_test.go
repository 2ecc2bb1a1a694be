package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"mapgate/audit"
	"mapgate/charset"
	"mapgate/internal/testdb"
)

// reviewAccept is what an admin runs before the printed statements to
// convert although the audit's verdict is review.
const reviewAccept = "SET @mapgate_review = 'accept';\n"

// answerKeys are the keys whose answers a conversion from latin1 can
// change for the rows of testdata/auditcorpus/cyberpanel.sql: ß/ss, ÿ/y
// (and Ÿ, which Postfix folds to ÿ), ignorable characters.
var answerKeys = []string{
	"straße@example.com", "strasse@example.com", "y@example.com", "ÿ@example.com", "Ÿ@example.com",
	"bob@example.com", "bob\u00ad@example.com", "bob\x1a@example.com", "b\u00adob@example.com",
}

// TestAuditCorpusAnswersKept runs the audit on corpus schemas (with the
// server's latin1 defaults; TestAuditCorpus does the same for the four
// projects it covers), applies the printed fix (after SET
// @mapgate_review = 'accept' when the verdict is review), and compares
// every answer through Postfix's own mysql: client (postmap -q) before and
// after: a ready fix changes none, and every answer a review fix changes
// is one the audit listed.
//
// CyberPanel's tables take the server default (latin1_swedish_ci). Before
// this test, the audit chose utf8mb4_uca1400_swedish_ai_ci, said ready,
// and afterwards strasse@example.com reached straße@example.com's
// mailbox, Ÿ@ and ÿ@ reached y@, and bob with a soft hyphen or Ctrl-Z
// reached bob.
func TestAuditCorpusAnswersKept(t *testing.T) {
	_, err := exec.LookPath("postmap")
	require.NoError(t, err, "postmap is needed (run make deps)")
	s := testdb.Start(t)
	conf := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(conf, "main.cf"), []byte("compatibility_level = 3.6\n"), 0o644))
	keys := append([]string(nil), answerKeys...)
	for _, k := range corpusKeys {
		keys = append(keys, k, strings.ToUpper(k))
	}
	for _, project := range []string{"cyberpanel", "froxlor"} {
		t.Run(project, func(t *testing.T) {
			corpusDB(t, s, project, project)
			cfs := corpusCFs(t, s, project, project)
			var args []string
			for _, cf := range cfs {
				args = append(args, "--map", strings.TrimSuffix(filepath.Base(cf), ".cf")+"="+cf)
			}
			before := postmapAnswers(t, conf, cfs, keys)

			code, out, errs := runAudit(t, args...)
			require.NotEqual(t, exitAuditFailed, code, errs+out)
			jcode, jout, jerrs := runAudit(t, append(args, "--json")...)
			require.Equal(t, code, jcode, jerrs)
			var r audit.Report
			require.NoError(t, json.Unmarshal([]byte(jout), &r))

			listed := map[string]bool{}
			review := false
			for _, g := range r.Groups {
				require.NotNil(t, g.Answers)
				switch g.Verdict {
				case "review":
					review = true
					assert.Equal(t, exitAuditRisk, code)
					assert.Contains(t, out, "to "+g.Collation+" (review: answers change")
				case "ready":
					assert.Empty(t, g.Answers.Changes)
				}
				for _, ch := range g.Answers.Changes {
					listed[ch.Key] = true
					assert.Contains(t, flat(out), flat(ch.Key+" ("+ch.Kind+")"), "every changed pair is printed")
				}
				t.Logf("%s: group %s to %s: %s; %d stored values, %d derived keys, %d answers change, %d sets of values merge",
					project, strings.Join(g.Tables, ", "), g.Collation, g.Verdict, g.Answers.Values, g.Answers.Keys, len(g.Answers.Changes), g.Answers.Merged)
				for _, ch := range g.Answers.Changes {
					t.Logf("  %s", ch.String())
				}
			}
			script := fixSQL(out)
			if review {
				res, err := runMysqlClient(t, s, project, script)
				require.Error(t, err, "a review fix runs only when accepted")
				assert.Contains(t, res, "mapgate preflight: answers change under")
				script = reviewAccept + script
			}
			if script != "" {
				res, err := runMysqlClient(t, s, project, script)
				require.NoError(t, err, "the printed fix stopped: %s\n%s", res, script)
			}
			code2, out2, errs2 := runAudit(t, args...)
			assert.Equal(t, exitAuditSafe, code2, errs2+out2)

			after := postmapAnswers(t, conf, cfs, keys)
			same, changed := 0, 0
			for cf, ans := range before {
				for _, k := range keys {
					if ans[k] == after[cf][k] {
						same++
						continue
					}
					changed++
					t.Logf("%s: %s: %q -> %q", cf, charset.Escape(k), ans[k], after[cf][k])
					assert.True(t, review, "%s: %s changed under a ready fix", cf, charset.Escape(k))
					assert.True(t, listed[charset.Escape(charset.PostfixFold(k, true))], "%s: the change for %s is not listed", cf, charset.Escape(k))
				}
			}
			t.Logf("%s: audit exit %d, review %v; %d .cf files x %d keys through postmap: %d the same, %d changed after the fix",
				project, code, review, len(cfs), len(keys), same, changed)
		})
	}
}
