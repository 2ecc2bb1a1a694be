package pgfront_test

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mapgate/pgfront"
)

// libpqEscape builds testdata/libpq/escape.c against the system's libpq
// (Debian's libpq-dev) and returns its path; the test is skipped without
// a C compiler or libpq's header.
func libpqEscape(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds a libpq helper; skipped with -short")
	}
	cc, err := exec.LookPath("cc")
	if err != nil {
		t.Skip("no C compiler")
	}
	inc, err := exec.Command("pg_config", "--includedir").Output()
	if err != nil {
		t.Skip("no pg_config (Debian's libpq-dev)")
	}
	bin := filepath.Join(t.TempDir(), "escape")
	out, err := exec.Command(cc, "-O1", "-o", bin, "testdata/libpq/escape.c", "-I"+strings.TrimSpace(string(inc)), "-lpq").CombinedOutput()
	if err != nil {
		t.Skipf("cannot build the libpq helper: %v: %s", err, out)
	}
	return bin
}

// TestLibpqEscapeDifferential: Escape against libpq's own
// PQescapeStringConn, on a session with the front (so libpq escapes by
// the ParameterStatus the front reports), in each client encoding a
// Postfix or psql sets: the same escaped bytes, the same refusals (UTF8:
// libpq's "invalid multibyte character" exactly where Escape refuses),
// and each escaped key answered with exactly its bytes. Keys are random
// bytes without NUL (a C string cannot hold one); the seed is printed and
// PGFRONT_SEED replays it.
func TestLibpqEscapeDifferential(t *testing.T) {
	bin := libpqEscape(t)
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv("PGFRONT_SEED"); v != "" {
		fmt.Sscan(v, &seed)
	}
	t.Logf("seed %d (PGFRONT_SEED replays)", seed)
	r := rand.New(rand.NewPCG(seed, ^seed))
	const n = 3000
	keys := append([]string{}, hostileKeys...)
	pieces := []string{"'", "''", `\`, "ü", "ほ", "😀", "a", "@", "%", "_", ".", "\"", "E'", "\t", "\U0010ffff", "\u00a0", "$$", ";"}
	notUTF8 := []string{"\xed\xa0\x80", "\xc0\xaf", "\xf4\x90\x80\x80", "\xf0\x9f", "\xe3\x81", "\x80", "\xff"}
	for len(keys) < n {
		var b strings.Builder
		for range 1 + r.IntN(12) {
			switch r.IntN(40) {
			case 0:
				b.WriteByte(byte(1 + r.IntN(255)))
			case 1:
				b.WriteString(notUTF8[r.IntN(len(notUTF8))])
			default:
				b.WriteString(pieces[r.IntN(len(pieces))])
			}
		}
		k := b.String()
		if strings.HasPrefix(k, "nf-") || strings.HasPrefix(k, "kc-") || strings.HasPrefix(k, "big:") || k == "unset" {
			continue
		}
		keys = append(keys, k)
	}
	var in bytes.Buffer
	for _, k := range keys {
		in.WriteString(hex.EncodeToString([]byte(k)) + "\n")
	}
	tb := &table{}
	addr, _ := start(t, tb, nil)
	host, port, _ := net.SplitHostPort(addr)
	for _, enc := range []pgfront.Encoding{pgfront.UTF8, pgfront.LATIN1, pgfront.SQLASCII} {
		cmd := exec.Command(bin, "host="+host+" port="+port+" user=postfix password=secret dbname=m sslmode=prefer", enc.String())
		cmd.Stdin = bytes.NewReader(in.Bytes())
		var errOut bytes.Buffer
		cmd.Stderr = &errOut
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%v: helper: %v: %s", enc, err, errOut.String())
		}
		sc := bufio.NewScanner(bytes.NewReader(out))
		sc.Buffer(nil, 1<<20)
		next := func() string {
			if !sc.Scan() {
				t.Fatalf("%v: helper output ended early", enc)
			}
			return sc.Text()
		}
		var escaped, refused, bad int
		for _, k := range keys {
			line := next()
			want, werr := pgfront.Escape(k, enc)
			if line == "ESCERR" {
				refused++
				if werr == nil {
					bad++
					t.Errorf("%v: libpq refuses %q, Escape gives %q", enc, k, want)
				}
				continue
			}
			escaped++
			got, _ := hex.DecodeString(strings.TrimPrefix(line, "ESC "))
			if werr != nil || string(got) != want {
				bad++
				t.Errorf("%v: %q: libpq escapes to %q, Escape to %q (%v)", enc, k, got, want, werr)
			}
			ans := next()
			if v, _ := hex.DecodeString(strings.TrimPrefix(ans, "ROW ")); !strings.HasPrefix(ans, "ROW ") || string(v) != "got:"+enc.Key(k) {
				bad++
				t.Errorf("%v: %q answered %q", enc, k, ans)
			}
		}
		t.Logf("%v: %d keys: %d escaped by libpq and answered exactly, %d refused by libpq (and by Escape), %d disagreements",
			enc, len(keys), escaped, refused, bad)
	}
}
