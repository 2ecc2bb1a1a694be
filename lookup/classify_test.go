package lookup

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"mapgate/socketmap"
)

// TestKeyCausedErrorsFromTheServer: where discovery cannot tell the column
// (a shape it does not understand), the key goes to the database. The
// server's own charset errors (1267/1270/1271) for a non-ASCII key count
// against no host and change no other key's answer. They are that key's
// NOTFOUND only where the comparison is one every row needs (required);
// in a shape that proves nothing (opaque) a row could still match, and
// the answer is TEMP.
func TestKeyCausedErrorsFromTheServer(t *testing.T) {
	srv := sharedServer(t)
	hosts := []string{"inet:" + srv.Addr()}
	obs := newCounting()
	s := loadSet(t, hosts, PoolOptions{TripAfter: 1}, obs,
		mapDef{name: "opaque", db: "postfix", opts: &MapOptions{},
			body: "query = SELECT goto FROM alias WHERE address = IF(active = 1, '%s', NULL)"},
		mapDef{name: "inlist", db: "postfix", opts: &MapOptions{},
			body: "query = SELECT goto FROM alias WHERE address IN (IF(1, '%s', ''), '%u', '%d')"},
		mapDef{name: "required", db: "postfix", opts: &MapOptions{},
			body: "query = SELECT goto FROM alias WHERE address COLLATE latin1_general_ci = '%s'"},
	)
	want := map[string]socketmap.Reply{
		"opaque":   socketmap.Temp("key cannot be compared by this query (see mapgate log)"),
		"inlist":   socketmap.Temp("key cannot be compared by this query (see mapgate log)"),
		"required": socketmap.NotFound(),
	}
	for _, m := range []string{"opaque", "inlist", "required"} {
		for i := 0; i < 3; i++ {
			assert.Equal(t, want[m], lookupReply(t, s, m, "ほげ@example.jp"), m)
			assert.Equal(t, socketmap.OK("bob@example.jp"), lookupReply(t, s, m, "bob@example.jp"), m)
		}
	}
	require.Positive(t, obs.count(obs.queries, "key"), "the server raised the charset errors itself")
	assert.Zero(t, obs.count(obs.queries, "host"))
	for _, h := range s.Pools().Hosts() {
		assert.Equal(t, "closed", h.State.String(), h.Host)
	}
}

// A key's length is the key's: error 1406 (Data too long) from a key
// longer than any mail address, where the check could not know the
// parameter it is assigned to (an expression argument of CALL), is a key
// condition (class "key", TEMP for that key), never the query's or the
// schema's. The same error for a short ASCII key, from a procedure broken
// for every key, stays "query".
func TestLongASCIIKeyIsNotASchemaError(t *testing.T) {
	srv := sharedServer(t)
	anonaddyDB(t, srv)
	srv.MustExec(t, "CREATE PROCEDURE anonaddy.broken(k VARCHAR(300)) BEGIN DECLARE v VARCHAR(3); SET v = CONCAT('toolong', k); SELECT v; END")
	obs := newCounting()
	s := loadSet(t, []string{"inet:" + srv.Addr()}, PoolOptions{TripAfter: 1}, obs,
		mapDef{name: "access", db: "anonaddy", opts: &MapOptions{}, body: "query = CALL check_access(CONCAT('%s', ''))"},
		mapDef{name: "broken", db: "anonaddy", opts: &MapOptions{}, body: "query = CALL broken('%s')"},
	)
	long := strings.Repeat("a", 300) + "@example.com"
	for i := 0; i < 3; i++ {
		assert.Equal(t, socketmap.StatusTemp, lookupReply(t, s, "access", long).Status)
		assert.Equal(t, socketmap.OK("DUNNO"), lookupReply(t, s, "access", "bob@example.com"))
	}
	assert.Equal(t, 3, obs.count(obs.queries, "key"), "1406 for the long key")
	assert.Zero(t, obs.count(obs.queries, "query"), "never the schema's")
	assert.Equal(t, socketmap.StatusTemp, lookupReply(t, s, "broken", "bob@example.com").Status)
	assert.Equal(t, 1, obs.count(obs.queries, "query"), "1406 for a short ASCII key: the procedure is broken")
	for _, h := range s.Pools().Hosts() {
		assert.Equal(t, "closed", h.State.String(), h.Host)
	}
}

// An invalid pattern matches nothing: error 1139 from a key used as a
// REGEXP pattern is the key's (class "key": TEMP on socketmap, an empty
// result on the SQL front), and counts against no host. A key that is a
// valid pattern (user+tag@, a dot) is never blamed: 1139 from a broken
// pattern in the query itself is the query's.
func TestInvalidPatternKeyIsTheKeys(t *testing.T) {
	srv := sharedServer(t)
	obs := newCounting()
	s := loadSet(t, []string{"inet:" + srv.Addr()}, PoolOptions{TripAfter: 1}, obs,
		mapDef{name: "re", db: "postfix", opts: &MapOptions{}, body: "query = SELECT goto FROM alias WHERE address REGEXP '%s'"},
		mapDef{name: "broken", db: "postfix", opts: &MapOptions{}, body: "query = SELECT goto FROM alias WHERE address REGEXP '(' OR address = '%s'"},
	)
	for _, k := range []string{"(", "[a", "a{1,70000}", `(a)\2`} {
		r := lookupReply(t, s, "re", k)
		assert.Equal(t, socketmap.StatusTemp, r.Status, "key %q: %v", k, r)
	}
	assert.Equal(t, socketmap.OK("bob@example.jp"), lookupReply(t, s, "re", "^bob@example.jp$"))
	assert.Equal(t, socketmap.NotFound(), lookupReply(t, s, "re", "^bob+tag@example.jp$"))
	assert.Equal(t, 4, obs.count(obs.queries, "key"))
	assert.Zero(t, obs.count(obs.queries, "query")+obs.count(obs.queries, "unknown"))
	assert.Equal(t, socketmap.StatusTemp, lookupReply(t, s, "broken", "bob+tag@example.jp").Status)
	assert.Equal(t, 1, obs.count(obs.queries, "query"), "a broken pattern in the query: every key fails")
	for _, h := range s.Pools().Hosts() {
		assert.Equal(t, "closed", h.State.String(), h.Host)
	}
}
