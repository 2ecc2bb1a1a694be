package audit

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"

	"mapgate/answer"
	"mapgate/engine/pgsql"
	"mapgate/hosts"
	"mapgate/lookup"
)

// pgsqlFile audits one pgsql_table(5) file (a map's "pgsql:" table). There
// are no collations or column charsets to convert: PostgreSQL converts a
// key to the database encoding as it binds it, wherever it sits in the
// statement, and refuses the whole statement for a key the encoding
// cannot hold (22P05), that is not UTF-8 (22021), or that an integer
// parameter cannot take (22P02). The probes show which classes of keys do
// that, each through a UTF-8 client as Postfix 3.8 and later connect
// (earlier ones hard-wire LATIN1), in a read-only transaction, beside
// mapgate's own answer for the same key. The database encoding changes only
// by dump and restore, so the fix is said, not printed as SQL.
func (a *auditor) pgsqlFile(ctx context.Context, name, path string, mopts lookup.MapOptions) *FileReport {
	fr := &FileReport{Path: "pgsql:" + path}
	fail := func(f *Failure) *FileReport {
		f.File = fr.Path
		fr.Failure = f
		return fr
	}
	t, err := pgsql.Engine{}.ReadTable(path)
	if err != nil {
		return fail(&Failure{Stage: "read", Message: err.Error()})
	}
	cf := pgsql.File(t)
	if cf.EncodingSet {
		fr.CFCharset = cf.Encoding
	}
	fr.Query = t.Statement
	cctx, cancel := context.WithTimeout(ctx, a.opts.DialTimeout)
	db, host, err := hosts.Connect(cctx, t, hosts.PoolOptions{DialTimeout: a.opts.DialTimeout, QueryTimeout: a.opts.QueryTimeout})
	cancel()
	if err != nil {
		return fail(&Failure{Stage: "connect", Message: err.Error()})
	}
	defer db.Close()
	fr.Host = host.Name()
	fr.Database = cf.DBName
	qctx, qcancel := context.WithTimeout(ctx, a.opts.QueryTimeout)
	defer qcancel()
	facts, err := pgsql.Engine{}.Discover(qctx, db, t)
	if err != nil {
		return fail(&Failure{Stage: "query", Message: err.Error()})
	}
	enc, types, numeric, nondet := pgsql.Describe(facts)
	fr.Conn = Conn{Charset: "UTF8 (client_encoding)", Collation: "database encoding " + enc}
	for i, p := range cf.Query.Params {
		pr := Param{Index: i + 1, Expansion: p.Expansion, Known: true}
		if i < len(types) {
			pr.Op = types[i]
		}
		fr.Params = append(fr.Params, pr)
	}

	mg, err := newMapgateView(name, t, mopts, a.opts)
	if err != nil {
		return fail(&Failure{Stage: "read", Message: err.Error()})
	}
	defer mg.close()
	var breaks []string
	temps := 0
	for _, c := range probeClasses {
		key, args, ok := probeKey(c, t.Query, 255)
		if !ok {
			continue
		}
		pr := &Probe{Class: c.id, Label: c.label, Key: displayKey(c, key)}
		pr.Rows, err = runReadOnly(qctx, db, t.Statement, args...)
		if err := pr.pgVerdict(err); err != nil {
			fr.Probes = append(fr.Probes, pr)
			return fail(failureFor(fr.Path, err))
		}
		pr.mapgate(mg.m.Explain(qctx, key))
		pr.agree()
		fr.Probes = append(fr.Probes, pr)
		if pr.Breaks {
			breaks = append(breaks, c.label+" ("+strings.TrimPrefix(pr.Server, "error ")+")")
			if pr.MapgateAnswer == "temp" {
				temps++
			}
		}
	}

	add := func(sev, kind, text string) {
		fr.Findings = append(fr.Findings, Finding{Severity: sev, Kind: kind, Text: text})
	}
	if len(breaks) > 0 {
		fr.AtRisk = true
		add(SevRisk, "breaking_keys", fmt.Sprintf("keys of these classes make the server refuse the whole statement through a UTF-8 client, as Postfix 3.8 and later connect: %s. Postfix's pgsql: client then marks the host down for retry_interval (60 s), and every lookup of every key fails meanwhile. Serve the map through mapgate (socketmap), which answers such keys without failing the others.", strings.Join(breaks, ", ")))
	}
	if temps > 0 {
		add(SevWarning, "mapgate_temp_breaking", fmt.Sprintf("mapgate answers TEMP for %d of these classes: the query's shape does not prove that the key is needed by every branch (see the query shape in mapgate's log)", temps))
	}
	for i, isNum := range numeric {
		if isNum {
			add(SevRisk, "integer_comparison", fmt.Sprintf("$%d is read as %s: a key that is not a number fails the statement (22P02) with every Postfix version. Compare it as text (for example %s::text = '%%s'), or keep such keys away from the map (domain, a check_*_access regexp).", i+1, types[i], columnHint(cf.QueryText, i)))
			fr.AtRisk = true
		}
	}
	switch enc {
	case "UTF8":
		add(SevInfo, "database_encoding", "the database encoding is UTF8: it holds every key. Postfix 3.7 and older hard-wire client_encoding LATIN1, so an internationalized key is read as Latin-1 and never found (a wrong 550); mapgate speaks UTF-8 and finds it.")
	case "SQL_ASCII":
		add(SevWarning, "database_encoding", "the database encoding is SQL_ASCII: the server converts nothing, so a key matches only the bytes stored; rows written by clients of another encoding are not found with UTF-8 keys. A PostgreSQL database's encoding changes only by dump and restore (pg_dump, createdb -E UTF8 -T template0, restore): there is no ALTER for it.")
	default:
		add(SevWarning, "database_encoding", fmt.Sprintf("the database encoding is %s: a key with a character it lacks can never be found (mapgate answers not found where every branch of the query needs the key). To hold every address, move the data to a UTF8 database: an encoding changes only by dump and restore (pg_dump, createdb -E UTF8 -T template0, restore), there is no ALTER for it.", enc))
	}
	if nondet {
		add(SevInfo, "nondeterministic_collation", "the database has a nondeterministic collation: mapgate leaves every key's characters to the database")
	}
	if !fr.AtRisk {
		add(SevInfo, "safe", "no probe key makes the query fail")
	}
	return fr
}

// pgVerdict sets the probe's server answer from the error of its query: a
// value the server refused (SQLSTATE class 22) is a class of keys that
// breaks the map; a host or query error is returned (the audit stops).
func (p *Probe) pgVerdict(err error) error {
	if err == nil {
		p.Server = "ok"
		return nil
	}
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return err
	}
	p.Server = "error " + pe.Code
	p.Error = err.Error()
	if strings.HasPrefix(pe.Code, "22") && (pgsql.Engine{}).Classify(err, true) != answer.ClassHost {
		p.Breaks = true
		return nil
	}
	return err
}

// columnHint names the column parameter i is compared with in the query
// text, when it reads "column = '%…'", for the fix's example.
func columnHint(query string, i int) string {
	n := -1
	for j := 0; j < len(query); j++ {
		if query[j] != '%' || j+1 >= len(query) || query[j+1] == '%' {
			if j+1 < len(query) && query[j] == '%' {
				j++
			}
			continue
		}
		if n++; n == i {
			before := strings.TrimRight(strings.TrimSuffix(strings.TrimRight(query[:j], " "), "'"), " ")
			before = strings.TrimRight(strings.TrimSuffix(before, "="), " ")
			if k := strings.LastIndexAny(before, " (,"); k >= 0 {
				before = before[k+1:]
			}
			if before != "" {
				return before
			}
			break
		}
	}
	return "column"
}
