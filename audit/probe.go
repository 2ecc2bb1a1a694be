package audit

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/go-sql-driver/mysql"

	"mapgate/charset"
	"mapgate/engine"
	mysqleng "mapgate/engine/mysql"
	"mapgate/hosts"
	"mapgate/lookup"
)

// probeClass is one class of real-world keys.
type probeClass struct {
	id, label string
	sample    string // the local part and domain label of the probe key
}

// probeClasses are sent in this order. ASCII comes first: it proves that
// the query works at all (and, when it fails, mixed collations).
var probeClasses = []probeClass{
	{"ascii", "ASCII", "mapgate-audit"},
	{"latin1", "Latin-1 accents (é)", "jos\u00e9"},
	{"japanese", "Japanese", "\u307b\u3052"},
	{"cyrillic", "Cyrillic", "\u043f\u043e\u0447\u0442\u0430"},
	{"greek", "Greek", "\u03b1\u03bb\u03c6\u03b1"},
	{"4byte", "4-byte (emoji, rare CJK)", "\U0001F600\U0002000B"},
	{"invalid_utf8", "invalid UTF-8", "x\xff\xfe"},
	{"too_long", "over-long", ""},
}

// classLabel returns the label of a class id.
func classLabel(id string) string {
	for _, c := range probeClasses {
		if c.id == id {
			return c.label
		}
	}
	return id
}

// mysqlErrNo returns the server error number of err, 0 if none.
func mysqlErrNo(err error) uint16 {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return me.Number
	}
	return 0
}

// privilegeErrors mean the account may not read something.
var privilegeErrors = map[uint16]bool{1044: true, 1045: true, 1142: true, 1143: true, 1227: true, 1370: true}

// failureFor turns a query error into a Failure.
func failureFor(file string, err error) *Failure {
	n := mysqlErrNo(err)
	switch {
	case privilegeErrors[n]:
		return &Failure{Stage: "privileges", File: file, Message: "no privileges: " + err.Error()}
	case n == 1146:
		return &Failure{Stage: "table", File: file, Message: "a table of the query does not exist (every lookup of this map fails): " + err.Error()}
	}
	return &Failure{Stage: "query", File: file, Message: "the query failed: " + err.Error()}
}

// probeKey builds the key for class c: sample@sample.example, with more
// labels when the template needs them (%1-%9), and for too_long a local
// part and labels longer than maxChars.
func probeKey(c probeClass, t engine.Template, maxChars int) (key string, args []any, ok bool) {
	s := c.sample
	if c.id == "too_long" {
		if maxChars <= 0 {
			maxChars = 255
		}
		s = strings.Repeat("a", maxChars+1)
	}
	for labels := 1; labels <= 9; labels++ {
		key = s + "@" + strings.Repeat(s+".", labels) + "example"
		if args, ok = t.Expand(key, nil); ok {
			return key, args, true
		}
	}
	return key, nil, false
}

// displayKey escapes a probe key for the report, shortening over-long ones.
func displayKey(c probeClass, key string) string {
	if c.id == "too_long" {
		at := strings.IndexByte(key, '@')
		return fmt.Sprintf("%d x \"a\" @ ...", at)
	}
	return charset.Escape(key)
}

// runReadOnly runs one statement in a READ ONLY transaction, counts the
// rows with a value (a non-NULL column, as Postfix and mapgate count a
// result) and rolls the transaction back.
func runReadOnly(ctx context.Context, db *sql.DB, query string, args ...any) (int, error) {
	tx, err := db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return 0, err
	}
	defer tx.Rollback() //nolint:errcheck // read-only; nothing to keep
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	cols, err := rows.Columns()
	if err != nil {
		rows.Close()
		return 0, err
	}
	vals := make([]sql.RawBytes, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	n := 0
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			rows.Close()
			return n, err
		}
		for _, v := range vals {
			if v != nil {
				n++
				break
			}
		}
	}
	err = rows.Err()
	if cerr := rows.Close(); err == nil {
		err = cerr
	}
	return n, err
}

// verdict fills a probe's server result from err. control is true when
// the ASCII probe ran without error: the query works, and a server error
// for this probe is the key's doing (the key is all that differs), whatever
// its number. It returns err when the audit cannot go on for this file (a
// host fault, or the query failing for the ASCII key for a reason that is
// not a collation).
func (p *Probe) verdict(err error, control bool) error {
	if err == nil {
		p.Server = "ok"
		return nil
	}
	n := mysqlErrNo(err)
	if n == 0 {
		return err
	}
	p.Server = fmt.Sprintf("error %d", n)
	p.Error = err.Error()
	switch {
	case mysqleng.Classify(err, true) == hosts.ClassHost:
		return err
	case mysqleng.IsCharsetError(err), control:
		p.Breaks = true
		return nil
	}
	return err
}

// mapgate fills in what mapgate answers for the probe's key: its own
// lookup path, asked through lookup.Map.Explain.
func (p *Probe) mapgate(ex lookup.Explanation) {
	r := ex.Result
	switch {
	case r.Found:
		p.MapgateAnswer = "found"
	case r.Failed():
		p.MapgateAnswer = "temp"
	default:
		p.MapgateAnswer = "notfound"
	}
	p.Mapgate = p.MapgateAnswer
	switch {
	case ex.Rejected != "":
		// Postfix's own dict layer answers these keys "not found" before
		// any table sees them (dict_utf8, and no client can send a NUL).
		p.postfixRejects = true
		p.Mapgate += ", no query: " + ex.Rejected
		return
	case r.Failed():
		p.Mapgate += ": " + r.Class.String()
		return
	}
	for _, st := range ex.Steps {
		switch {
		case st.Plan.Miss != nil:
			p.Mapgate += ", no query: " + st.Plan.Miss.Reason.String()
			if st.Plan.Miss.Column != "" {
				p.Mapgate += " (" + st.Plan.Miss.Column + ")"
			}
		case len(st.Plan.Null) > 0:
			var ps []string
			for _, i := range st.Plan.Null {
				ps = append(ps, fmt.Sprintf("?%d", i+1))
			}
			p.Mapgate += ", " + strings.Join(ps, " ") + " bound as NULL"
		}
		break // the probe's one step (the audit's map asks the key alone)
	}
}

// agree compares mapgate's answer with the server's: a key the server
// refuses must be one mapgate answers NOTFOUND (it proved that no row
// matches) and not TEMP, a key the server returns rows for must not be
// NOTFOUND (a wrong NOTFOUND), and a key the server answers must not be
// TEMP. A key Postfix itself never looks up (invalid UTF-8 with
// smtputf8_enable, dict_utf8.c) is not found whatever the server says.
func (p *Probe) agree() {
	switch {
	case p.postfixRejects:
		p.Agrees = p.MapgateAnswer == "notfound"
	case p.MapgateAnswer == "notfound":
		p.Agrees = p.Breaks || p.Rows == 0
		p.WrongNotFound = !p.Breaks && p.Rows > 0
	case p.MapgateAnswer == "found":
		p.Agrees = !p.Breaks && p.Rows > 0
	default:
		p.Agrees = false
	}
}
