package pgsqlcf

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"mapgate/internal/testpg"
)

// answer is one lookup's outcome: the formatted value ("" = not found), or
// the SQLSTATE of the server's error.
type answer struct{ value, state string }

// lookupBound runs a parsed file's query for key with the expansions bound
// ($n, untyped text parameters), as a mapgate engine would, and formats the
// rows as Postfix does.
func lookupBound(ctx context.Context, c *pgconn.PgConn, cf *File, key string) answer {
	args, ok := cf.Query.Expand(key, nil)
	if !ok {
		return answer{}
	}
	params := make([][]byte, len(args))
	for i, a := range args {
		params[i] = []byte(a.(string))
	}
	rr := c.ExecParams(ctx, cf.Query.SQL, params, nil, nil, nil)
	var values []string
	for rr.NextRow() {
		for _, v := range rr.Values() {
			if v != nil {
				values = append(values, string(v))
			}
		}
	}
	if _, err := rr.Close(); err != nil {
		return answer{state: sqlstate(err)}
	}
	var out []byte
	for _, v := range values {
		out, _ = cf.ResultFormat.Append(out, key, v)
	}
	return answer{value: string(out)}
}

// postmapAll asks Postfix's own pgsql: client for keys through one postmap
// process: key -> value (absent when not found).
func postmapAll(t *testing.T, conf, cf string, keys []string) map[string]string {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "postmap", "-c", conf, "-q", "-", "pgsql:"+cf)
	cmd.Stdin = strings.NewReader(strings.Join(keys, "\n") + "\n")
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	require.NoError(t, ctx.Err(), "%s: postmap: %s", cf, e.String())
	require.NotContains(t, e.String(), "warning", filepath.Base(cf))
	if err != nil {
		require.Empty(t, o.String(), "%s: %v: %s", cf, err, e.String()) // exit 1: nothing found
	}
	out := map[string]string{}
	for _, line := range strings.Split(strings.TrimRight(o.String(), "\n"), "\n") {
		if k, v, ok := strings.Cut(line, "\t"); ok {
			out[k] = v
		}
	}
	return out
}

// expectState is the SQLSTATE a lookup of key must fail with in a database
// of encoding enc ("LATIN1" or "UTF8"), "" for none.
func expectState(cf *File, key, enc string) string {
	args, ok := cf.Query.Expand(key, nil)
	if !ok {
		return ""
	}
	state := ""
	for _, a := range args {
		v := a.(string)
		if !utf8.ValidString(v) {
			return "22021"
		}
		for _, r := range v {
			if enc == "LATIN1" && r > 0xff {
				state = "22P05"
			}
		}
	}
	return state
}

// TestCorpus loads each published PostgreSQL schema (testdata/corpus/*-pgsql)
// into a LATIN1 and a UTF8 database of a private PostgreSQL, parses each
// published .cf file, checks that the server counts the parameters
// ParseQuery made, runs every query with bound parameters for every key,
// and compares the answers for ASCII keys with Postfix's own
// `postmap -q` over pgsql:. It logs the counts per corpus and encoding.
func TestCorpus(t *testing.T) {
	if testing.Short() {
		t.Skip("a PostgreSQL and postmap for every published file (-short)")
	}
	dirs, err := filepath.Glob("../testdata/corpus/*-pgsql")
	require.NoError(t, err)
	require.NotEmpty(t, dirs)
	_, postmapErr := exec.LookPath("postmap")
	s := testpg.Start(t)
	conf := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(conf, "main.cf"), nil, 0o644))
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()

	for _, dir := range dirs {
		project := strings.TrimSuffix(filepath.Base(dir), "-pgsql")
		schema, err := os.ReadFile(filepath.Join(dir, "schema.sql"))
		require.NoError(t, err)
		cfs, err := filepath.Glob(filepath.Join(dir, "*.cf"))
		require.NoError(t, err)
		sort.Strings(cfs)
		for _, enc := range []string{"LATIN1", "UTF8"} {
			db := strings.ToLower(project + "_" + enc)
			require.NoError(t, s.CreateDB(db, enc))
			s.MustExec(t, db, string(schema))
			s.MustExec(t, db, testpg.CorpusSeed(project, enc == "UTF8"))
			require.NoError(t, s.GrantRead(db))
			c, err := pgconn.Connect(ctx, s.UserConnString(db))
			require.NoError(t, err)

			var lookups, found, same, compared int
			states := map[string]int{}
			for _, cfPath := range cfs {
				text, err := os.ReadFile(cfPath)
				require.NoError(t, err)
				inst := filepath.Join(conf, db+"-"+filepath.Base(cfPath))
				require.NoError(t, os.WriteFile(inst, []byte(testpg.Instantiate(string(text), s, db)), 0o600))
				cf, err := Parse(inst)
				require.NoError(t, err, cfPath)
				require.Empty(t, cf.Unknown, cfPath)

				sd, err := c.Prepare(ctx, "", cf.Query.SQL, nil)
				require.NoError(t, err, "%s: %s", cfPath, cf.Query.SQL)
				require.Len(t, sd.ParamOIDs, len(cf.Query.Params), "%s: the server's parameter count", cfPath)

				bound := map[string]answer{}
				for _, key := range append(append([]string{}, testpg.CorpusASCIIKeys...), testpg.CorpusOtherKeys...) {
					a := lookupBound(ctx, c, cf, key)
					bound[key] = a
					lookups++
					if a.state != "" {
						states[a.state]++
					} else if a.value != "" {
						found++
					}
				}
				for _, key := range testpg.CorpusASCIIKeys {
					require.Empty(t, bound[key].state, "%s %s: an ASCII key failed", cfPath, key)
				}
				// The rule, checked for every non-ASCII key: a bound value that
				// is not UTF-8 fails the statement (22021); one the database
				// encoding cannot hold fails it (22P05), wherever the
				// parameter sits; anything else is answered.
				for _, key := range testpg.CorpusOtherKeys {
					require.Equal(t, expectState(cf, key, enc), bound[key].state, "%s %q", cfPath, key)
				}
				if postmapErr == nil {
					t0 := time.Now()
					pm := postmapAll(t, conf, inst, testpg.CorpusASCIIKeys)
					if d := time.Since(t0); d > 5*time.Second {
						t.Logf("%s: postmap took %v", cfPath, d)
					}
					for _, key := range testpg.CorpusASCIIKeys {
						compared++
						// postmap folds the key to lower case (DICT_FLAG_FOLD_FIX), as
						// Postfix's daemons do for these tables.
						require.Equal(t, bound[strings.ToLower(key)].value, pm[key], "%s %s: bound vs postmap", cfPath, key)
						same++
					}
				}
			}
			c.Close(context.Background())
			t.Logf("%s %s: %d files, %d lookups (%d found, errors by SQLSTATE %v); ASCII keys identical to postmap pgsql: %d of %d",
				project, enc, len(cfs), lookups, found, states, same, compared)
		}
	}
}
