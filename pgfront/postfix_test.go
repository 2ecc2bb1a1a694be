package pgfront_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mapgate/internal/pfinst"
	"mapgate/pgfront"
)

// postmapFront makes a Postfix config directory (smtputf8_enable = no,
// so that keys that are not UTF-8 reach the table, as on
// docker-mailserver) and a pgsql_table(5) file pointing Postfix's own
// pgsql: client at the front on hosts, and returns a function that runs
// `postmap -f -q KEY pgsql:front.cf` (-f: keys not folded to lower case),
// or `postmap -f -q - ...` with keys on
// stdin when key is "-".
func postmapFront(t *testing.T, hosts string) func(key, stdin string) (string, error) {
	t.Helper()
	return postmapTable(t, fmt.Sprintf("hosts = %s\nuser = postfix\npassword = secret\ndbname = m\nquery = '%%s'\n", hosts))
}

// postmapTable is postmapFront for the pgsql_table(5) text cf, or for the
// file named by cf when it is a path.
func postmapTable(t *testing.T, cf string) func(key, stdin string) (string, error) {
	t.Helper()
	if testing.Short() {
		t.Skip("runs Postfix's postmap; skipped with -short")
	}
	if err := pfinst.Installed(); err != nil {
		t.Fatal(err)
	}
	if err := pfinst.HasMapType("pgsql"); err != nil {
		t.Fatal(err)
	}
	postmap, err := exec.LookPath("postmap")
	if err != nil {
		postmap = "/usr/sbin/postmap"
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.cf"), []byte("compatibility_level = 3.6\nsmtputf8_enable = no\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if !filepath.IsAbs(cf) {
		path := filepath.Join(dir, "front.cf")
		if err := os.WriteFile(path, []byte(cf), 0o644); err != nil {
			t.Fatal(err)
		}
		cf = path
	}
	return func(key, stdin string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, postmap, "-f", "-c", dir, "-q", key, "pgsql:"+cf)
		cmd.Env = append(os.Environ(), "MAIL_CONFIG="+dir)
		cmd.Stdin = strings.NewReader(stdin)
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		err := cmd.Run()
		if e := strings.TrimSpace(errOut.String()); e != "" {
			return out.String(), fmt.Errorf("%v: %s", err, e)
		}
		if err != nil && key == "-" {
			return out.String(), err
		}
		return out.String(), nil // postmap -q KEY exits 1 for not found
	}
}

func tcpHosts(addr string) string {
	host, port, _ := net.SplitHostPort(addr)
	return "inet:" + host + ":" + port
}

// hostileKeys are keys that make a real PostgreSQL fail or misread the
// query: beyond Latin-1, 4-byte UTF-8, not UTF-8 at all, quotes,
// backslashes (which a server with standard_conforming_strings off would
// read as escapes), 300 characters, LIKE and regex metacharacters.
var hostileKeys = []string{
	"ほげ@example.jp", "😀@example.jp", "ユーザー@example.net", "ångström@example.net",
	"\xff\xfe@example.net", "\xe5ngstr\xf6m@example.net", "\xc3@example.net", "\xed\xa0\x80@x",
	"o'brien@example.net", "'", "''", "' OR '1'='1", "a'; DROP TABLE x; --",
	`back\slash@example.net`, `\`, `\\'`, `\'`, `E'\x41'`,
	strings.Repeat("a", 300) + "@example.net", strings.Repeat("ü", 300),
	"%", "user%@example.net", "_", "(", "[a", "a{1,70000}", `(a)\2`, `"`, "$$", "$1", ";",
}

// TestPostmapThroughFront: Postfix's real pgsql: client (libpq's
// PQescapeStringConn, client_encoding LATIN1 on Postfix 3.7) against the
// front: found and not-found keys, and every hostile key, answered without
// an error and handed on byte for byte; a key-caused failure is not found
// and the next good key in the same postmap process still resolves.
func TestPostmapThroughFront(t *testing.T) {
	tb := &table{}
	addr, s := start(t, tb, nil)
	lookup := postmapFront(t, tcpHosts(addr))

	out, err := lookup("bob@example.jp", "")
	if err != nil || out != "got:bob@example.jp\n" {
		t.Fatalf("found key: %q, %v", out, err)
	}
	if out, err := lookup("nf-nobody@example.jp", ""); err != nil || out != "" {
		t.Errorf("not-found key: %q, %v", out, err)
	}
	errs := 0
	for _, k := range hostileKeys {
		out, err := lookup(k, "")
		// Postfix 3.7's session is LATIN1: a key that is not UTF-8 is read
		// as Latin-1, as a real server would.
		if err != nil || out != "got:"+pgfront.LATIN1.Key(k)+"\n" {
			errs++
			t.Errorf("hostile key %q: %q, %v", k, out, err)
		}
	}
	// One postmap process: each bad key followed by a good one.
	var in, want strings.Builder
	pairs := 0
	for _, k := range append(hostileKeys, "kc-"+hostileKeys[0], "kc-x", "nf-y") {
		bad := k
		if !strings.HasPrefix(k, "kc-") && !strings.HasPrefix(k, "nf-") {
			bad = "kc-" + k // the same bytes, as a key-caused failure
		}
		fmt.Fprintf(&in, "%s\ngood%d@example.net\n", bad, pairs)
		fmt.Fprintf(&want, "good%d@example.net\tgot:good%d@example.net\n", pairs, pairs)
		pairs++
	}
	out, err = lookup("-", in.String())
	if err != nil || out != want.String() {
		t.Errorf("postmap -q - with a good key after each bad one: err %v, output\n%s\nwant\n%s", err, out, want.String())
	}
	st := s.Stats()
	t.Logf("postmap -q: %d hostile keys, %d answered with an error or altered; postmap -q -: %d bad/good pairs; stats %+v",
		len(hostileKeys), errs, pairs, st)
	if st.Refused != 0 {
		t.Errorf("the front refused %d of Postfix's statements", st.Refused)
	}
}

// TestPostmapUnixSocket: the front on a unix socket, as pgsql_table(5)'s
// "unix:/dir" names it (libpq's DIR/.s.PGSQL.5432).
func TestPostmapUnixSocket(t *testing.T) {
	dir := t.TempDir()
	l, err := net.Listen("unix", filepath.Join(dir, ".s.PGSQL.5432"))
	if err != nil {
		t.Fatal(err)
	}
	tb := &table{}
	serve(t, l, tb, nil)
	lookup := postmapFront(t, "unix:"+dir)
	if out, err := lookup("ほげ@example.jp", ""); err != nil || out != "got:ほげ@example.jp\n" {
		t.Errorf("over the unix socket: %q, %v", out, err)
	}
}

// TestPostmapRandomKeys: random byte strings (no NUL, no newline, which
// a Postfix key cannot hold) through libpq's own escaping in one postmap
// process; the front must hand on every one byte for byte. This is the
// differential of Unescape against PQescapeStringConn. The seed is
// printed; PGFRONT_SEED replays it.
func TestPostmapRandomKeys(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv("PGFRONT_SEED"); v != "" {
		fmt.Sscan(v, &seed)
	}
	t.Logf("seed %d (PGFRONT_SEED replays)", seed)
	r := rand.New(rand.NewPCG(seed, seed))
	alphabet := []byte("'\\\"%_ a@.\t$;-E")
	const n = 2000
	keys := make([]string, 0, n)
	seen := map[string]bool{}
	for len(keys) < n {
		b := make([]byte, 1+r.IntN(40))
		for i := range b {
			switch r.IntN(3) {
			case 0:
				b[i] = alphabet[r.IntN(len(alphabet))]
			case 1:
				b[i] = byte(0x80 + r.IntN(0x80))
			default:
				b[i] = byte(0x21 + r.IntN(0x5e))
			}
		}
		k := strings.TrimSpace(string(b)) // postmap -q - trims each line
		if k == "" || seen[k] || strings.HasPrefix(k, "nf-") || strings.HasPrefix(k, "kc-") || strings.HasPrefix(k, "big:") || k == "unset" {
			continue
		}
		seen[k] = true
		keys = append(keys, k)
	}
	tb := &table{}
	addr, _ := start(t, tb, nil)
	lookup := postmapFront(t, tcpHosts(addr))
	out, err := lookup("-", strings.Join(keys, "\n")+"\n")
	if err != nil {
		t.Fatalf("postmap -q -: %v", err)
	}
	asked := map[string]bool{}
	for _, k := range tb.asked() {
		asked[k] = true
	}
	missing := 0
	for _, k := range keys {
		if !asked[pgfront.LATIN1.Key(k)] {
			if missing++; missing < 5 {
				t.Errorf("key %q never reached the resolver unaltered", k)
			}
		}
	}
	lines := strings.Count(out, "\n")
	t.Logf("%d random keys through PQescapeStringConn: %d answered, %d not handed on exactly", n, lines, missing)
	if lines != n || missing != 0 {
		t.Errorf("%d of %d answered, %d altered", lines, n, missing)
	}
}
