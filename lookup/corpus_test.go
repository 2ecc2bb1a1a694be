package lookup

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"mapgate/internal/testdb"
	"mapgate/socketmap"
)

// corpusCF returns the body of a published .cf file from testdata/corpus
// (without its connection settings, which writeCF adds), with the
// project's template placeholders filled in as its installer does.
func corpusCF(t *testing.T, project, file string, fill map[string]string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "testdata", "corpus", project, file))
	require.NoError(t, err)
	conn := regexp.MustCompile(`^(user|password|dbname|hosts)\s*=`)
	var out []string
	for _, line := range strings.Split(string(data), "\n") {
		if conn.MatchString(line) {
			continue
		}
		for k, v := range fill {
			line = strings.ReplaceAll(line, k, v)
		}
		out = append(out, line)
	}
	return strings.Join(out, "\n")
}

// corpusSchema loads a project's published schema into database db.
func corpusSchema(t *testing.T, srv *testdb.Server, project, db string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "testdata", "corpus", project, "schema.sql"))
	require.NoError(t, err)
	srv.MustExec(t, fmt.Sprintf("DROP DATABASE IF EXISTS `%[1]s`; CREATE DATABASE `%[1]s`; USE `%[1]s`;\n%[2]s\n%[3]s", db, data, testdb.Grant(db)))
}

var ispconfigFill = map[string]string{
	"{server_id}":                 "1",
	"{address_without_extension}": "CONCAT(SUBSTRING_INDEX('%u', '+', 1), '@%d')",
}

// ISPConfig's forwardings query has a catch-all branch on '@%d' in a
// UNION. A key its utf8 (utf8mb3) columns cannot hold ('😀' needs 4 bytes)
// makes its own comparisons false, and only those: the catch-all still
// answers, as it would for any unknown user of the domain.
func TestCorpusISPConfigCatchAllBranch(t *testing.T) {
	srv := sharedServer(t)
	corpusSchema(t, srv, "ispconfig", "ispc")
	srv.MustExec(t, `INSERT INTO ispc.mail_domain (server_id, domain, active) VALUES (1, 'catch.example', 'y');
INSERT INTO ispc.mail_forwarding (server_id, source, destination, type, active) VALUES
 (1, '@catch.example', 'catchall@dest.example', 'catchall', 'y'),
 (1, 'bob@catch.example', 'bob@dest.example', 'alias', 'y');
INSERT INTO ispc.mail_user (server_id, email, login, maildir, postfix) VALUES (1, 'carol@catch.example', 'carol', '/var/vmail/carol', 'y');`)
	hosts := []string{"inet:" + srv.Addr()}
	obs := newCounting()
	s := loadSet(t, hosts, PoolOptions{}, obs, mapDef{name: "fwd", db: "ispc",
		body: corpusCF(t, "ispconfig", "mysql-virtual_forwardings.cf", ispconfigFill), opts: &MapOptions{FoldCase: true, SMTPUTF8: true}})
	for key, want := range map[string]socketmap.Reply{
		"bob@catch.example":     socketmap.OK("bob@dest.example"),
		"bob+tag@catch.example": socketmap.OK("bob@dest.example"),
		"nobody@catch.example":  socketmap.OK("catchall@dest.example"),
		"😀@catch.example":       socketmap.OK("catchall@dest.example"),
		"😀+x@catch.example":     socketmap.OK("catchall@dest.example"),
		"carol@catch.example":   socketmap.NotFound(), // a mailbox: no catch-all
		"😀@other.example":       socketmap.NotFound(),
	} {
		assert.Equal(t, want, lookupReply(t, s, "fwd", key), "%s", key)
	}
	assert.Zero(t, obs.count(obs.queries, "key"), "no key-caused error reached the database")
}

// mailcow's sender ACL has a send_as='*' branch: any sender, however long
// the address, may be sent as by the logged-in user it names. A key longer
// than the send_as column makes only its own comparisons false.
func TestCorpusMailcowSenderACLWildcard(t *testing.T) {
	srv := sharedServer(t)
	corpusSchema(t, srv, "mailcow", "mailcow")
	srv.MustExec(t, `INSERT INTO mailcow.domain (domain) VALUES ('mc.example');
INSERT INTO mailcow.sender_acl (logged_in_as, send_as) VALUES ('admin@mc.example', '*');`)
	hosts := []string{"inet:" + srv.Addr()}
	s := loadSet(t, hosts, PoolOptions{}, nil, mapDef{name: "acl", db: "mailcow",
		body: corpusCF(t, "mailcow", "mysql_virtual_sender_acl.cf", nil), opts: &MapOptions{FoldCase: true, SMTPUTF8: true}})
	long := strings.Repeat("a", 300) + "@mc.example"
	for _, key := range []string{"someone@mc.example", long, "😀@mc.example", strings.Repeat("é", 260) + "@mc.example"} {
		assert.Equal(t, socketmap.OK("admin@mc.example"), lookupReply(t, s, "acl", key), "%.40s", key)
	}
}

// anonaddyDB loads anonaddy's published tables and check_access procedure
// into database anonaddy on srv, with EXECUTE for the read-only account.
func anonaddyDB(t *testing.T, srv *testdb.Server) {
	t.Helper()
	corpusSchema(t, srv, "anonaddy", "anonaddy")
	srv.MustExec(t, fmt.Sprintf(`GRANT EXECUTE ON anonaddy.* TO '%[1]s'@'127.0.0.1'; GRANT EXECUTE ON anonaddy.* TO '%[1]s'@'localhost';`, testdb.User))
}

// anonaddy's check_access map is CALL check_access('%s'), a procedure
// whose parameter is VARCHAR(254) charset utf8 (utf8mb3). A key it cannot
// hold (a 4-byte character, more than 254 characters) fails the CALL in
// strict sql_mode before the body runs (1366, 1406), and without strict
// mode is cut to what the parameter holds, and the body answers for that
// other key. The parameter is learnt from information_schema.PARAMETERS:
// such a key is a miss, answered without a CALL, in both modes; a key
// that fits (é, trailing spaces beyond 254 characters) is asked.
func TestCorpusAnonaddyCallParameter(t *testing.T) {
	if testing.Short() {
		t.Skip("needs a private MariaDB (not in -short)")
	}
	srv := testdb.Start(t) // its own server: the test changes the global sql_mode
	anonaddyDB(t, srv)
	long := strings.Repeat("a", 300) + "@example.com"
	srv.MustExec(t, `INSERT INTO anonaddy.aliases (id, user_id, local_part, domain, email, active) VALUES
 ('1', 'u', 'deact', 'example.com', 'deact@example.com', 0),
 ('2', 'u', 'x', 'example.com', '`+long[:254]+`', 0),
 ('3', 'u', 'y', 'example.com', 'deact?@example.com', 0),
 ('4', 'u', 'y', 'example.com', 'deact', 0);`)
	body := corpusCF(t, "anonaddy", "mysql-recipient-access.cf", nil)
	for _, mode := range []string{"STRICT_TRANS_TABLES,ERROR_FOR_DIVISION_BY_ZERO,NO_AUTO_CREATE_USER,NO_ENGINE_SUBSTITUTION", ""} {
		t.Run("sql_mode="+mode, func(t *testing.T) {
			srv.MustExec(t, "SET GLOBAL sql_mode = '"+mode+"'")
			obs := newCounting()
			s := loadSet(t, []string{"inet:" + srv.Addr()}, PoolOptions{TripAfter: 1}, obs,
				mapDef{name: "access", db: "anonaddy", body: body, opts: &MapOptions{}})
			for _, tc := range []struct {
				key  string
				want socketmap.Reply
			}{
				{"deact@example.com", socketmap.OK("DISCARD")},
				{"😀@example.com", socketmap.NotFound()},
				{"deact😀@example.com", socketmap.NotFound()},
				{long, socketmap.NotFound()},
				{"é@example.com", socketmap.OK("DUNNO")},
				{"deact@example.com" + strings.Repeat(" ", 250), socketmap.OK("DISCARD")},
				{"nobody@example.com", socketmap.OK("DUNNO")},
			} {
				assert.Equal(t, tc.want, lookupReply(t, s, "access", tc.key), "key %.40q", tc.key)
			}
			assert.Equal(t, 3, obs.count(obs.rejected, "unrepresentable")+obs.count(obs.rejected, "too_long"), "misses without a CALL")
			assert.Zero(t, obs.count(obs.queries, "query")+obs.count(obs.queries, "key")+obs.count(obs.queries, "unknown"), "no CALL failed")
		})
	}
	srv.MustExec(t, "SET GLOBAL sql_mode = DEFAULT")
}
