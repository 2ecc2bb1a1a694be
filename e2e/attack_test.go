package e2e

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"mapgate/lookup"
	"mapgate/socketmap"
)

// goodKeys are keys a latin1 column can hold, with the answer mapgate must
// give for each ("" = NOTFOUND). Every lookup of one costs one query.
var goodKeys = map[string]string{
	"bob@example.jp":      "bob@example.jp",
	"BOB@Example.JP":      "bob@example.jp",
	"alice@example.jp":    "alice@example.jp,alice@example.com",
	"josé@example.jp":     "jose@example.jp",
	"o'brien@example.jp":  "obrien@example.jp",
	"nobody@example.jp":   "",
	"inactive@example.jp": "",
	"' OR '1'='1":         "",
}

// badKeys returns n keys that no latin1 column can hold: Japanese, emoji,
// other non-latin1 characters, and invalid UTF-8 (which reaches the server
// when Postfix runs with smtputf8_enable = no).
func badKeys(n int) []string {
	forms := []func(i int) string{
		func(i int) string { return fmt.Sprintf("ほげ%d@example.jp", i) },
		func(i int) string { return fmt.Sprintf("😀%d@example.jp", i) },
		func(i int) string { return fmt.Sprintf("bob%d@例え.jp", i) },
		func(i int) string { return fmt.Sprintf("user%dĀǅ@example.jp", i) },
		func(i int) string { return fmt.Sprintf("\u200b%d@example.jp", i) },
		func(i int) string { return fmt.Sprintf("\xff%d@example.jp", i) },
		func(i int) string { return fmt.Sprintf("bob\xc3(%d@example.jp", i) },
		func(i int) string { return fmt.Sprintf("\xed\xa0\x80%d@example.jp", i) }, // a UTF-16 surrogate
		func(i int) string { return fmt.Sprintf("\xc0\xaf%d@example.jp", i) },     // overlong
		func(i int) string { return fmt.Sprintf("%d\xf0\x9f\x98@example.jp", i) }, // truncated emoji
	}
	keys := make([]string, n)
	for i := range keys {
		keys[i] = forms[i%len(forms)](i)
	}
	return keys
}

// nulKeys are keys with a NUL byte, which no Postfix client can send (keys
// are C strings) but a hostile or broken socketmap client can.
var nulKeys = []string{"\x00", "bob@example.jp\x00", "bob\x00@example.jp", "\x00bob@example.jp", "ほげ\x00@example.jp"}

// mixKeys interleaves good keys (every every-th key) with bad ones, in a
// random order that the seed fixes.
func mixKeys(bad []string, every int, seed uint64) (keys []string, good int) {
	var names []string
	for k := range goodKeys {
		names = append(names, k)
	}
	r := rand.New(rand.NewPCG(seed, 1))
	for i, b := range bad {
		keys = append(keys, b)
		if i%every == every-1 {
			keys = append(keys, names[r.IntN(len(names))])
			good++
		}
	}
	return keys, good
}

// TestE2EAttackPostmap sends the seed's attack through Postfix's own
// socketmap client: thousands of unrepresentable keys interleaved with good
// ones, over one connection and over several at once, plus NUL keys from a
// raw client. Every good key gets its right answer, nothing fails, and the
// database sees no query for a bad key (MariaDB's statement counters grow
// by at most the number of good lookups, and not at all for bad keys alone).
func TestE2EAttackPostmap(t *testing.T) {
	requireTools(t)
	db := startDB(t, "")
	cf := writeCF(t, cfDir(t), "alias", db, qAlias)
	// Address search off: each good lookup is exactly one query, and a bad
	// key's @domain step (a legitimate query) does not blur the count.
	mg := startMapgate(t, map[string]string{"virtual_alias": cf}, "--set", "virtual_alias_address_search=no")
	table := "socketmap:inet:" + mg.Addr + ":virtual_alias"
	// smtputf8_enable = no: postmap passes invalid UTF-8 through, as Postfix
	// does in that mode.
	conf := confDir(t, "smtputf8_enable = no")

	raw := func(t *testing.T) *socketmap.Client {
		c, err := socketmap.Dial("inet:" + mg.Addr)
		if err != nil {
			t.Fatal(err)
		}
		c.Timeout = 30 * time.Second
		t.Cleanup(func() { c.Close() })
		return c
	}
	c := raw(t)
	if r, err := c.Lookup("virtual_alias", "bob@example.jp"); err != nil || r != socketmap.OK("bob@example.jp") {
		t.Fatalf("warm-up lookup: %v %v", r, err)
	}
	// Reading the counters may itself count: measure it.
	s0, e0 := counters(t, db)
	s1, e1 := counters(t, db)
	overS, overE := s1-s0, e1-e0
	type mark struct{ s, e int64 }
	now := func() mark { s, e := counters(t, db); return mark{s, e} }
	// queries is the number of SELECTs since m (Com_select counts them
	// whether mapgate prepares statements or not); it logs both counters.
	queries := func(t *testing.T, m mark) int64 {
		s, e := counters(t, db)
		s, e = s-m.s-overS, e-m.e-overE
		t.Logf("database counters: Com_select +%d, Com_stmt_execute +%d", s, e)
		return s
	}

	t.Run("bad keys only, one postmap connection", func(t *testing.T) {
		base := now()
		start := time.Now()
		keys := badKeys(3000)
		checkStream(t, conf, table, keys)
		// None of the keys is queried; the column facts they are rejected
		// on are confirmed at most once per lookup.ConfirmEvery.
		limit := int64(time.Since(start)/lookup.ConfirmEvery) + 1
		if n := queries(t, base); n > limit {
			t.Errorf("database saw %d queries for %d bad keys, want at most %d (schema confirmations)", n, len(keys), limit)
		}
	})

	t.Run("NUL keys, raw client", func(t *testing.T) {
		base := now()
		for range 20 {
			for _, k := range nulKeys {
				r, err := c.Lookup("virtual_alias", k)
				if err != nil {
					t.Fatalf("key %+q: %v", k, err)
				}
				if r.Status != socketmap.StatusNotFound {
					t.Errorf("key %+q: %v, want NOTFOUND", k, r)
				}
			}
		}
		if n := queries(t, base); n != 0 {
			t.Errorf("database saw %d queries for %d NUL-key lookups, want 0 (REPORT.md: MariaDB answers no rows, so no query is needed)", n, 20*len(nulKeys))
		}
	})

	t.Run("mixed, one postmap connection", func(t *testing.T) {
		base := now()
		keys, good := mixKeys(badKeys(3000), 5, 1)
		checkStream(t, conf, table, keys)
		n := queries(t, base)
		t.Logf("one connection: %d keys (%d good, %d bad): database saw %d queries", len(keys), good, len(keys)-good, n)
		if n > int64(good) || n == 0 {
			t.Errorf("database saw %d queries, want 1..%d (one per good key at most, none for bad keys)", n, good)
		}
	})

	t.Run("mixed, concurrent connections", func(t *testing.T) {
		base := now()
		var wg sync.WaitGroup
		var mu sync.Mutex
		total, goodTotal := 0, 0
		for i := range 4 {
			keys, good := mixKeys(badKeys(2000), 4, uint64(10+i))
			mu.Lock()
			total, goodTotal = total+len(keys), goodTotal+good
			mu.Unlock()
			wg.Go(func() { checkStream(t, conf, table, keys) })
		}
		for i := range 2 {
			cl := raw(t)
			wg.Go(func() {
				good := 0
				for j := range 500 {
					k := nulKeys[j%len(nulKeys)]
					want := socketmap.NotFound()
					if j%3 == 2 {
						k, want = "alice@example.jp", socketmap.OK(goodKeys["alice@example.jp"])
						good++
					}
					r, err := cl.Lookup("virtual_alias", k)
					if err != nil {
						t.Errorf("raw client %d: key %+q: %v", i, k, err)
						return
					}
					if r != want {
						t.Errorf("raw client %d: key %+q: %v, want %v", i, k, r, want)
					}
				}
				mu.Lock()
				total, goodTotal = total+500, goodTotal+good
				mu.Unlock()
			})
		}
		wg.Wait()
		n := queries(t, base)
		t.Logf("4 postmap + 2 raw connections at once: %d keys (%d good): database saw %d queries", total, goodTotal, n)
		if n > int64(goodTotal) || n == 0 {
			t.Errorf("database saw %d queries, want 1..%d", n, goodTotal)
		}
	})
	if strings.Contains(mg.Log(), "level=ERROR") {
		t.Errorf("mapgate logged errors:\n%s", tail(grepLines(mg.Log(), "level=ERROR"), 20))
	}
}

// checkStream runs keys through `postmap -q - table` and checks that it
// reported no error and that every key got the answer goodKeys says (bad
// keys: not found).
func checkStream(t *testing.T, conf, table string, keys []string) {
	t.Helper()
	res := postmapStream(t, conf, table, keys)
	if res.fatal() || lookupWarning(res.stderr) != "" {
		t.Errorf("postmap -q - %s failed:\n%s", table, tail(res.stderr, 10))
		return
	}
	got, _ := matchStream(keys, res.lines)
	if countFound(got) != len(res.lines) {
		t.Errorf("%d output lines but %d matched keys", len(res.lines), countFound(got))
	}
	wrong := 0
	for i, k := range keys {
		want := answer{}
		if v := goodKeys[k]; v != "" {
			want = answer{true, v}
		}
		if got[i] != want {
			if wrong++; wrong <= 10 {
				t.Errorf("key %+q: got %v, want %v", k, got[i], want)
			}
		}
	}
	if wrong > 10 {
		t.Errorf("... %d wrong answers in all", wrong)
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
