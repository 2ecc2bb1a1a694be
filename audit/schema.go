package audit

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/go-sql-driver/mysql"

	"mapgate/schema"
)

// textTypes are the column types a key can be compared with.
var textTypes = map[string]bool{"char": true, "varchar": true, "tinytext": true, "text": true, "mediumtext": true, "longtext": true}

// Schema audits every text column of one database, without .cf files:
// dsn is a go-sql-driver DSN (user:password@tcp(host:port)/), database
// the schema (it overrides the DSN's). Each column is probed with
// EXPLAIN SELECT 1 FROM t WHERE col = ? per key class (the server refuses
// a comparison it cannot make while preparing it, as it does for the real
// query), and pairs of indexed columns of different collations are
// compared with each other to prove that joins between them fail.
func Schema(ctx context.Context, dsn, database string, opts Options) *Report {
	a := newAuditor(opts)
	sr := &SchemaReport{Database: database}
	a.report.Schema = sr
	fail := func(f *Failure) *Report {
		sr.Failure = f
		return a.report
	}
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return fail(&Failure{Stage: "connect", Message: "bad --dsn: " + err.Error()})
	}
	if database != "" {
		cfg.DBName = database
	}
	if cfg.DBName == "" {
		return fail(&Failure{Stage: "connect", Message: "no database: give --database"})
	}
	sr.Database = cfg.DBName
	cfg.Timeout = a.opts.DialTimeout
	connector, err := mysql.NewConnector(cfg)
	if err != nil {
		return fail(&Failure{Stage: "connect", Message: "bad --dsn: " + err.Error()})
	}
	db := sql.OpenDB(connector)
	defer db.Close()
	db.SetMaxOpenConns(2)
	ctx, cancel := context.WithTimeout(ctx, a.opts.QueryTimeout)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		if privilegeErrors[mysqlErrNo(err)] {
			return fail(&Failure{Stage: "privileges", Message: "cannot connect as " + cfg.User + ": no privileges: " + err.Error()})
		}
		return fail(&Failure{Stage: "connect", Message: "cannot connect: " + err.Error()})
	}
	host := cfg.Addr
	sr.Conn.Charset, sr.Conn.Collation, err = schema.ConnectionCharset(ctx, db)
	if err != nil {
		return fail(failureFor("", err))
	}
	tables, order, err := loadTables(ctx, db, sr.Database, nil)
	if err != nil {
		return fail(failureFor("", err))
	}
	if len(order) == 0 {
		return fail(&Failure{Stage: "privileges", Message: fmt.Sprintf("database %s has no tables this account may read (no privileges, or no such database)", sr.Database)})
	}

	type keyCol struct {
		t *tableMeta
		c *colMeta
	}
	var indexed []keyCol
	for _, tn := range order {
		t := tables[tn]
		a.tables[host+"|"+t.schema+"|"+t.name] = t
		if err := t.sample(ctx, db, a.opts.Examples); err != nil {
			return fail(failureFor("", err))
		}
		for _, c := range t.cols {
			if !c.textual() || !textTypes[strings.ToLower(c.dataType)] {
				continue
			}
			col := &Column{Schema: t.schema, Table: t.name, Column: c.name, Type: c.colType, Charset: c.charset,
				Collation: c.collation, MaxChars: c.maxChars, Indexed: c.indexed, Data: c.data}
			q := fmt.Sprintf("EXPLAIN SELECT 1 FROM %s WHERE %s = ?", t.qualified(), quoteIdent(c.name))
			for _, pc := range probeClasses {
				s := pc.sample
				if pc.id == "too_long" {
					if c.maxChars > 4096 {
						continue // a text type: no key is that long
					}
					s = strings.Repeat("a", c.maxChars+1)
				}
				key := s + "@" + s + ".example"
				p := &Probe{}
				if err := p.verdict(runRows(ctx, db, q, func(*sql.Rows) error { return nil }, key), false); err != nil {
					return fail(failureFor("", err))
				}
				if p.Breaks {
					col.Breaks = append(col.Breaks, pc.id)
				}
			}
			if len(col.Breaks) > 0 {
				sr.AtRisk = true
				if !strings.EqualFold(c.charset, "utf8mb4") {
					a.addFix(host, t, c.name, fmt.Sprintf("%s.%s is %s/%s", t.name, c.name, c.charset, c.collation))
				}
			}
			if c.data != nil && (c.data.Case == DataDoubleEncoded || c.data.Case == DataMixed) {
				sr.Findings = append(sr.Findings, Finding{SevWarning, "double_encoded",
					fmt.Sprintf("%s.%s holds UTF-8 byte sequences written through a latin1 connection in %d of %d rows: convert it through a binary type (see Fix); CONVERT TO CHARACTER SET would garble it.",
						t.name, c.name, c.data.UTF8, c.data.Rows)})
			}
			sr.Columns = append(sr.Columns, col)
			if c.indexed {
				indexed = append(indexed, keyCol{t, c})
			}
		}
	}

	// Mixed collations: one pair of indexed columns per pair of
	// collations, compared with each other and an ASCII key.
	tried := map[string]bool{}
	for i, x := range indexed {
		for _, y := range indexed[i+1:] {
			cx, cy := strings.ToLower(x.c.collation), strings.ToLower(y.c.collation)
			if cx == cy {
				continue
			}
			pair := cx + "|" + cy
			if cy < cx {
				pair = cy + "|" + cx
			}
			if tried[pair] {
				continue
			}
			tried[pair] = true
			q := fmt.Sprintf("EXPLAIN SELECT 1 FROM %s AS a, %s AS b WHERE a.%s = b.%s AND a.%s = ?",
				x.t.qualified(), y.t.qualified(), quoteIdent(x.c.name), quoteIdent(y.c.name), quoteIdent(x.c.name))
			p := &Probe{}
			if err := p.verdict(runRows(ctx, db, q, func(*sql.Rows) error { return nil }, "mapgate-audit@example"), false); err != nil {
				return fail(failureFor("", err))
			}
			if p.Breaks {
				sr.AtRisk = true
				sr.Findings = append(sr.Findings, Finding{SevRisk, "mixed_collations",
					fmt.Sprintf("%s.%s (%s) and %s.%s (%s) cannot be compared (%s), even for ASCII keys: a query joining them fails for every key.",
						x.t.name, x.c.name, x.c.collation, y.t.name, y.c.name, y.c.collation, p.Server)})
				var keys []string
				for _, kc := range []keyCol{x, y} {
					keys = append(keys, a.addFix(host, kc.t, kc.c.name, fmt.Sprintf("%s.%s is %s/%s", kc.t.name, kc.c.name, kc.c.charset, kc.c.collation)))
				}
				a.tie(keys...)
			}
		}
	}
	var breaking []string
	seen := map[string]bool{}
	for _, c := range sr.Columns {
		for _, b := range c.Breaks {
			if !seen[b] {
				seen[b] = true
				breaking = append(breaking, b)
			}
		}
	}
	if len(breaking) > 0 {
		var labels []string
		for _, pc := range probeClasses {
			if seen[pc.id] {
				labels = append(labels, classLabel(pc.id))
			}
		}
		sr.Findings = append([]Finding{{SevRisk, "breaking_keys",
			fmt.Sprintf("Keys with %s characters cannot be compared with some columns (see each column's \"breaks\"): a map querying those columns fails for such keys.", joinAnd(labels))}},
			sr.Findings...)
	} else if !sr.AtRisk {
		sr.Findings = append(sr.Findings, Finding{SevInfo, "safe", "Every text column accepts every probe key."})
	}
	a.dbs[host] = db
	if err := a.plan(ctx); err != nil {
		a.report.PlanFailure = failureFor("", err)
		a.report.PlanFailure.Message = "cannot plan the fix: " + a.report.PlanFailure.Message
	}
	return a.report
}
