package schema

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql"

	"mapgate/internal/testdb"
	"mapgate/sqlshape"
)

// colShared is one private MariaDB for the column tests of this test
// binary, started by the first test that needs it and closed when the
// last one is done.
var colShared struct {
	mu    sync.Mutex
	users int
	s     *testdb.Server
}

// colServer returns the shared server with the column-test schemas. Call it
// before t.Parallel, so that the server outlives the tests sharing it.
func colServer(t *testing.T) *testdb.Server {
	t.Helper()
	colShared.mu.Lock()
	defer colShared.mu.Unlock()
	if colShared.s == nil {
		s, err := testdb.New()
		if err != nil {
			t.Fatal(err)
		}
		s.MustExec(t, testdb.Schema("postfix", "latin1", "latin1_general_ci"))
		s.MustExec(t, testdb.Schema("pf3", "utf8mb3", "utf8mb3_general_ci"))
		s.MustExec(t, testdb.Schema("pf4", "utf8mb4", "utf8mb4_general_ci"))
		// PostfixAdmin upgraded from an old install: alias_domain kept
		// latin1_swedish_ci while alias got latin1_general_ci.
		s.MustExec(t, testdb.Schema("mixed", "latin1", "latin1_general_ci")+`
ALTER TABLE mixed.alias_domain CONVERT TO CHARACTER SET latin1 COLLATE latin1_swedish_ci;
ALTER TABLE mixed.alias ADD KEY domain_active (domain, active);
`)
		// A database the read-only user may not see.
		s.MustExec(t, "CREATE DATABASE secret; CREATE TABLE secret.alias (address varchar(64) PRIMARY KEY, goto text);")
		colShared.s = s
	}
	colShared.users++
	t.Cleanup(func() {
		colShared.mu.Lock()
		defer colShared.mu.Unlock()
		if colShared.users--; colShared.users == 0 {
			colShared.s.Close()
			colShared.s = nil
		}
	})
	return colShared.s
}

// colOpen opens a handle as the read-only user, the way a map would.
func colOpen(t *testing.T, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func colTCP(s *testdb.Server, db, charset string) string {
	return fmt.Sprintf("%s:%s@tcp(%s)/%s?charset=%s", testdb.User, testdb.Password, s.Addr(), db, charset)
}

func colCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// colSchema describes one test database: the collation of each table's
// text columns.
type colSchema struct {
	name string
	coll map[string]string
}

func (cs colSchema) info(table, column string) ColumnInfo {
	coll := cs.coll[table]
	charset, _, _ := strings.Cut(coll, "_")
	indexed := map[string]bool{"alias.address": true, "mailbox.username": true, "alias_domain.alias_domain": true, "domain.domain": true}
	return ColumnInfo{
		ColumnRef: sqlshape.ColumnRef{Schema: cs.name, Table: table, Column: column},
		DataType:  "varchar", Charset: charset, Collation: coll, MaxChars: 255,
		Indexed: indexed[table+"."+column],
	}
}

func colUniform(name, coll string) colSchema {
	return colSchema{name: name, coll: map[string]string{"alias": coll, "mailbox": coll, "alias_domain": coll, "domain": coll}}
}

var colSchemas = []colSchema{
	colUniform("postfix", "latin1_general_ci"),
	colUniform("pf3", "utf8mb3_general_ci"),
	colUniform("pf4", "utf8mb4_general_ci"),
	{name: "mixed", coll: map[string]string{"alias": "latin1_general_ci", "mailbox": "latin1_general_ci", "alias_domain": "latin1_swedish_ci", "domain": "latin1_general_ci"}},
}

func TestDiscoverColumnsPostfixAdmin(t *testing.T) {
	s := colServer(t)
	t.Parallel()
	for _, schema := range colSchemas {
		for _, charset := range []string{"utf8mb4", "latin1"} {
			t.Run(schema.name+"/"+charset, func(t *testing.T) {
				db := colOpen(t, colTCP(s, schema.name, charset))
				for _, q := range colPostfixAdminQueries {
					got, err := DiscoverColumns(colCtx(t), db, schema.name, q.sql)
					if err != nil {
						t.Fatalf("%s: %v", q.name, err)
					}
					if len(got) != len(q.want) {
						t.Fatalf("%s: %d params, want %d", q.name, len(got), len(q.want))
					}
					for i, w := range q.want {
						g := got[i]
						if !g.Known {
							t.Errorf("%s param %d: unknown: %s", q.name, i+1, g.Why)
							continue
						}
						if g.Op != w.op || g.Direct != w.direct {
							t.Errorf("%s param %d: Op %q Direct %v, want %q %v", q.name, i+1, g.Op, g.Direct, w.op, w.direct)
						}
						refs := strings.Split(w.cols, ",")
						if len(g.Infos) != len(refs) || len(g.Columns) != len(refs) {
							t.Errorf("%s param %d: %d infos, %d columns, want %d", q.name, i+1, len(g.Infos), len(g.Columns), len(refs))
							continue
						}
						for j, r := range refs {
							table, column, _ := strings.Cut(r, ".")
							want := schema.info(table, column)
							if g.Infos[j] != want {
								t.Errorf("%s param %d column %d:\n got %+v\nwant %+v", q.name, i+1, j, g.Infos[j], want)
							}
							if g.Columns[j] != want.ColumnRef {
								t.Errorf("%s param %d column %d: Columns %+v, want %+v", q.name, i+1, j, g.Columns[j], want.ColumnRef)
							}
						}
					}
				}
			})
		}
	}
}

func TestDiscoverColumnsString(t *testing.T) {
	s := colServer(t)
	t.Parallel()
	db := colOpen(t, colTCP(s, "mixed", "utf8mb4"))
	q := colPostfixAdminQueries[1].sql // virtual_alias_domain_maps
	got, err := DiscoverColumns(colCtx(t), db, "mixed", q)
	if err != nil {
		t.Fatal(err)
	}
	got[0].Expansion, got[1].Expansion = "%d", "%u"
	want := []string{
		"param 1 (%d) = mixed.alias_domain.alias_domain latin1/latin1_swedish_ci len 255 indexed",
		"param 2 (%u) CONCAT mixed.alias.address latin1/latin1_general_ci len 255 indexed, mixed.alias_domain.target_domain latin1/latin1_swedish_ci len 255",
	}
	for i, w := range want {
		if s := got[i].String(); s != w {
			t.Errorf("String():\n got %s\nwant %s", s, w)
		}
	}
	unknown := ParamColumns{ParamUse: sqlshape.ParamUse{Index: 3, Why: "parameter inside MD5()"}}
	if s, w := unknown.String(), "param 3 unknown: parameter inside MD5()"; s != w {
		t.Errorf("String() = %q, want %q", s, w)
	}
}

func TestDiscoverColumnsShapes(t *testing.T) {
	s := colServer(t)
	t.Parallel()
	type col struct {
		ref     string // schema.table.column
		dtype   string
		coll    string
		indexed bool
	}
	pf := func(tc string) col {
		return col{ref: "postfix." + tc, dtype: "varchar", coll: "latin1_general_ci", indexed: tc == "alias.address" || tc == "alias_domain.alias_domain" || tc == "domain.domain" || tc == "mailbox.username"}
	}
	type want struct {
		cols []col
		why  string // "" = Known
	}
	cases := []struct {
		name, db, dbname, sql string
		want                  []want
	}{
		{"unqualified in a join", "postfix", "postfix",
			`SELECT goto FROM alias, alias_domain WHERE alias_domain = ? AND address = CONCAT(?, '@', target_domain)`,
			[]want{{cols: []col{pf("alias_domain.alias_domain")}}, {cols: []col{pf("alias.address"), pf("alias_domain.target_domain")}}}},
		{"ambiguous in a join", "postfix", "postfix",
			`SELECT goto FROM alias, domain WHERE domain = ?`,
			[]want{{why: "ambiguous"}}},
		{"unqualified in a subquery", "postfix", "postfix",
			`SELECT goto FROM alias WHERE domain IN (SELECT domain FROM domain WHERE domain = ?)`,
			[]want{{cols: []col{pf("domain.domain")}}}},
		{"correlated, unqualified outer column", "postfix", "postfix",
			`SELECT goto FROM alias a WHERE EXISTS (SELECT 1 FROM alias_domain d WHERE d.target_domain = a.domain AND address = ?)`,
			[]want{{cols: []col{pf("alias.address")}}}},
		{"column case", "postfix", "postfix",
			`SELECT goto FROM alias WHERE ADDRESS = ?`,
			[]want{{cols: []col{pf("alias.address")}}}},
		{"missing table", "postfix", "postfix",
			`SELECT goto FROM aliasx WHERE address = ?`,
			[]want{{why: "table postfix.aliasx not found"}}},
		{"missing column", "postfix", "postfix",
			`SELECT goto FROM alias WHERE address = ? AND addr = ?`,
			[]want{{cols: []col{pf("alias.address")}}, {why: "column postfix.alias.addr not found"}}},
		{"missing column in a join", "postfix", "postfix",
			`SELECT goto FROM alias, alias_domain WHERE nothere = ?`,
			[]want{{why: "column nothere not found"}}},
		{"missing inner table of a correlated subquery", "postfix", "postfix",
			`SELECT goto FROM alias a WHERE EXISTS (SELECT 1 FROM nothere d WHERE address = ?)`,
			[]want{{why: "table postfix.nothere not found"}}},
		{"not visible to the account", "postfix", "postfix",
			`SELECT goto FROM secret.alias WHERE address = ?`,
			[]want{{why: "table secret.alias not found"}}},
		{"table name not utf8mb3", "postfix", "postfix",
			"SELECT goto FROM `😀` WHERE address = ?",
			[]want{{why: "not found"}}},
		{"other schema", "postfix", "postfix",
			`SELECT goto FROM pf4.alias WHERE address = ?`,
			[]want{{cols: []col{{ref: "pf4.alias.address", dtype: "varchar", coll: "utf8mb4_general_ci", indexed: true}}}}},
		{"dbname from the connection", "pf3", "",
			`SELECT goto FROM alias WHERE address = ?`,
			[]want{{cols: []col{{ref: "pf3.alias.address", dtype: "varchar", coll: "utf8mb3_general_ci", indexed: true}}}}},
		{"non-text and second index column", "mixed", "mixed",
			`SELECT goto FROM alias WHERE domain = ? AND active = ? AND goto = ?`,
			[]want{
				{cols: []col{{ref: "mixed.alias.domain", dtype: "varchar", coll: "latin1_general_ci", indexed: true}}},
				{cols: []col{{ref: "mixed.alias.active", dtype: "tinyint"}}},
				{cols: []col{{ref: "mixed.alias.goto", dtype: "text", coll: "latin1_general_ci"}}},
			}},
		{"shape not understood", "postfix", "postfix",
			`SELECT goto FROM alias WHERE MD5(address) = ? AND address = ?`,
			[]want{{why: "MD5()"}, {cols: []col{pf("alias.address")}}}},
		{"binary", "postfix", "postfix",
			`SELECT goto FROM alias WHERE BINARY address = ?`,
			[]want{{}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			db := colOpen(t, colTCP(s, tc.db, "utf8mb4"))
			got, err := DiscoverColumns(colCtx(t), db, tc.dbname, tc.sql)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("%d params, want %d", len(got), len(tc.want))
			}
			for i, w := range tc.want {
				g := got[i]
				if w.why != "" {
					if g.Known || !strings.Contains(g.Why, w.why) || g.Infos != nil {
						t.Errorf("param %d: Known %v Why %q Infos %v, want unknown with %q", i+1, g.Known, g.Why, g.Infos, w.why)
					}
					continue
				}
				if !g.Known {
					t.Errorf("param %d: unknown: %s", i+1, g.Why)
					continue
				}
				if len(g.Infos) != len(w.cols) {
					t.Errorf("param %d: %d infos, want %d: %+v", i+1, len(g.Infos), len(w.cols), g.Infos)
					continue
				}
				for j, c := range w.cols {
					ci := g.Infos[j]
					charset, _, _ := strings.Cut(c.coll, "_")
					maxc := 0
					switch c.dtype {
					case "varchar":
						maxc = 255
						if strings.HasPrefix(c.ref, "secret") {
							maxc = 64
						}
					case "text":
						maxc = 65535
					}
					if ci.ColumnRef.String() != c.ref || ci.DataType != c.dtype || ci.Collation != c.coll || ci.Charset != charset || ci.Indexed != c.indexed || ci.MaxChars != maxc {
						t.Errorf("param %d column %d: got %+v, want %+v (len %d)", i+1, j, ci, c, maxc)
					}
					if g.Columns[j] != ci.ColumnRef {
						t.Errorf("param %d column %d: Columns %+v, Infos %+v", i+1, j, g.Columns[j], ci.ColumnRef)
					}
				}
			}
		})
	}
}

func TestDiscoverColumnsQueryError(t *testing.T) {
	s := colServer(t)
	t.Parallel()
	db := colOpen(t, colTCP(s, "postfix", "utf8mb4"))
	db.Close()
	if _, err := DiscoverColumns(colCtx(t), db, "postfix", `SELECT goto FROM alias WHERE address = ?`); err == nil {
		t.Fatal("no error from a closed handle")
	}
	// A query without columns to look up asks the server nothing.
	got, err := DiscoverColumns(colCtx(t), db, "postfix", `SELECT goto FROM alias WHERE MD5(address) = ?`)
	if err != nil || len(got) != 1 || got[0].Known {
		t.Fatalf("got %+v, %v", got, err)
	}
}

func TestConnectionCharset(t *testing.T) {
	s := colServer(t)
	t.Parallel()
	cases := []struct{ name, dsn, charset, collation string }{
		{"utf8mb4", colTCP(s, "postfix", "utf8mb4"), "utf8mb4", "utf8mb4_general_ci"},
		{"latin1", colTCP(s, "postfix", "latin1"), "latin1", "latin1_swedish_ci"},
		{"utf8mb4 collation", colTCP(s, "postfix", "utf8mb4") + "&collation=utf8mb4_bin", "utf8mb4", "utf8mb4_bin"},
		{"unix socket, utf8mb3", fmt.Sprintf("%s:%s@unix(%s)/postfix?charset=utf8mb3", testdb.User, testdb.Password, s.Socket), "utf8mb3", "utf8mb3_general_ci"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			db := colOpen(t, tc.dsn)
			cs, coll, err := ConnectionCharset(colCtx(t), db)
			if err != nil {
				t.Fatal(err)
			}
			if cs != tc.charset || coll != tc.collation {
				t.Errorf("got %s/%s, want %s/%s", cs, coll, tc.charset, tc.collation)
			}
		})
	}
	db := colOpen(t, colTCP(s, "postfix", "utf8mb4"))
	db.Close()
	if _, _, err := ConnectionCharset(colCtx(t), db); err == nil {
		t.Error("no error from a closed handle")
	}
}
