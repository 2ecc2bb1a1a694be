package audit

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"mapgate/internal/testpg"
	"mapgate/lookup"
)

// TestPgsqlAudit: the audit of pgsql: maps against a real PostgreSQL. In
// a LATIN1 database the Japanese, Cyrillic, Greek and 4-byte probes break
// the statement (22P05) and invalid UTF-8 does (22021), mapgate answers
// them not found without a query; an integer parameter breaks on any key
// that is not a number (22P02); the encoding finding says that only a dump
// and restore changes it. A UTF8 database breaks on invalid UTF-8 only.
func TestPgsqlAudit(t *testing.T) {
	s := testpg.Start(t)
	dir := t.TempDir()
	var specs []lookup.MapSpec
	for _, enc := range []string{"LATIN1", "UTF8"} {
		db := map[string]string{"LATIN1": "l1", "UTF8": "u8"}[enc]
		require.NoError(t, s.CreateDB(db, enc))
		s.MustExec(t, db, "CREATE TABLE alias (address text PRIMARY KEY, goto text); INSERT INTO alias VALUES ('bob@example.net', 'x'); CREATE TABLE quota (id int PRIMARY KEY, bytes bigint)")
		require.NoError(t, s.GrantRead(db))
		for name, q := range map[string]string{"alias": "SELECT goto FROM alias WHERE address = '%s'", "quota": "SELECT bytes FROM quota WHERE id = '%s'"} {
			p := filepath.Join(dir, db+name+".cf")
			require.NoError(t, os.WriteFile(p, []byte(fmt.Sprintf("hosts = inet:127.0.0.1:%d\nuser = %s\npassword = %s\ndbname = %s\nquery = %s\n", s.Port, testpg.User, testpg.Password, db, q)), 0o600))
			specs = append(specs, lookup.MapSpec{Name: db + name, Paths: []string{"pgsql:" + p}, Opts: lookup.DefaultMapOptions("+")})
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	r := Maps(ctx, specs, Options{QueryTimeout: 10 * time.Second})
	var text bytes.Buffer
	require.NoError(t, WriteText(&text, r))
	t.Log(text.String())
	kinds := func(name string) (map[string]bool, map[string]string) {
		k, breaks := map[string]bool{}, map[string]string{}
		for _, m := range r.Maps {
			if m.Name != name {
				continue
			}
			require.Len(t, m.Files, 1)
			f := m.Files[0]
			require.Nil(t, f.Failure, name)
			for _, fd := range f.Findings {
				k[fd.Kind] = true
			}
			for _, p := range f.Probes {
				if p.Breaks {
					breaks[p.Class] = p.Server + " / mapgate " + p.MapgateAnswer
				}
				assert.True(t, p.Agrees, "%s %s: mapgate %s, server %s", name, p.Class, p.Mapgate, p.Server)
			}
		}
		return k, breaks
	}
	k, b := kinds("l1alias")
	assert.True(t, k["breaking_keys"] && k["database_encoding"], "%v", k)
	assert.Equal(t, map[string]string{
		"japanese": "error 22P05 / mapgate notfound", "cyrillic": "error 22P05 / mapgate notfound",
		"greek": "error 22P05 / mapgate notfound", "4byte": "error 22P05 / mapgate notfound",
		"invalid_utf8": "error 22021 / mapgate notfound",
	}, b)
	k, b = kinds("u8alias")
	assert.False(t, k["integer_comparison"])
	assert.Equal(t, map[string]string{"invalid_utf8": "error 22021 / mapgate notfound"}, b)
	k, b = kinds("u8quota")
	assert.True(t, k["integer_comparison"], "%v", k)
	assert.Equal(t, "error 22P02 / mapgate notfound", b["ascii"])
	assert.Contains(t, text.String(), "dump and restore")
	assert.True(t, r.AtRisk())
}
