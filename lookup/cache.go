package lookup

import (
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

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
	// MaxEntries and MaxBytes bound the cache (both hold: the entries'
	// estimated bytes never exceed MaxBytes, their number never exceeds
	// MaxEntries).
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

// entryOverhead is the estimated memory of an entry beyond its key and
// values (the node, the slice and string headers, the timestamp).
const entryOverhead = 128

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
	opts  CacheOptions
	c     *otter.Cache[string, *cacheEntry]
	now   func() time.Time
	floor uint32 // the least weight of an entry: MaxBytes/MaxEntries
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
	// otter bounds by weight alone: an entry weighs its bytes, but never
	// less than MaxBytes/MaxEntries, so that both bounds hold.
	ac.floor = uint32(max(1, o.MaxBytes/int64(o.MaxEntries)))
	keep := max(o.TTL, o.StaleMax) // rows are kept for stale serving
	c, err := otter.New(&otter.Options[string, *cacheEntry]{
		MaximumWeight: uint64(o.MaxBytes),
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
	n := len(key) + entryOverhead
	for _, v := range values {
		n += len(v) + 16
	}
	if int64(n) > ac.opts.MaxBytes || n > 1<<31 || at.UnixNano() <= ac.purgedAt.Load() {
		return
	}
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
