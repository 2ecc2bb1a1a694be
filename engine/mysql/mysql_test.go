package mysql

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"mapgate/engine"
	"mapgate/schema"
	"mapgate/sqlshape"
)

// readTable reads a mysql_table(5) file with the given body.
func readTable(t *testing.T, body string) *engine.Table {
	t.Helper()
	p := filepath.Join(t.TempDir(), "t.cf")
	require.NoError(t, os.WriteFile(p, []byte("hosts = inet:127.0.0.1:1\ndbname = postfix\n"+body), 0o600))
	tb, err := Engine{}.ReadTable(p)
	require.NoError(t, err)
	return tb
}

// latin1 is what discovery finds for a parameter compared with a latin1
// column of 16 characters, in a comparison of the given role.
func latin1(role sqlshape.Role) schema.ParamColumns {
	return schema.ParamColumns{
		ParamUse: sqlshape.ParamUse{Index: 1, Known: true, Direct: true, Role: role, Op: "=",
			Columns: []sqlshape.ColumnRef{{Table: "alias", Column: "address"}}},
		Infos: []schema.ColumnInfo{{ColumnRef: sqlshape.ColumnRef{Table: "alias", Column: "address"},
			DataType: "varchar", Charset: "latin1", Collation: "latin1_swedish_ci", MaxChars: 16}},
	}
}

// TestReadTable: the engine's reading of a file is what the core needs,
// in MySQL's dialect ('%s' becomes a '?').
func TestReadTable(t *testing.T) {
	tb := readTable(t, "query = SELECT goto FROM alias WHERE address = '%s' AND domain = '%d'\nno_such = 1\n")
	assert.Equal(t, "mysql", tb.Engine.Name())
	assert.Equal(t, "SELECT goto FROM alias WHERE address = ? AND domain = ?", tb.Statement)
	args, ok := tb.Query.Expand("bob@example.jp", nil)
	assert.True(t, ok)
	assert.Equal(t, []any{"bob@example.jp", "example.jp"}, args)
	_, ok = tb.Query.Expand("bob", nil)
	assert.False(t, ok, "%d suppresses the query for a key without a domain")
	assert.Equal(t, []engine.Host{{Network: "tcp", Addr: "127.0.0.1:1", Spec: "inet:127.0.0.1:1"}}, tb.Hosts)
	assert.Equal(t, []string{"no_such"}, tb.Unknown)
	assert.Equal(t, "postfix", File(tb).DBName)

	odd := readTable(t, "charset = klingon\nquery = SELECT 1 FROM t WHERE a = '%s'\n")
	require.Len(t, odd.Warnings, 1)
	assert.Contains(t, odd.Warnings[0], `connection charset "klingon" unknown to mapgate`)
	assert.Equal(t, engine.Plan{}, Engine{}.Plan(odd, facts{latin1(sqlshape.RoleRequired)}, []any{"ほげ@example.jp"}),
		"an unknown connection charset: nothing is checked")
}

// TestPlanPerComparison: MySQL's key policy decides by each parameter's
// role, on the facts the catalogue found.
func TestPlanPerComparison(t *testing.T) {
	tb := readTable(t, "query = SELECT goto FROM alias WHERE address = '%s'\n")
	e := Engine{}
	key := []any{"ほげ@example.jp"}
	p := e.Plan(tb, facts{latin1(sqlshape.RoleRequired)}, key)
	require.NotNil(t, p.Miss)
	assert.Equal(t, engine.Reason("unrepresentable"), p.Miss.Reason)
	assert.Equal(t, "alias.address", p.Miss.Column)
	assert.Contains(t, p.Miss.Error(), "alias.address")
	assert.Equal(t, engine.Plan{Null: []int{0}}, e.Plan(tb, facts{latin1(sqlshape.RoleFilter)}, key))
	assert.Equal(t, engine.Plan{Unproven: true}, e.Plan(tb, facts{latin1(sqlshape.RoleOpaque)}, key))
	assert.Equal(t, engine.Plan{}, e.Plan(tb, nil, key), "no facts: nothing proven")
	assert.Equal(t, engine.Plan{}, e.Plan(tb, facts{latin1(sqlshape.RoleRequired)}, []any{"josé@example.jp"}), "latin1 holds é")
	long := e.Plan(tb, facts{latin1(sqlshape.RoleRequired)}, []any{"a-long-local-part@example.jp"})
	require.NotNil(t, long.Miss)
	assert.Equal(t, engine.Reason("too_long"), long.Miss.Reason)
	nul := e.Plan(tb, nil, []any{"a\x00b"})
	require.NotNil(t, nul.Miss)
	assert.Equal(t, engine.Reason("nul"), nul.Miss.Reason)
	assert.NotNil(t, CheckArgs(key, []schema.ParamColumns{latin1(sqlshape.RoleRequired)}, native(tb).conn, true))

	// What a charset error proves: the query's role (RoleRequired, from
	// the text), the key's characters, the facts' vouching.
	assert.True(t, e.KeyErrorMayBe(tb, nil, key))
	assert.True(t, e.KeyErrorIsMiss(tb, nil, key))
	assert.False(t, e.KeyErrorMayBe(tb, nil, []any{"bob@example.jp"}), "plain ASCII cannot cause it")
	assert.False(t, e.KeyErrorMayBe(tb, facts{latin1(sqlshape.RoleRequired)}, key), "vouched for by known latin1 facts")
	union := readTable(t, "query = SELECT goto FROM alias WHERE address = '%s' OR address = '@example.jp'\n")
	assert.False(t, e.KeyErrorIsMiss(union, nil, key), "another branch may match")
}

func TestFacts(t *testing.T) {
	a := facts{latin1(sqlshape.RoleRequired)}
	b := facts{latin1(sqlshape.RoleRequired)}
	b[0].Infos = []schema.ColumnInfo{b[0].Infos[0]}
	b[0].Infos[0].Charset = "utf8mb4"
	assert.True(t, a.Equal(facts{latin1(sqlshape.RoleRequired)}))
	assert.False(t, a.Equal(b))
	assert.False(t, a.Equal(nil))
	assert.Equal(t, []engine.ParamFacts{{Known: true, Text: "param 1 = alias.address latin1/latin1_swedish_ci len 16"}}, a.Params())
	u := facts{{ParamUse: sqlshape.ParamUse{Index: 1, Why: "a subquery"}}}
	assert.Equal(t, []engine.ParamFacts{{Known: false, Text: "a subquery"}}, u.Params())
	assert.Nil(t, Columns(nil))
	assert.True(t, errors.Is(&engine.Miss{Reason: "x", Err: errTest}, errTest))
}

var errTest = errors.New("test")
