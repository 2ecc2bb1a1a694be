package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mapgate/internal/testdb"
)

// frontShapes are query shapes an admin's .cf may have, on PostfixAdmin's
// latin1 tables (and a utf8mb3 copy, and anonaddy's utf8mb3 procedure
// parameter), each with a key that is found.
var frontShapes = []struct{ name, body, good string }{
	{"plain", `query = SELECT goto FROM alias WHERE address='%s'`, "bob@example.jp"},
	{"union", `query = SELECT goto FROM alias WHERE address='%s' UNION SELECT goto FROM alias WHERE address='@%d'`, "bob@example.jp"},
	{"or_branch", `query = SELECT goto FROM alias WHERE address='%s' OR address='@%d'`, "bob@example.jp"},
	{"join", `query = SELECT alias.goto FROM alias JOIN domain ON domain.domain = alias.domain WHERE alias.address='%s' AND domain.active=1`, "bob@example.jp"},
	{"int_column", `query = SELECT goto FROM alias WHERE address='bob@example.jp' AND active='%s'`, "1"},
	{"utf8mb3_table", `query = SELECT goto FROM pf3.alias WHERE address='%s'`, "bob@example.jp"},
	{"alias_domain_concat", qAliasDomain, "bob@example.net"},
	{"like", `query = SELECT goto FROM alias WHERE address LIKE '%s'`, "bob@example.jp"},
	{"lower", `query = SELECT goto FROM alias WHERE address=LOWER('%s')`, "BOB@example.jp"},
	{"in_list", `query = SELECT goto FROM alias WHERE address IN ('%s','@%d')`, "bob@example.jp"},
	{"subquery", `query = SELECT goto FROM alias WHERE address = (SELECT address FROM alias WHERE address='%s')`, "bob@example.jp"},
	{"json", `query = SELECT goto FROM alias WHERE address = JSON_UNQUOTE(JSON_EXTRACT(JSON_OBJECT('k', '%s'), '$.k'))`, "bob@example.jp"},
	{"convert", `query = SELECT goto FROM alias WHERE address = CONVERT('%s' USING utf8mb4)`, "bob@example.jp"},
	{"binary", `query = SELECT goto FROM alias WHERE BINARY address = '%s'`, "bob@example.jp"},
	{"cast", `query = SELECT goto FROM alias WHERE address = CAST('%s' AS CHAR)`, "bob@example.jp"},
	{"substring_index", `query = SELECT goto FROM alias WHERE address = CONCAT(SUBSTRING_INDEX('%s','@',1),'@',SUBSTRING_INDEX('%s','@',-1))`, "bob@example.jp"},
	{"left", `query = SELECT goto FROM alias WHERE address = LEFT('%s', 255)`, "bob@example.jp"},
	{"if", `query = SELECT goto FROM alias WHERE address = IF(active = 1, '%s', NULL)`, "bob@example.jp"},
	{"key_regexp_col", `query = SELECT goto FROM alias WHERE '%s' REGEXP address`, "bob@example.jp"},
	{"col_regexp_key", `query = SELECT goto FROM alias WHERE address REGEXP '%s'`, "^bob@example.jp$"},
	{"not_ne", `query = SELECT goto FROM alias WHERE NOT (address <> '%s')`, "bob@example.jp"},
	{"case_when", `query = SELECT goto FROM alias WHERE CASE WHEN '%s' = address THEN 1 ELSE 0 END = 1`, "bob@example.jp"},
	{"call_procedure", `query = CALL anonaddy.check_access('%s')`, "deact@example.com"},
}

// hostileKeys are keys a sender can put in an address: characters latin1
// and utf8mb3 cannot hold, invalid UTF-8, lengths over any column, regular
// expression and LIKE metacharacters, quotes and backslashes. No NUL:
// Postfix's client sends a key as a C string, so "bob\x00@example.jp"
// reaches the front as "bob" (the front's unescaper is tested with an
// escaped NUL in mysqlfront).
func hostileKeys() []string {
	return []string{
		"ほげ@example.jp", "bob@ほげ.jp", "Ā@example.jp", "€@example.jp",
		"😀@example.jp", "josé😀@example.jp", "😀@example.com",
		"\xff@example.jp", "bob\xc3@example.jp",
		strings.Repeat("a", 250) + "@example.jp", strings.Repeat("a", 300) + "@example.jp",
		strings.Repeat("a", 300) + "@example.com", strings.Repeat("é", 300) + "@example.jp",
		"(", "[a", "a{1,70000}", `(a)\2`, "*", "+", "?x", `\`,
		"%", "user1%", "_", "%@example.jp", "%@%",
		"'", "o'brien@example.jp", `"`, "' OR '1'='1", "`",
		`bob\@example.jp`, `\0`, `\'`, `\\`,
	}
}

// TestE2EFrontHostileKeys: every query shape of frontShapes x every key of
// hostileKeys, through mapgate's MySQL front with Postfix's own postmap
// -q - (mysql: client), each hostile key followed by the shape's good key
// in the same postmap process. No key may make the front send an error
// (Postfix's client would skip the host for retry_interval, failing every
// key after it), the good key must resolve every time, and where Postfix's
// own mysql: on the original .cf answers a key without error the front
// answers the same (a LIKE '%' answer of some 300 KB included).
func TestE2EFrontHostileKeys(t *testing.T) {
	requireTools(t)
	db := startDB(t, testdb.BulkAliases("postfix", 13000))
	db.MustExec(t, testdb.Schema("pf3", "utf8mb3", "utf8mb3_general_ci"))
	schema, err := os.ReadFile(filepath.Join("..", "testdata", "corpus", "anonaddy", "schema.sql"))
	if err != nil {
		t.Fatal(err)
	}
	db.MustExec(t, fmt.Sprintf("CREATE DATABASE anonaddy; USE anonaddy;\n%s\n%s"+
		"GRANT EXECUTE ON anonaddy.* TO '%[3]s'@'127.0.0.1'; GRANT EXECUTE ON anonaddy.* TO '%[3]s'@'localhost';\n"+
		"INSERT INTO aliases (id, user_id, local_part, domain, email, active) VALUES ('1', 'u', 'deact', 'example.com', 'deact@example.com', 0);",
		schema, testdb.Grant("anonaddy"), testdb.User))
	dir := cfDir(t)
	sock := filepath.Join(dir, "front.sock")
	maps, fronts := map[string]string{}, map[string]string{}
	for _, s := range frontShapes {
		maps[s.name] = writeCF(t, dir, s.name, db, s.body)
		fronts[s.name] = writeFrontCF(t, dir, s.name, sock)
	}
	startMapgate(t, maps, frontArgs(sock)...)
	// Without smtputf8_enable, Postfix passes keys that are not UTF-8.
	conf := confDir(t, "smtputf8_enable = no")
	keys := hostileKeys()
	var report []string
	pairs, errorPackets, differed, compared, largest := 0, 0, 0, 0, 0
	for _, s := range frontShapes {
		t.Run(s.name, func(t *testing.T) {
			oracle, errKeys := mysqlAnswers(t, conf, "mysql:"+maps[s.name], append([]string{s.good}, keys...))
			want := oracle[s.good]
			if !want.found || errKeys[s.good] != "" {
				t.Fatalf("mysql: does not find the good key %q (%s): the test data or the .cf file is broken", s.good, errKeys[s.good])
			}
			var stream []string
			for _, k := range keys {
				stream = append(stream, k, s.good)
			}
			res := postmapStream(t, conf, "mysql:"+fronts[s.name], stream)
			var failed []string
			if w := lookupWarning(res.stderr); res.fatal() || w != "" {
				// Find each key that fails, one postmap process per key.
				for _, k := range keys {
					if _, reason := postmapKey(conf, "mysql:"+fronts[s.name], k); reason != "" {
						failed = append(failed, fmt.Sprintf("%+q (%s)", k, reason))
					}
				}
				t.Errorf("postmap -q - mysql:front: lookup error; keys the front fails: %s\n%s", strings.Join(failed, ", "), tail(res.stderr, 5))
			}
			got, _ := matchStream(stream, res.lines)
			for i, k := range stream {
				if i%2 == 1 {
					if got[i] != want {
						t.Errorf("good key %q after %+q: front %v, want %v", k, stream[i-1], got[i], want)
					}
					continue
				}
				pairs++
				if errKeys[k] != "" || res.fatal() {
					continue
				}
				compared++
				largest = max(largest, len(got[i].value))
				if got[i] != oracle[k] {
					differed++
					t.Errorf("key %+q: mysql:original %v (%d bytes), mysql:front %v (%d bytes)", k, oracle[k].found, len(oracle[k].value), got[i].found, len(got[i].value))
				}
			}
			errorPackets += len(failed)
			report = append(report, fmt.Sprintf("%-20s %2d keys: mysql: failed on %2d, the front on %d", s.name, len(keys), len(errKeys), len(failed)))
		})
	}
	t.Logf("front hostile keys: %d shapes x %d keys = %d pairs (each followed by a good key in the same postmap process); "+
		"%d keys the front failed (error packets); %d compared with mysql:original where it answered, %d differed; largest answer %d bytes",
		len(frontShapes), len(keys), pairs, errorPackets, compared, differed, largest)
	for _, r := range report {
		t.Log(r)
	}
}

// TestE2EAnonaddyCheckAccess: anonaddy's published check_access map (CALL
// check_access('%s'), a utf8mb3 VARCHAR(254) parameter) on its published
// schema. Through the MySQL front, `postmap -q -` prints not found for
// 😀@example.com and a 300-character local part, Postfix logs no query
// error, and the good key asked right after each still resolves; through
// socketmap the same keys are NOTFOUND. Postfix's own mysql: fails on
// them (the error that skips the host for retry_interval).
func TestE2EAnonaddyCheckAccess(t *testing.T) {
	requireTools(t)
	db := testdb.Start(t)
	schema, err := os.ReadFile(filepath.Join("..", "testdata", "corpus", "anonaddy", "schema.sql"))
	if err != nil {
		t.Fatal(err)
	}
	db.MustExec(t, fmt.Sprintf("CREATE DATABASE anonaddy; USE anonaddy;\n%s\n%s"+
		"GRANT EXECUTE ON anonaddy.* TO '%[3]s'@'127.0.0.1'; GRANT EXECUTE ON anonaddy.* TO '%[3]s'@'localhost';\n"+
		"INSERT INTO aliases (id, user_id, local_part, domain, email, active) VALUES ('1', 'u', 'deact', 'example.com', 'deact@example.com', 0);",
		schema, testdb.Grant("anonaddy"), testdb.User))
	published, err := os.ReadFile(filepath.Join("..", "testdata", "corpus", "anonaddy", "mysql-recipient-access.cf"))
	if err != nil {
		t.Fatal(err)
	}
	var body []string
	for _, l := range strings.Split(string(published), "\n") {
		if !strings.HasPrefix(l, "user") && !strings.HasPrefix(l, "password") && !strings.HasPrefix(l, "hosts") && !strings.HasPrefix(l, "dbname") {
			body = append(body, l)
		}
	}
	dir := cfDir(t)
	orig := filepath.Join(dir, "check_access.cf")
	if err := os.WriteFile(orig, []byte(fmt.Sprintf("user = %s\npassword = %s\nhosts = %s\ndbname = anonaddy\n%s\n",
		testdb.User, testdb.Password, db.Addr(), strings.Join(body, "\n"))), 0o644); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "front.sock")
	front := writeFrontCF(t, dir, "check_access", sock)
	mg := startMapgate(t, map[string]string{"check_access": orig},
		append(frontArgs(sock), "--set", "check_access_address_search=no")...)
	conf := confDir(t, "smtputf8_enable = yes")

	const good, goodValue = "deact@example.com", "DISCARD"
	bad := []string{"😀@example.com", strings.Repeat("a", 300) + "@example.com"}
	for _, k := range bad {
		if _, reason := postmapKey(conf, "mysql:"+orig, k); !strings.Contains(reason, "query failed") {
			t.Errorf("mysql: on %.20q: %q, want a query error: the test no longer reproduces the problem", k, reason)
		}
	}
	stream := []string{good, bad[0], good, bad[1], good}
	for _, table := range []string{"mysql:" + front, "socketmap:inet:" + mg.Addr + ":check_access"} {
		res := postmapStream(t, conf, table, stream)
		if w := lookupWarning(res.stderr); res.fatal() || w != "" {
			t.Errorf("postmap -q - %s: lookup error:\n%s", table, res.stderr)
		}
		got, _ := matchStream(stream, res.lines)
		for i, k := range stream {
			want := answer{}
			if k == good {
				want = answer{true, goodValue}
			}
			if got[i] != want {
				t.Errorf("%s: key %.20q (#%d): %v, want %v", table, k, i, got[i], want)
			}
		}
	}
}
