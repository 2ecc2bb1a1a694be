package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"mapgate/internal/testdb"
)

// corpusFill fills the template placeholders of the published .cf files
// (testdata/corpus/README.md) as the projects' installers do.
var corpusFill = map[string]string{
	"{server_id}":                 "1",
	"{address_without_extension}": "CONCAT(SUBSTRING_INDEX('%u', '+', 1), '@%d')",
}

// TestE2EFrontCorpus: every published .cf file of testdata/corpus
// (PostfixAdmin, iRedMail, ISPConfig, mailcow), on its project's published
// schema, through Postfix's own mysql: client straight and through the
// front: the same answer for every key the original answers without a
// database error, not found where it errs.
func TestE2EFrontCorpus(t *testing.T) {
	requireTools(t)
	db := testdb.Start(t)
	dir := cfDir(t)
	sock := filepath.Join(dir, "front.sock")
	conn := regexp.MustCompile(`^(user|password|dbname|hosts)\s*=`)
	orig, fronts := map[string]string{}, map[string]string{}
	var names []string
	for _, project := range []string{"postfixadmin", "iredmail", "ispconfig", "mailcow"} {
		schema, err := os.ReadFile(filepath.Join("..", "testdata", "corpus", project, "schema.sql"))
		if err != nil {
			t.Fatal(err)
		}
		db.MustExec(t, fmt.Sprintf("CREATE DATABASE `%[1]s`; USE `%[1]s`;\n%[2]s\n%[3]s", project, schema, testdb.Grant(project)))
		files, _ := filepath.Glob(filepath.Join("..", "testdata", "corpus", project, "*.cf"))
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var body []string
			for _, line := range strings.Split(string(data), "\n") {
				if conn.MatchString(line) {
					continue
				}
				for k, v := range corpusFill {
					line = strings.ReplaceAll(line, k, v)
				}
				body = append(body, line)
			}
			name := project + "_" + strings.NewReplacer("-", "_", ".", "_").Replace(strings.TrimSuffix(filepath.Base(f), ".cf"))
			p := filepath.Join(dir, name+".cf")
			text := fmt.Sprintf("user = %s\npassword = %s\nhosts = %s\ndbname = %s\n%s\n", testdb.User, testdb.Password, db.Addr(), project, strings.Join(body, "\n"))
			if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
			orig[name] = p
			fronts[name] = writeFrontCF(t, dir, name, sock)
			names = append(names, name)
		}
	}
	sort.Strings(names)
	startMapgate(t, orig, frontArgs(sock)...)
	conf := confDir(t, "smtputf8_enable = yes")
	keys := diffKeys()
	compared, excluded, found := 0, 0, 0
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			oracle, errKeys := mysqlAnswers(t, conf, "mysql:"+orig[name], keys)
			res := postmapStream(t, conf, "mysql:"+fronts[name], keys)
			if w := lookupWarning(res.stderr); res.fatal() || w != "" && !strings.Contains(w, "empty query string") {
				t.Fatalf("postmap -q - mysql:front: lookup error:\n%s", res.stderr)
			}
			got, _ := matchStream(keys, res.lines)
			for i, k := range keys {
				if errKeys[k] != "" {
					excluded++
					if got[i].found {
						t.Errorf("key %q: mysql: fails (%s) but the front found %q", k, errKeys[k], got[i].value)
					}
					continue
				}
				compared++
				if oracle[k].found {
					found++
				}
				if got[i] != oracle[k] {
					t.Errorf("key %q: mysql:original %s, mysql:front %s", k, oracle[k], got[i])
				}
			}
		})
	}
	t.Logf("front corpus differential: %d published .cf files x %d keys: %d compared (%d found; the schemas hold no rows, so these are queries that answer without one), equal unless errors above; %d where mysql: failed, all not found through the front",
		len(names), len(keys), compared, found, excluded)
}
