package lookup

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/maypok86/otter/v2"
)

// CacheOptions configure the answer cache (see Set.UseCache). The zero
// value is no cache: every lookup asks the database, and an answer is
// never older than the lookup.
type CacheOptions struct {
	// TTL is how long rows the database returned answer lookups without
	// asking it again. Zero: no cache.
	TTL time.Duration
	// NegativeTTL is how long "no rows" does. It should be much shorter
	// than TTL: a cached miss for an address created a moment ago bounces
	// real mail. Zero: misses are not cached.
	NegativeTTL time.Duration
	// StaleMax is how old cached rows may be when they are served because
	// every host of the table is unavailable (instead of TEMP). Zero, or
	// not more than TTL: nothing stale is served. Misses are never served
	// stale.
	StaleMax time.Duration
	// MaxEntries and MaxBytes bound the cache (both hold: the live heap it
	// holds for its entries never exceeds MaxBytes, their number never
	// exceeds MaxEntries). MaxBytes does not bound the process's RSS, which
	// Go's collector lets grow to about twice the live heap (GOGC=100).
	MaxEntries int
	MaxBytes   int64
}

// Enabled reports whether the options make a cache.
func (o CacheOptions) Enabled() bool { return o.TTL > 0 }

// Validate checks the options' consistency.
func (o CacheOptions) Validate() error {
	switch {
	case o.TTL < 0 || o.NegativeTTL < 0 || o.StaleMax < 0:
		return fmt.Errorf("cache: negative duration")
	case !o.Enabled():
		return nil
	case o.NegativeTTL > o.TTL:
		return fmt.Errorf("cache: cache_negative_ttl (%v) longer than cache_ttl (%v)", o.NegativeTTL, o.TTL)
	case o.MaxEntries <= 0 || o.MaxBytes <= 0:
		return fmt.Errorf("cache: cache_max_entries and cache_max_bytes must be positive")
	case o.MaxBytes/int64(o.MaxEntries) > 1<<31:
		return fmt.Errorf("cache: cache_max_bytes per entry too large")
	}
	return nil
}

// What the cache holds on the heap beyond each entry's packed key and
// values (see entryWeight), as otter v2.4 and Go 1.26's allocator lay it
// out; TestCacheHeapWithinBound measures it.
const (
	// nodeBytes is otter's node for a cache with expiry and weights: two
	// pairs of list pointers, the expiry time, two weights, a state and two
	// flags (56 bytes), the key's string header and the value pointer.
	nodeBytes = 80
	// indexBytes is, per entry, otter's hash table (64-byte buckets of five
	// nodes, doubled at three quarters full: 17 to 34 bytes an entry) and its
	// frequency sketch (an 8-byte counter per entry, rounded up to a power of
	// two: 8 to 16 bytes). Both grow with the most entries the cache has
	// held, and do not shrink with them: they are set aside for the most it
	// can hold (see newAnswerCache), not weighed per entry.
	indexBytes = 34 + 16
)

// sizeClasses are the Go allocator's object sizes up to 32 KiB (Go 1.26,
// internal/runtime/gc/sizeclasses.go): an allocation takes the least one
// that holds it.
var sizeClasses = [...]int{8, 16, 24, 32, 48, 64, 80, 96, 112, 128, 144, 160, 176, 192, 208, 224, 240, 256,
	288, 320, 352, 384, 416, 448, 480, 512, 576, 640, 704, 768, 896, 1024, 1152, 1280, 1408, 1536, 1792, 2048,
	2304, 2688, 3072, 3200, 3456, 4096, 4864, 5376, 6144, 6528, 6784, 6912, 8192, 9472, 9728, 10240, 10880,
	12288, 13568, 14336, 16384, 18432, 19072, 20480, 21760, 24576, 27264, 28672, 32768}

// allocSize is the heap an n-byte allocation takes: its size class, with
// the 8-byte header Go puts in front of objects that hold pointers and are
// larger than 512 bytes; beyond 32 KiB, whole 8 KiB pages. A pointer-free
// object smaller than 16 bytes can share a 16-byte block, which it may keep
// alive alone: it counts as 16.
func allocSize(n int, pointers bool) int {
	switch {
	case n == 0:
		return 0
	case !pointers && n < 16:
		return 16
	case pointers && n > 512 && n <= 32768-8:
		n += 8
	}
	if n > 32768 {
		return (n + 8191) &^ 8191
	}
	i, _ := slices.BinarySearch(sizeClasses[:], n)
	return sizeClasses[i]
}

// entryWeight is the heap an entry holds, key and values packed by pack:
// otter's node, the cacheEntry, the values' headers, and their bytes with
// the key's.
func entryWeight(key string, values []string) int {
	n := len(key)
	for _, v := range values {
		n += len(v)
	}
	return minEntryWeight + allocSize(len(values)*int(unsafe.Sizeof("")), true) + allocSize(n, false)
}

// minEntryWeight is what every entry holds: otter's node and the
// cacheEntry.
var minEntryWeight = nodeBytes + allocSize(int(unsafe.Sizeof(cacheEntry{})), true)

// pack copies key and values into one allocation, and the values' headers
// into one of their exact number, so that what an entry holds does not
// depend on the buffers they were cut from (a key built with room to
// spare, a slice grown by append).
func pack(key string, values []string) (string, []string) {
	var b strings.Builder
	n := len(key)
	for _, v := range values {
		n += len(v)
	}
	b.Grow(n)
	b.WriteString(key)
	for _, v := range values {
		b.WriteString(v)
	}
	s := b.String()
	k, s := s[:len(key)], s[len(key):]
	var vs []string
	if len(values) > 0 {
		vs = make([]string, len(values))
		for i, v := range values {
			vs[i], s = s[:len(v)], s[len(v):]
		}
	}
	return k, vs
}

// cacheEntry is what one query returned for one set of bound values: the
// non-NULL column values of its rows (none: no rows), and when the attempt
// that read them was sent (the database held them at some instant after
// that).
type cacheEntry struct {
	values []string
	at     time.Time
	bytes  uint32
}

// answerCache holds query results by map, table and bound values. It stores
// rows, never a formatted answer: each lookup formats them with its own key
// (as the rows shared by identical concurrent queries are).
type answerCache struct {
	opts CacheOptions
	c    *otter.Cache[string, *cacheEntry]
	now  func() time.Time
	// budget is the most the entries weigh: MaxBytes less otter's index
	// for as many entries as fit.
	budget int64
	floor  uint32 // the least weight of an entry: budget/MaxEntries
	// purgedAt is when the last purge began (unix nanoseconds): rows read
	// by an attempt sent before it are not stored, as they may predate the
	// change the purge is for.
	purgedAt atomic.Int64
}

func newAnswerCache(o CacheOptions) (*answerCache, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if !o.Enabled() {
		return nil, nil
	}
	ac := &answerCache{opts: o, now: time.Now}
	// otter's index is set aside for the most entries there can be; the
	// entries weigh the rest. otter bounds by weight alone: an entry weighs
	// what it holds, but never less than budget/MaxEntries, so that both
	// bounds hold.
	most := min(int64(o.MaxEntries), o.MaxBytes/int64(minEntryWeight))
	ac.budget = o.MaxBytes - most*indexBytes
	ac.floor = uint32(max(1, ac.budget/int64(o.MaxEntries)))
	keep := max(o.TTL, o.StaleMax) // rows are kept for stale serving
	c, err := otter.New(&otter.Options[string, *cacheEntry]{
		MaximumWeight: uint64(ac.budget),
		Weigher: func(_ string, e *cacheEntry) uint32 {
			return max(e.bytes, ac.floor)
		},
		ExpiryCalculator: otter.ExpiryWritingFunc(func(e otter.Entry[string, *cacheEntry]) time.Duration {
			if len(e.Value.values) == 0 {
				return o.NegativeTTL
			}
			return keep
		}),
	})
	if err != nil {
		return nil, err
	}
	ac.c = c
	return ac, nil
}

// cacheKey is the entry's key: the map, the table's position in it, and
// the query's flight key (its bound values).
func cacheKey(mapName string, table int, fk string) string {
	var b strings.Builder
	b.Grow(len(mapName) + len(fk) + 8)
	b.WriteString(mapName)
	b.WriteByte(0)
	b.WriteString(strconv.Itoa(table))
	b.WriteByte(0)
	b.WriteString(fk)
	return b.String()
}

// fresh returns the entry for key if it is within its TTL (rows: TTL; no
// rows: NegativeTTL).
func (ac *answerCache) fresh(key string) (*cacheEntry, bool) {
	e, ok := ac.c.GetIfPresent(key)
	if !ok {
		return nil, false
	}
	ttl := ac.opts.TTL
	if len(e.values) == 0 {
		ttl = ac.opts.NegativeTTL
	}
	if ac.now().Sub(e.at) >= ttl {
		return nil, false
	}
	return e, true
}

// stale returns rows for key that are older than their TTL but younger
// than StaleMax: for a lookup that no host can answer. Never "no rows".
func (ac *answerCache) stale(key string) (*cacheEntry, bool) {
	e, ok := ac.c.GetIfPresent(key)
	if !ok || len(e.values) == 0 {
		return nil, false
	}
	if ac.now().Sub(e.at) >= ac.opts.StaleMax {
		return nil, false
	}
	return e, true
}

// put stores what a query read; at is when its attempt was sent. An entry
// read later is never replaced by an older one.
func (ac *answerCache) put(key string, values []string, at time.Time) {
	if len(values) == 0 && ac.opts.NegativeTTL <= 0 {
		return
	}
	n := entryWeight(key, values)
	if int64(n) > ac.budget || n > 1<<31 || at.UnixNano() <= ac.purgedAt.Load() {
		return
	}
	key, values = pack(key, values)
	e := &cacheEntry{values: values, at: at, bytes: uint32(n)}
	ac.c.Compute(key, func(old *cacheEntry, found bool) (*cacheEntry, otter.ComputeOp) {
		if found && old.at.After(at) {
			return old, otter.CancelOp
		}
		return e, otter.WriteOp
	})
	// A purge that began after the check above either sees this entry
	// (it invalidates after setting purgedAt) or is seen here.
	if at.UnixNano() <= ac.purgedAt.Load() {
		ac.c.Compute(key, func(old *cacheEntry, found bool) (*cacheEntry, otter.ComputeOp) {
			if found && old == e {
				return nil, otter.InvalidateOp
			}
			return old, otter.CancelOp
		})
	}
}

// purgePrefix drops every entry whose key starts with prefix ("": all)
// and returns how many it dropped.
func (ac *answerCache) purgePrefix(prefix string) int {
	ac.purgedAt.Store(ac.now().UnixNano())
	if prefix == "" {
		n := ac.c.EstimatedSize()
		ac.c.InvalidateAll()
		return n
	}
	var keys []string
	for k := range ac.c.Keys() {
		if strings.HasPrefix(k, prefix) {
			keys = append(keys, k)
		}
	}
	n := 0
	for _, k := range keys {
		if _, ok := ac.c.Invalidate(k); ok {
			n++
		}
	}
	return n
}

// purgeKey drops one entry.
func (ac *answerCache) purgeKey(key string) int {
	ac.purgedAt.Store(ac.now().UnixNano())
	if _, ok := ac.c.Invalidate(key); ok {
		return 1
	}
	return 0
}

// close stops the cache's goroutines.
func (ac *answerCache) close() {
	ac.c.InvalidateAll()
	ac.c.StopAllGoroutines()
}
