package lookup

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"mapgate/answer"
	"mapgate/engine"
	"mapgate/hosts"
)

// MapSpec names the table files to serve under one socketmap name, asked
// in order as Postfix asks the tables listed in one parameter. Each path
// may name its table type as main.cf does ("mysql:/etc/postfix/x.cf"; see
// engine.Split): its engine reads and serves the table. A bare path is
// engine.Default's.
type MapSpec struct {
	Name  string
	Paths []string
	Opts  MapOptions
}

// Set is every map mapgate serves, by name, with the pools they share.
type Set struct {
	maps  map[string]*Map
	pools *hosts.Pools
	log   *slog.Logger
	cache *answerCache // nil: off
	view  bool         // made by View: s's parent owns the pools and cache
}

// Load reads every table file with its engine and builds the maps. Errors name the file, line
// and parameter. Nothing is connected yet.
func Load(specs []MapSpec, po hosts.PoolOptions, log *slog.Logger, obs Observer) (*Set, error) {
	if log == nil {
		log = slog.Default()
	}
	po.Logger = log
	s := &Set{maps: map[string]*Map{}, pools: hosts.NewPools(po), log: log}
	for _, sp := range specs {
		if _, dup := s.maps[sp.Name]; dup {
			s.Close()
			return nil, fmt.Errorf("map %q defined twice", sp.Name)
		}
		var cfs []*engine.Table
		for _, ref := range sp.Paths {
			eng, path, err := engine.Resolve(ref)
			if err != nil {
				s.Close()
				return nil, fmt.Errorf("map %s: %w", sp.Name, err)
			}
			cf, err := eng.ReadTable(path)
			if err != nil {
				s.Close()
				return nil, err
			}
			for _, u := range cf.Unknown {
				log.Warn("unknown parameter ignored (as Postfix does)", "file", path, "param", u)
			}
			for _, w := range cf.Warnings {
				log.Warn(w)
			}
			cfs = append(cfs, cf)
		}
		m, err := NewMap(sp.Name, cfs, sp.Opts, s.pools, log, obs)
		if err != nil {
			s.Close()
			return nil, err
		}
		s.maps[sp.Name] = m
	}
	return s, nil
}

// Discover runs column discovery for every map, in parallel, bounded by ctx.
// Failures are logged; those maps retry on their own later.
func (s *Set) Discover(ctx context.Context) {
	var wg sync.WaitGroup
	for _, m := range s.maps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := m.Discover(ctx); err != nil {
				m.log.Warn("column discovery failed; keys go to the database unchecked until it succeeds", "err", err)
			}
		}()
	}
	wg.Wait()
}

// Lookup looks key up in the named map (a front end's entry point; see
// smfront for the socketmap one).
func (s *Set) Lookup(ctx context.Context, name, key string) answer.Result {
	m, ok := s.maps[name]
	if !ok {
		return answer.Fail(answer.ClassNoMap, "unknown map name")
	}
	return m.Lookup(ctx, key)
}

// Map returns the named map.
func (s *Set) Map(name string) (*Map, bool) {
	m, ok := s.maps[name]
	return m, ok
}

// Names lists the maps, sorted.
func (s *Set) Names() []string {
	out := make([]string, 0, len(s.maps))
	for n := range s.maps {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Pools returns the set's connection pools and breakers.
func (s *Set) Pools() *hosts.Pools { return s.pools }

// UseCache gives the set's maps an answer cache (see CacheOptions; not
// enabled: none). Call it before the set serves. The cache is the set's
// own: a reload starts with an empty one.
func (s *Set) UseCache(o CacheOptions) error {
	ac, err := newAnswerCache(o)
	if err != nil {
		return err
	}
	if s.cache != nil {
		s.cache.close()
	}
	s.cache = ac
	for _, m := range s.maps {
		m.cache = ac
	}
	return nil
}

// CacheEntries returns the number of cached entries and their estimated
// weight in bytes (0, 0 without a cache).
func (s *Set) CacheEntries() (entries int, bytes uint64) {
	if s.cache == nil {
		return 0, 0
	}
	return s.cache.c.EstimatedSize(), s.cache.c.WeightedSize()
}

// Purge drops cached answers, so that the next lookups ask the database:
// every entry (name ""), every entry of one map (key ""), or the entries a
// lookup of key in that map would use (each search step's, in each table,
// including a catch-all's: a change to rows that other keys' queries
// return, a %d-only query say, needs the map purged). It returns how many
// entries it dropped; an unknown map is an error.
func (s *Set) Purge(name, key string) (int, error) {
	if name == "" {
		if key != "" {
			return 0, fmt.Errorf("purge: a key needs a map name")
		}
		if s.cache == nil {
			return 0, nil
		}
		return s.cache.purgePrefix(""), nil
	}
	m, ok := s.maps[name]
	if !ok {
		return 0, fmt.Errorf("purge: no map %q", name)
	}
	if s.cache == nil {
		return 0, nil
	}
	if key == "" {
		return s.cache.purgePrefix(name + "\x00"), nil
	}
	return m.purge(key), nil
}

// Close releases every statement and pool (a view: nothing).
func (s *Set) Close() error {
	if s.view {
		return nil
	}
	for _, m := range s.maps {
		m.Close()
	}
	if s.cache != nil {
		s.cache.close()
	}
	return s.pools.Close()
}

// CloseAfter closes the set once lookups still running on it have had d to
// finish (used after a reload swapped in a new set).
func (s *Set) CloseAfter(d time.Duration) {
	time.AfterFunc(d, func() { s.Close() })
}
