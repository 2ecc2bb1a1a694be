package lookup

import (
	"bufio"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"mapgate/socketmap"
)

// cacheSlack is the heap a cache holds beyond its entries' weights: otter's
// buffers, its first table and counters (about 24 KiB measured).
const cacheSlack = 64 << 10

// liveHeap is the heap in use and the bytes of live objects after a full
// collection.
func liveHeap() (inuse, live uint64) {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse, ms.HeapAlloc
}

// fillCache puts n distinct answers of rows rows of rowLen bytes each into
// ac, built as a lookup builds them: the key by cacheKey from a flight key,
// each value copied out of the driver's buffer and appended.
func fillCache(ac *answerCache, n, rows, rowLen int) {
	at := time.Now()
	row := []byte(strings.Repeat("x", rowLen))
	for i := range n {
		addr := "user" + strconv.Itoa(i) + "@example.com"
		copy(row, addr)
		var values []string
		for range rows {
			values = append(values, string(row))
		}
		ac.put(cacheKey("aliases", 0, flightKey(false, []any{addr})), values, at)
	}
	ac.c.CleanUp()
}

// The live heap a full cache holds stays within cache_max_bytes (and
// cacheSlack), for small and large answers: each entry's weight counts
// what it really holds, and otter's index is set aside for as many entries
// as fit. Once with the byte bound alone, once with the default
// cache_max_entries for cache_max_bytes.
func TestCacheHeapWithinBound(t *testing.T) {
	const bound = 4 << 20
	for _, maxEntries := range []int{1 << 30, bound * 100000 / (64 << 20)} {
		for _, tc := range []struct{ rows, rowLen int }{{1, 20}, {1, 520}, {5, 100}, {0, 0}} {
			o := CacheOptions{TTL: time.Hour, NegativeTTL: time.Minute, MaxEntries: maxEntries, MaxBytes: bound}
			n := min(100000, 2*bound/(tc.rows*tc.rowLen+150)) // twice what fits
			inuse0, live0 := liveHeap()
			ac, err := newAnswerCache(o)
			require.NoError(t, err)
			fillCache(ac, n, tc.rows, tc.rowLen)
			inuse1, live1 := liveHeap()
			entries, weight := ac.c.EstimatedSize(), ac.c.WeightedSize()
			held, inuse := int64(live1)-int64(live0), int64(inuse1)-int64(inuse0)
			t.Logf("max %d entries, %d bytes; %d put of %d rows of %d bytes: %d entries, weight %d (%.0f an entry); "+
				"live heap %d (%.3f× the bound, %.0f an entry), heap in use %d (%.2f×)",
				o.MaxEntries, o.MaxBytes, n, tc.rows, tc.rowLen, entries, weight, float64(weight)/float64(entries),
				held, float64(held)/float64(o.MaxBytes), float64(held)/float64(entries), inuse, float64(inuse)/float64(o.MaxBytes))
			assert.Less(t, entries, n, "a bound was reached")
			assert.LessOrEqual(t, held, o.MaxBytes+cacheSlack, "the live heap the cache holds")
			runtime.KeepAlive(ac)
			ac.close()
		}
	}
}

func TestAllocSize(t *testing.T) {
	for _, c := range []struct {
		n        int
		pointers bool
		want     int
	}{{0, false, 0}, {1, false, 16}, {15, true, 16}, {17, false, 24}, {553, false, 576}, {512, true, 512},
		{513, true, 576}, {576, true, 640}, {32768, false, 32768}, {32769, false, 40960}} {
		assert.Equal(t, c.want, allocSize(c.n, c.pointers), "%d bytes, pointers %v", c.n, c.pointers)
	}
}

// TestCacheRSS is a measurement, run by hand (MAPGATE_CACHE_RSS=1, and
// GOMEMLIMIT as wanted): a 64 MiB cache filled with 1,000,000 distinct
// 520-byte answers, and the process's heap and RSS after.
func TestCacheRSS(t *testing.T) {
	if os.Getenv("MAPGATE_CACHE_RSS") == "" {
		t.Skip("a measurement: set MAPGATE_CACHE_RSS=1")
	}
	o := CacheOptions{TTL: time.Hour, NegativeTTL: 2 * time.Second, StaleMax: time.Hour, MaxEntries: 100000, MaxBytes: 64 << 20}
	_, live0 := liveHeap()
	rss0, _ := procStatus("VmRSS")
	ac, err := newAnswerCache(o)
	require.NoError(t, err)
	start := time.Now()
	fillCache(ac, 1000000, 1, 520)
	took := time.Since(start)
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	sys, inuse := ms.HeapSys, ms.HeapInuse
	_, live := liveHeap()
	rss, _ := procStatus("VmRSS")
	hwm, _ := procStatus("VmHWM")
	mib := func(n uint64) float64 { return float64(n) / (1 << 20) }
	t.Logf("GOGC=%q GOMEMLIMIT=%q, %v: %d entries, weight %.1f MiB; cache's live heap %.1f MiB; heap before the last GC: in use %.1f MiB, from the OS %.1f MiB; RSS %.1f MiB (%.1f before the cache), peak %.1f MiB",
		os.Getenv("GOGC"), os.Getenv("GOMEMLIMIT"), took.Round(time.Millisecond), ac.c.EstimatedSize(), mib(ac.c.WeightedSize()),
		mib(live-live0), mib(inuse), mib(sys), mib(rss), mib(rss0), mib(hwm))
	runtime.KeepAlive(ac)
	ac.close()
}

// procStatus reads a "kB" field of /proc/self/status, in bytes.
func procStatus(field string) (uint64, error) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			n, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n << 10, err
		}
	}
	return 0, sc.Err()
}

// TestCacheRSSLookups is the same measurement through lookups on a real
// database (MAPGATE_CACHE_RSS=lookups): 1,000,000 distinct keys, each
// answered with 520 bytes, into a 64 MiB cache.
func TestCacheRSSLookups(t *testing.T) {
	if os.Getenv("MAPGATE_CACHE_RSS") != "lookups" {
		t.Skip("a measurement: set MAPGATE_CACHE_RSS=lookups")
	}
	srv := sharedServer(t)
	s := loadSet(t, []string{"inet:" + srv.Addr()}, PoolOptions{}, nil, mapDef{name: "big", db: "postfix",
		body: "query = SELECT CONCAT('%s', REPEAT('x', 520 - CHAR_LENGTH('%s')))"})
	_, live0 := liveHeap()
	rss0, _ := procStatus("VmRSS")
	require.NoError(t, s.UseCache(CacheOptions{TTL: time.Hour, NegativeTTL: 2 * time.Second, StaleMax: time.Hour,
		MaxEntries: 100000, MaxBytes: 64 << 20}))
	const n, streams = 1000000, 4
	start := time.Now()
	var wg sync.WaitGroup
	for g := range streams {
		wg.Go(func() {
			for i := g; i < n; i += streams {
				key := "user" + strconv.Itoa(i) + "@example.com"
				if r := lookupReply(t, s, "big", key); r.Status != socketmap.StatusOK || len(r.Text) != 520 {
					t.Errorf("%s: %v", key, r)
					return
				}
			}
		})
	}
	wg.Wait()
	took := time.Since(start)
	entries, weight := s.CacheEntries()
	_, live := liveHeap()
	rss, _ := procStatus("VmRSS")
	hwm, _ := procStatus("VmHWM")
	_, err := s.Purge("", "")
	require.NoError(t, err)
	_, liveEmpty := liveHeap()
	mib := func(n uint64) float64 { return float64(n) / (1 << 20) }
	t.Logf("GOGC=%q GOMEMLIMIT=%q, %d lookups in %v: %d entries, weight %.1f MiB; live heap %.1f MiB (%.1f before the cache, %.1f purged: the cache's %.1f); RSS %.1f MiB (%.1f before the cache), peak %.1f MiB",
		os.Getenv("GOGC"), os.Getenv("GOMEMLIMIT"), n, took.Round(time.Millisecond), entries, mib(weight),
		mib(live), mib(live0), mib(liveEmpty), mib(live-liveEmpty), mib(rss), mib(rss0), mib(hwm))
}
