package sqlfuzz

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"vitess.io/vitess/go/vt/sqlparser"

	"mapgate/mysqlcf"
	"mapgate/sqlshape"
)

// corpusQueries are the queries of testdata/corpus/*/*.cf (PostfixAdmin,
// iRedMail, ISPConfig, mailcow) as mapgate sends them: expansions turned
// into ? placeholders.
func corpusQueries(tb testing.TB) []string {
	files, err := filepath.Glob("../../testdata/corpus/*/*.cf")
	if err != nil || len(files) == 0 {
		tb.Fatalf("no corpus: %v", err)
	}
	var out []string
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		// The published files hold placeholders for the host and account.
		data = cfSetting.ReplaceAll(data, []byte("$1 = x"))
		cf, err := mysqlcf.ParseBytes(f, data)
		if err != nil {
			tb.Fatalf("%s: %v", f, err)
		}
		out = append(out, cf.Query.SQL)
	}
	return out
}

var cfSetting = regexp.MustCompile(`(?m)^(hosts|user|password|dbname)[ \t]*=.*$`)

var namedBind = regexp.MustCompile(`^v[0-9]+$`)

// compare reports a disagreement between sqlshape and vitess on q, or "".
// The two must agree on the number of ? placeholders, and on the kind of
// statement: where vitess reads a SELECT (or a set operation of SELECTs),
// sqlshape must not call it "not a SELECT statement"; where vitess reads
// another kind, sqlshape must analyse no placeholder as known.
func compare(p *sqlparser.Parser, q string) string {
	stmt, binds, err := vitessParse(p, q)
	if err != nil {
		return "" // vitess rejects it: nothing to compare
	}
	for name := range binds {
		if !namedBind.MatchString(name) {
			return "" // a :name bind variable, which MySQL does not have
		}
	}
	if strings.Contains(q, ":v") {
		return ""
	}
	// vitess reads // as the start of a comment; MySQL does not (it is
	// division twice, a syntax error): sqlshape counts a ? after it, as
	// MySQL's tokenizer does.
	if _, ok := stmt.(*sqlparser.CommentOnly); ok || strings.Contains(q, "//") {
		return ""
	}
	// vitess reads @? as a variable named ?; MySQL's lexer reads a lone @
	// and a placeholder, and rejects the statement.
	if strings.Contains(q, "@?") {
		return ""
	}
	if _, err := sqlshape.Placeholders(q); err != nil {
		// An unterminated literal, quoted name or comment: MySQL rejects
		// the statement (vitess reads @" as a variable named by what
		// follows, "SELECT(@\")%?)" with one placeholder).
		return ""
	}
	uses := sqlshape.ParamUses(q)
	if len(uses) != len(binds) {
		return "placeholders: sqlshape " + strconv.Itoa(len(uses)) + ", vitess " + strconv.Itoa(len(binds))
	}
	_, isSelect := stmt.(sqlparser.SelectStatement)
	for _, u := range uses {
		if isSelect && strings.Contains(u.Why, "not a SELECT statement") {
			return "kind: vitess reads a SELECT, sqlshape does not"
		}
		if !isSelect && u.Known {
			return "kind: vitess reads " + sqlparser.ASTToStatementType(stmt).String() + ", sqlshape analysed a placeholder"
		}
	}
	return ""
}

// vitessParse is Parse2, with a panic of vitess' own (v0.24.4 panics on
// "SET````": slice bounds out of range) taken as a rejection.
func vitessParse(p *sqlparser.Parser, q string) (stmt sqlparser.Statement, binds sqlparser.BindVars, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("vitess panicked: %v", r)
		}
	}()
	return p.Parse2(q)
}

// shapeHangs reports whether sqlshape alone takes more than 2 s on q.
func shapeHangs(q string) bool {
	done := make(chan struct{})
	go func() { sqlshape.ParamUses(q); close(done) }()
	select {
	case <-done:
		return false
	case <-time.After(2 * time.Second):
		return true
	}
}

// Every corpus query: the two agree.
func TestCorpusAgrees(t *testing.T) {
	p := sqlparser.NewTestParser()
	qs := corpusQueries(t)
	parsed := 0
	for _, q := range qs {
		if _, _, err := p.Parse2(q); err == nil {
			parsed++
		} else {
			t.Logf("vitess rejects: %v\n  %s", err, q)
		}
		if d := compare(p, q); d != "" {
			t.Errorf("%s\n  %s", d, q)
		}
	}
	t.Logf("%d corpus queries, %d read by vitess", len(qs), parsed)
}

func FuzzShapeVsVitess(f *testing.F) {
	for _, q := range corpusQueries(f) {
		f.Add(q)
	}
	p := sqlparser.NewTestParser()
	f.Fuzz(func(t *testing.T, q string) {
		// A hang is a failure with its input, not a stalled worker.
		done := make(chan string, 1)
		go func() { done <- compare(p, q) }()
		select {
		case d := <-done:
			if d != "" {
				t.Errorf("%s\n  %q", d, q)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("no answer in 5 s (sqlshape %v)\n  %q", shapeHangs(q), q)
		}
	})
}
