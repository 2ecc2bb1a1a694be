package e2e

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// frontUser and frontPassword are the MySQL front's credentials in tests.
const (
	frontUser     = "postfix"
	frontPassword = "front-secret"
)

// writeFrontCF writes the .cf that points a mysql: table at mapgate's MySQL
// front in the older form (query = '%s' alone, no expansion_limit): every
// answer is rows or not found, never a failure of one key, so one postmap
// -q - stream sees every key. migrate's form is writeSQLFrontCF's limited
// one (TestE2EFrontFailsOneKey, the delivery tests).
func writeFrontCF(t *testing.T, dir, name, sock string) string {
	return writeSQLFrontCF(t, dir, "mysql", name, sock, false)
}

// frontArgs are the mapgate arguments that open the MySQL front on sock.
func frontArgs(sock string) []string {
	return []string{"--set", "mysql_listen=unix:" + sock, "--set", "mysql_user=" + frontUser,
		"--set", "mysql_password=" + frontPassword, "--set", "socket_mode=0666"}
}

// TestE2EFrontDifferential: Postfix as the oracle, through its own mysql:
// client on both sides. For every .cf file and key, `postmap -q KEY
// mysql:front.cf` (mapgate's MySQL front, the admin's .cf behind it) must
// print exactly what `postmap -q KEY mysql:original.cf` prints, wherever
// the original answers without a database error; where it errs, the front
// answers not found, without error.
func TestE2EFrontDifferential(t *testing.T) {
	requireTools(t)
	db := startDB(t, `INSERT INTO alias_domain (alias_domain, target_domain) VALUES ('example.info','example.com');`)
	dir := cfDir(t)
	sock := filepath.Join(dir, "front.sock")
	maps := map[string]string{}
	fronts := map[string]string{}
	for _, m := range diffMaps {
		maps[m.name] = writeCF(t, dir, m.name, db, m.body)
		fronts[m.name] = writeFrontCF(t, dir, m.name, sock)
	}
	startMapgate(t, maps, frontArgs(sock)...)
	conf := confDir(t, "smtputf8_enable = yes")

	keys := diffKeys()
	compared, excluded, total, found := 0, 0, 0, 0
	var report []string
	for _, m := range diffMaps {
		t.Run(m.name, func(t *testing.T) {
			oracle, errKeys := mysqlAnswers(t, conf, "mysql:"+maps[m.name], keys)
			if countFoundMap(oracle) == 0 {
				t.Errorf("mysql: found none of the keys: the test data or the .cf file is broken")
			}
			if _, ok := errKeys["ほげ@example.jp"]; !ok && m.name == "alias" {
				t.Errorf("mysql: did not fail on ほげ@example.jp: the test no longer reproduces the problem")
			}
			res := postmapStream(t, conf, "mysql:"+fronts[m.name], keys)
			if w := lookupWarning(res.stderr); res.fatal() || w != "" && !strings.Contains(w, "empty query string") {
				t.Fatalf("postmap -q - mysql:front: lookup error (the front must never fail a key here):\n%s", res.stderr)
			}
			got, _ := matchStream(keys, res.lines)
			if n := countFound(got); n != len(res.lines) {
				t.Fatalf("front stream: %d output lines, %d matched keys:\n%s", len(res.lines), n, strings.Join(res.lines, "\n"))
			}
			for i, k := range keys {
				total++
				if errKeys[k] != "" {
					excluded++
					if got[i].found {
						t.Errorf("key %q: mysql: fails (%s) but the front found %q; want not found", k, errKeys[k], got[i].value)
					}
					continue
				}
				compared++
				if got[i].found {
					found++
				}
				if got[i] != oracle[k] {
					t.Errorf("key %q: mysql:original %s, mysql:front %s", k, oracle[k], got[i])
				}
			}
			var ek []string
			for k := range errKeys {
				ek = append(ek, fmt.Sprintf("%+q", k))
			}
			sort.Strings(ek)
			report = append(report, fmt.Sprintf("%-26s %3d keys, %3d found by mysql:, mysql: failed on %d: %s",
				m.name, len(keys), countFoundMap(oracle), len(errKeys), strings.Join(ek, " ")))
		})
	}
	t.Logf("front differential: %d .cf files x %d keys = %d comparisons of postmap mysql:original vs mysql:front; "+
		"%d compared (%d found), equal unless errors above; %d where mysql: failed, all not found through the front",
		len(diffMaps), len(keys), total, compared, found, excluded)
	for _, r := range report {
		t.Log(r)
	}
}
