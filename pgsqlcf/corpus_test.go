package pgsqlcf

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"mapgate/internal/testpg"
)

// corpusUsers are the localparts every corpus database gets a mailbox (and
// an alias to it) for, in domain example.net, with example.org an alias
// domain of it. LATIN1 databases get only those Latin-1 can hold.
func corpusUsers(utf8 bool) []string {
	u := []string{"bob", "josé"}
	if utf8 {
		u = append(u, "ユーザー")
	}
	return u
}

// corpusSeed is a small data set in each project's own tables.
func corpusSeed(project string, utf8 bool) string {
	var b strings.Builder
	q := func(s string) string { return strings.ReplaceAll(s, "'", "''") }
	switch project {
	case "iredmail":
		b.WriteString("INSERT INTO domain (domain) VALUES ('example.net');\n")
		b.WriteString("INSERT INTO domain (domain, backupmx, transport) VALUES ('backup.example', 1, 'relay:[mx.example]');\n")
		b.WriteString("INSERT INTO alias_domain (alias_domain, target_domain) VALUES ('example.org', 'example.net');\n")
		b.WriteString("INSERT INTO forwardings (address, forwarding, domain, dest_domain) VALUES ('example.net', 'catchall@example.net', 'example.net', 'example.net');\n")
		for _, u := range corpusUsers(utf8) {
			a := q(u) + "@example.net"
			fmt.Fprintf(&b, "INSERT INTO mailbox (username, domain, storagenode, maildir) VALUES ('%s', 'example.net', '/var/vmail', 'example.net/%s');\n", a, q(u))
			fmt.Fprintf(&b, "INSERT INTO forwardings (address, forwarding, domain, dest_domain) VALUES ('%s', '%s', 'example.net', 'example.net');\n", a, a)
			fmt.Fprintf(&b, "INSERT INTO recipient_bcc_user (username, bcc_address, domain) VALUES ('%s', 'archive@example.net', 'example.net');\n", a)
			fmt.Fprintf(&b, "INSERT INTO sender_relayhost (account, relayhost) VALUES ('%s', '[relay.example]:587');\n", a)
		}
	case "postfixadmin":
		b.WriteString("INSERT INTO domain (domain, transport) VALUES ('example.net', 'virtual'), ('example.org', 'virtual');\n")
		b.WriteString("INSERT INTO domain (domain, backupmx, transport) VALUES ('backup.example', true, 'relay:[mx.example]');\n")
		b.WriteString("INSERT INTO alias_domain (alias_domain, target_domain) VALUES ('example.org', 'example.net');\n")
		b.WriteString("INSERT INTO alias (address, goto, domain) VALUES ('@example.net', 'catchall@example.net', 'example.net');\n")
		for _, u := range corpusUsers(utf8) {
			a := q(u) + "@example.net"
			fmt.Fprintf(&b, "INSERT INTO mailbox (username, maildir, quota, domain, local_part) VALUES ('%s', 'example.net/%s/', 1024, 'example.net', '%s');\n", a, q(u), q(u))
			fmt.Fprintf(&b, "INSERT INTO alias (address, goto, domain) VALUES ('%s', '%s', 'example.net');\n", a, a)
		}
	case "modoboa":
		b.WriteString("INSERT INTO admin_domain (id, name, quota, enabled, type) VALUES (1, 'example.net', 0, true, 'domain'), (2, 'relay.example', 0, true, 'relaydomain');\n")
		b.WriteString("INSERT INTO admin_domainalias (name, target_id, enabled) VALUES ('example.org', 1, true);\n")
		b.WriteString("INSERT INTO transport_transport (pattern, service, next_hop) VALUES ('relay.example', 'relay', '[mx.relay.example]');\n")
		b.WriteString("INSERT INTO relaydomains_recipientaccess (pattern, action) VALUES ('relay.example', 'reject_unverified_recipient');\n")
		for i, u := range corpusUsers(utf8) {
			id := i + 1
			a := q(u) + "@example.net"
			fmt.Fprintf(&b, "INSERT INTO core_user (id, username, email, is_active) VALUES (%d, '%s', '%s', true);\n", id, a, a)
			fmt.Fprintf(&b, "INSERT INTO admin_mailbox (id, address, quota, domain_id, user_id) VALUES (%d, '%s', 0, 1, %d);\n", id, q(u), id)
			fmt.Fprintf(&b, "INSERT INTO admin_alias (id, address, domain_id, enabled, internal) VALUES (%d, '%s', 1, true, true);\n", id, a)
			fmt.Fprintf(&b, "INSERT INTO modoboa_admin_aliasrecipient (address, alias_id, r_mailbox_id) VALUES ('%s', %d, %d);\n", a, id, id)
			fmt.Fprintf(&b, "INSERT INTO admin_senderaddress (address, mailbox_id) VALUES ('%s', %d);\n", strings.Replace(a, "@example.net", "@example.org", 1), id)
		}
		b.WriteString("INSERT INTO admin_mailboxoperation (mailbox_id, type, argument) VALUES (1, 'rename', 'x');\n")
	default:
		panic("no seed for " + project)
	}
	return b.String()
}

// corpusKeys: every corpus file gets these lookups. asciiKeys are the ones
// every Postfix version sends faithfully.
var (
	asciiKeys = []string{
		"bob@example.net", "bob@example.org", "nobody@example.net", "@example.net",
		"example.net", "example.org", "backup.example", "relay.example", "bob@relay.example",
		"bob", "o'brien@example.net", "a+b@example.net", "BOB@EXAMPLE.NET",
	}
	otherKeys = []string{"josé@example.net", "ユーザー@example.net", "ユーザー@example.org", "😀@example.net", "\xe9@example.net"}
)

// instantiate fills in the connection parameters of a published .cf file.
var cfConn = regexp.MustCompile(`(?m)^(hosts|user|password|dbname)(\s*)=.*$`)

func instantiate(text string, s *testpg.Server, db string) string {
	return cfConn.ReplaceAllStringFunc(text, func(line string) string {
		name := strings.TrimSpace(line[:strings.IndexByte(line, '=')])
		val := map[string]string{"hosts": fmt.Sprintf("inet:127.0.0.1:%d", s.Port), "user": testpg.User, "password": testpg.Password, "dbname": db}[name]
		return name + " = " + val
	})
}

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
			s.MustExec(t, db, corpusSeed(project, enc == "UTF8"))
			require.NoError(t, s.GrantRead(db))
			c, err := pgconn.Connect(ctx, s.UserConnString(db))
			require.NoError(t, err)

			var lookups, found, same, compared int
			states := map[string]int{}
			for _, cfPath := range cfs {
				text, err := os.ReadFile(cfPath)
				require.NoError(t, err)
				inst := filepath.Join(conf, db+"-"+filepath.Base(cfPath))
				require.NoError(t, os.WriteFile(inst, []byte(instantiate(string(text), s, db)), 0o600))
				cf, err := Parse(inst)
				require.NoError(t, err, cfPath)
				require.Empty(t, cf.Unknown, cfPath)

				sd, err := c.Prepare(ctx, "", cf.Query.SQL, nil)
				require.NoError(t, err, "%s: %s", cfPath, cf.Query.SQL)
				require.Len(t, sd.ParamOIDs, len(cf.Query.Params), "%s: the server's parameter count", cfPath)

				bound := map[string]answer{}
				for _, key := range append(append([]string{}, asciiKeys...), otherKeys...) {
					a := lookupBound(ctx, c, cf, key)
					bound[key] = a
					lookups++
					if a.state != "" {
						states[a.state]++
					} else if a.value != "" {
						found++
					}
				}
				for _, key := range asciiKeys {
					require.Empty(t, bound[key].state, "%s %s: an ASCII key failed", cfPath, key)
				}
				// The rule, checked for every non-ASCII key: a bound value that
				// is not UTF-8 fails the statement (22021); one the database
				// encoding cannot hold fails it (22P05), wherever the
				// parameter sits; anything else is answered.
				for _, key := range otherKeys {
					require.Equal(t, expectState(cf, key, enc), bound[key].state, "%s %q", cfPath, key)
				}
				if postmapErr == nil {
					t0 := time.Now()
					pm := postmapAll(t, conf, inst, asciiKeys)
					if d := time.Since(t0); d > 5*time.Second {
						t.Logf("%s: postmap took %v", cfPath, d)
					}
					for _, key := range asciiKeys {
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
