package engine_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"mapgate/engine"
	_ "mapgate/engine/mysql"
)

func TestSplit(t *testing.T) {
	for ref, want := range map[string][2]string{
		"/etc/postfix/a.cf":             {"mysql", "/etc/postfix/a.cf"},
		"a.cf":                          {"mysql", "a.cf"},
		"./a:b.cf":                      {"mysql", "./a:b.cf"},
		"/etc/a:b.cf":                   {"mysql", "/etc/a:b.cf"},
		"mysql:/etc/postfix/a.cf":       {"mysql", "/etc/postfix/a.cf"},
		"proxy:mysql:/etc/postfix/a.cf": {"mysql", "/etc/postfix/a.cf"},
		"pgsql:/etc/postfix/p.cf":       {"pgsql", "/etc/postfix/p.cf"},
		"proxy:pgsql:p.cf":              {"pgsql", "p.cf"},
		"proxy:/etc/a.cf":               {"mysql", "/etc/a.cf"},
		"mysql:pgsql:/x.cf":             {"mysql", "pgsql:/x.cf"},
	} {
		typ, path, err := engine.Split(ref)
		require.NoError(t, err, ref)
		assert.Equal(t, want, [2]string{typ, path}, ref)
	}
	for _, ref := range []string{"mysql:", "proxy:", "proxy:mysql:", ""} {
		_, _, err := engine.Split(ref)
		assert.Error(t, err, ref)
	}
}

func TestResolveAndCanonical(t *testing.T) {
	e, path, err := engine.Resolve("proxy:mysql:/x.cf")
	require.NoError(t, err)
	assert.Equal(t, "mysql", e.Name())
	assert.Equal(t, "/x.cf", path)

	_, _, err = engine.Resolve("pgsql:/x.cf")
	require.Error(t, err)
	assert.Contains(t, err.Error(), `table type "pgsql" is not served by mapgate (it serves mysql)`)

	for ref, want := range map[string]string{
		"/x.cf":              "/x.cf",
		"mysql:/x.cf":        "/x.cf",
		"proxy:mysql:x.cf":   "x.cf",
		"mysql:foo:bar.cf":   "mysql:foo:bar.cf", // bare, it would read as type foo
		"mysql:proxy:bar.cf": "mysql:proxy:bar.cf",
	} {
		got, err := engine.Canonical(ref)
		require.NoError(t, err, ref)
		assert.Equal(t, want, got, ref)
		// What Canonical gives resolves to the same engine and file.
		_, p1, _ := engine.Resolve(ref)
		_, p2, err := engine.Resolve(got)
		require.NoError(t, err, got)
		assert.Equal(t, p1, p2, ref)
	}
	assert.Equal(t, []string{"mysql"}, engine.Names())
	assert.Panics(t, func() { engine.Register(mysqlAgain{}) })
}

type mysqlAgain struct{ engine.Engine }

func (mysqlAgain) Name() string { return "mysql" }
