package e2e

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"
)

// TestE2EFrontLatency measures, in one run, what the MySQL front adds to a
// lookup by Postfix's own mysql: client: the same keys through `postmap -q
// -` on mysql:original.cf and on mysql:front.cf, alternated, and logs the
// time per lookup and their ratio. No threshold (a shared machine's
// timings are not a test); it checks that both answered the same.
func TestE2EFrontLatency(t *testing.T) {
	requireTools(t)
	db := startDB(t, "")
	dir := cfDir(t)
	sock := filepath.Join(dir, "front.sock")
	orig := writeCF(t, dir, "alias", db, qAlias)
	front := writeFrontCF(t, dir, "alias", sock)
	startMapgate(t, map[string]string{"alias": orig}, frontArgs(sock)...)
	conf := confDir(t, "smtputf8_enable = yes")

	const n = 2000
	keys := make([]string, n)
	for i := range keys {
		if i%4 == 0 {
			keys[i] = "bob@example.jp"
		} else {
			keys[i] = fmt.Sprintf("user%d@example.jp", i)
		}
	}
	var tOrig, tFront time.Duration
	var linesOrig, linesFront int
	for round := range 3 {
		for _, side := range []string{"orig", "front"} {
			table := "mysql:" + orig
			if side == "front" {
				table = "mysql:" + front
			}
			start := time.Now()
			res := postmapStream(t, conf, table, keys)
			d := time.Since(start)
			if res.fatal() {
				t.Fatalf("%s: %s", table, res.stderr)
			}
			if round == 0 {
				continue // warm-up: connections, column discovery, caches
			}
			if side == "front" {
				tFront += d
				linesFront = len(res.lines)
			} else {
				tOrig += d
				linesOrig = len(res.lines)
			}
		}
	}
	if linesOrig != linesFront || linesOrig != n/4 {
		t.Errorf("found %d keys through mysql:, %d through the front, want %d each", linesOrig, linesFront, n/4)
	}
	per := func(d time.Duration) time.Duration { return d / time.Duration(2*n) }
	t.Logf("latency per lookup by postmap's mysql: client (%d lookups a side, 2 rounds after a warm-up): straight mysql: %v, through mapgate's front %v, added %v; ratio front/mysql: %.2f",
		2*n, per(tOrig), per(tFront), per(tFront)-per(tOrig), float64(tFront)/float64(tOrig))
}
