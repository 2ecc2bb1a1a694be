package e2e

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"

	"golang.org/x/text/unicode/norm"
)

// diffMap is one .cf file of the differential test.
type diffMap struct {
	name, body string
}

var diffMaps = []diffMap{
	{"alias", qAlias},
	{"alias_domain_filter", qAlias + "\ndomain = example.jp"},
	{"alias_domain_filter_list", qAlias + "\ndomain = example.jp, example.com"},
	{"alias_result_format", qAlias + "\nresult_format = %u at %d (%s) for %U at %D"},
	{"alias_result_format_smtp", qAlias + "\nresult_format = smtp:[%d]"},
	{"alias_domain", qAliasDomain},
	{"catchall", qCatchall},
	{"domain_catchall", qDomainCatchall},
	{"mailbox", qMailbox},
	{"domain_mailbox", qDomainMailbox},
	{"domains", qDomains},
	{"aliases_of_domain", `query = SELECT address FROM alias WHERE domain='%s' AND active = '1'`},
	{"components", `query = SELECT goto FROM alias WHERE address = CONCAT('%u', '@', '%2', '.', '%1') AND active = '1'`},
	{"legacy", "table = alias\nselect_field = goto\nwhere_field = address\nadditional_conditions = AND active = '1'"},
}

// diffKeys is the key corpus: case variants, keys without @ or with an empty
// part, quotes, backslashes, %, spaces, + extensions, latin1 (cp1252)
// characters, and keys no latin1 column can hold.
func diffKeys() []string {
	keys := []string{
		"bob@example.jp", "BOB@EXAMPLE.JP", "Bob@Example.Jp", "bob@EXAMPLE.jp",
		"alice@example.jp", "ALICE@example.jp", "inactive@example.jp", "nobody@example.jp",
		"josé@example.jp", "JOSÉ@EXAMPLE.JP", "José@example.jp", "jose@example.jp", "josè@example.jp",
		"o'brien@example.jp", "O'Brien@Example.jp", "o''brien@example.jp", `o\'brien@example.jp`,
		"@example.com", "@EXAMPLE.COM", "anyone@example.com", "ANYONE@Example.COM",
		"bob@example.net", "BOB@EXAMPLE.NET", "josé@example.net", "alice@example.net", "@example.net", "nobody@example.net",
		"someone@example.info", "@example.info",
		"example.jp", "EXAMPLE.JP", "example.com", "example.net", "example.org", "example", "jp", ".jp",
		"bob", "BOB", "bob@", "@", "@@", "bob@@example.jp", "bob@example.jp@example.jp", "a@b@c", "bob@.jp", "bob@jp",
		"", " ", "  bob@example.jp", "bob@example.jp ", "bob @example.jp", "bob@ example.jp", "b o b@example.jp",
		"%", "%%", "%s", "%u@%d", "%1", "100%@example.jp", "bob%@example.jp", "b%ob@example.jp", "%@example.jp",
		`\`, `\\`, `bob\@example.jp`, `bob\\@example.jp`, `bob@example.jp\`, `\'`, `\0`,
		"'", "''", "' OR '1'='1", "bob@example.jp' OR '1'='1", "bob'--", "x' UNION SELECT goto FROM alias -- ",
		`"bob"@example.jp`, `"bob@example.jp"`, "`bob`@example.jp", ";", "bob;@example.jp",
		"bob+tag@example.jp", "bob+@example.jp", "+tag@example.jp", "bob+tag+more@example.jp", "BOB+TAG@EXAMPLE.JP",
		"anyone+tag@example.com", "alice-tag@example.jp",
		"naïve@example.jp", "ß@example.jp", "ÿ@example.jp", "Ÿ@example.jp", "€@example.jp", "Œuvre@example.jp",
		"š@example.jp", "Š@example.jp", "bob@exämple.jp", "café", "ÉXAMPLE.JP",
		"ほげ@example.jp", "ホゲ@example.jp", "😀@example.jp", "bob@ほげ.jp", "ほげ", "josé😀@example.jp",
		"Ā@example.jp", "ǅ@example.jp", "İ@example.jp", "ſ@example.jp", "ﬀ@example.jp",
		"jose\u0301@example.jp", // NFD josé: Postfix passes it as is, mapgate normalises to NFC
		"\u00a0@example.jp", "\u200b@example.jp", "\ufeffbob@example.jp",
		"\xff@example.jp", "bob\xc3@example.jp", // invalid UTF-8: postmap drops these itself
		strings.Repeat("a", 64) + "@example.jp", strings.Repeat("a", 300) + "@example.jp", strings.Repeat("é", 260) + "@example.jp",
		"bob@example.jp\tx", "tab\there",
	}
	return keys
}

// TestE2EDifferential: Postfix as the oracle. For every .cf file and key,
// `postmap -q - mysql:FILE` and `postmap -q - socketmap:inet:...:NAME` (mapgate
// with address search off: postmap -q does not run it) give the same
// answer for every key that mysql: answers without error. Keys on which
// mysql: fails (characters a latin1 column cannot hold) are excluded from the
// comparison, and mapgate must answer them without error (NOTFOUND unless
// Unicode normalisation makes them representable).
func TestE2EDifferential(t *testing.T) {
	requireTools(t)
	db := startDB(t, `INSERT INTO alias_domain (alias_domain, target_domain) VALUES ('example.info','example.com');`)
	dir := cfDir(t)
	maps := map[string]string{}
	var extra []string
	for _, m := range diffMaps {
		maps[m.name] = writeCF(t, dir, m.name, db, m.body)
		extra = append(extra, "--set", m.name+"_address_search=no")
	}
	mg := startMapgate(t, maps, extra...)
	conf := confDir(t, "smtputf8_enable = yes")

	keys := diffKeys()
	compared, excluded, total := 0, 0, 0
	var report []string
	for _, m := range diffMaps {
		t.Run(m.name, func(t *testing.T) {
			corpus := keys
			oracle, errKeys := mysqlAnswers(t, conf, "mysql:"+maps[m.name], corpus)

			if countFoundMap(oracle) == 0 {
				t.Errorf("mysql: found none of the keys: the test data or the .cf file is broken")
			}
			if _, ok := errKeys["ほげ@example.jp"]; !ok && m.name == "alias" {
				t.Errorf("mysql: did not fail on ほげ@example.jp: the test no longer reproduces the problem")
			}
			res := postmapStream(t, conf, "socketmap:inet:"+mg.Addr+":"+m.name, corpus)
			if res.fatal() || lookupWarning(res.stderr) != "" {
				t.Fatalf("postmap -q - socketmap: lookup error (mapgate must never fail a key here):\n%s", res.stderr)
			}
			got, _ := matchStream(corpus, res.lines)
			if consumed := countFound(got); consumed != len(res.lines) {
				t.Fatalf("socketmap stream: %d output lines, %d matched keys:\n%s", len(res.lines), consumed, strings.Join(res.lines, "\n"))
			}
			for i, k := range corpus {
				total++
				if errKeys[k] != "" {
					excluded++
					if got[i].found && norm.NFC.String(k) == k {
						t.Errorf("key %q: mysql: fails (%s) but mapgate found %q; want NOTFOUND", k, errKeys[k], got[i].value)
					}
					continue
				}
				compared++
				if got[i] != oracle[k] {
					t.Errorf("key %q: mysql: %s, mapgate: %s", k, oracle[k], got[i])
				}
			}
			var ek []string
			for k := range errKeys {
				ek = append(ek, fmt.Sprintf("%+q", k))
			}
			sort.Strings(ek)
			report = append(report, fmt.Sprintf("%-26s %3d keys, %3d found by mysql:, mysql: failed on %d: %s",
				m.name, len(corpus), countFoundMap(oracle), len(errKeys), strings.Join(ek, " ")))
		})
	}
	t.Logf("differential: %d .cf files x %d keys = %d comparisons of postmap mysql: vs socketmap (mapgate); "+
		"%d compared (equal unless errors above), %d excluded because mysql: failed on the key", len(diffMaps), len(keys), total, compared, excluded)
	for _, r := range report {
		t.Log(r)
	}
}

func (a answer) String() string {
	if !a.found {
		return "not found"
	}
	return fmt.Sprintf("found %q", a.value)
}

func countFound(as []answer) int {
	n := 0
	for _, a := range as {
		if a.found {
			n++
		}
	}
	return n
}

func countFoundMap(m map[string]answer) int {
	n := 0
	for _, a := range m {
		if a.found {
			n++
		}
	}
	return n
}

// mysqlAnswers asks Postfix's mysql: client for every key. postmap stops
// (fatal) at the first key whose query fails, and loses the answers it had
// buffered (and sleeps a second before it exits), so: one stream of the
// ASCII keys and one postmap per other key; if even that stream fails, one
// postmap per key. It returns the answers of the keys mysql: answered and, for the
// others, the warning it logged.
func mysqlAnswers(t *testing.T, conf, table string, keys []string) (map[string]answer, map[string]string) {
	t.Helper()
	answers := map[string]answer{}
	stream := func(ks []string) bool {
		res := postmapStream(t, conf, table, ks)
		if res.fatal() {
			return false
		}
		got, _ := matchStream(ks, res.lines)
		if countFound(got) != len(res.lines) {
			t.Fatalf("%s: %d output lines, %d matched keys", table, len(res.lines), countFound(got))
		}
		for i, k := range ks {
			answers[k] = got[i]
		}
		return true
	}
	var ascii, other []string
	for _, k := range keys {
		if isASCII(k) {
			ascii = append(ascii, k)
		} else {
			other = append(other, k)
		}
	}
	single := other
	if !stream(ascii) {
		single = keys
	}
	each, errKeys := postmapEach(conf, table, single)
	for k, a := range each {
		answers[k] = a
	}
	return answers, errKeys
}

// postmapEach asks table for each key in a postmap of its own (4 at a
// time), and returns the answers of the keys it answered and, for the
// others, the warning it logged.
func postmapEach(conf, table string, keys []string) (map[string]answer, map[string]string) {
	answers := map[string]answer{}
	errKeys := map[string]string{}
	type result struct {
		key    string
		a      answer
		reason string
	}
	results := make(chan result, len(keys))
	work := make(chan string)
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range work {
				a, reason := postmapKey(conf, table, k)
				results <- result{k, a, reason}
			}
		}()
	}
	for _, k := range keys {
		work <- k
	}
	close(work)
	wg.Wait()
	close(results)
	for r := range results {
		if r.reason != "" {
			errKeys[r.key] = r.reason
		} else {
			answers[r.key] = r.a
		}
	}
	return answers, errKeys
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// lookupWarning returns postmap's first warning other than the non-UTF-8
// key notice (Postfix itself drops such keys before any lookup).
func lookupWarning(stderr string) string {
	for _, l := range strings.Split(stderr, "\n") {
		if strings.Contains(l, "warning:") && !strings.Contains(l, "non-UTF-8 key") {
			return l
		}
	}
	return ""
}
