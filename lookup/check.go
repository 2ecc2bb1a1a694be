package lookup

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// HostCheck is whether one host could prepare one .cf file's query:
// Err is nil when it could, else why not (unreachable, refused login,
// unknown database, table or column, ...).
type HostCheck struct {
	Host string
	Err  error
}

// FileCheck is what Check found for one .cf file of a map, per host.
type FileCheck struct {
	Path  string
	Hosts []HostCheck
}

// OK reports whether at least one host prepared the query: the file's
// lookups can be answered.
func (f FileCheck) OK() bool {
	for _, h := range f.Hosts {
		if h.Err == nil {
			return true
		}
	}
	return false
}

// MapCheck is what Check found for one map.
type MapCheck struct {
	Map   string
	Files []FileCheck
}

// OK reports whether every .cf file of the map has a host that can answer.
func (m MapCheck) OK() bool {
	for _, f := range m.Files {
		if !f.OK() {
			return false
		}
	}
	return true
}

// Err sums up why the map cannot answer (nil when it can).
func (m MapCheck) Err() error {
	var errs []error
	for _, f := range m.Files {
		if f.OK() {
			continue
		}
		for _, h := range f.Hosts {
			errs = append(errs, fmt.Errorf("%s: host %s: %w", f.Path, h.Host, h.Err))
		}
	}
	return errors.Join(errs...)
}

// Check asks every host of every map to prepare the map's query and run it
// with a probe key (see probeArgs), as the map connects (account, database,
// charset, TLS): it finds a host that is unreachable, a refused password,
// an unknown database, table or column, and a statement that prepares but
// fails when it runs (a COLLATE the key's character set cannot take).
// Hosts are asked in parallel, bounded by ctx. The connections it opens
// stay in the maps' pools.
func (s *Set) Check(ctx context.Context) map[string]MapCheck {
	out := make(map[string]MapCheck, len(s.maps))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for name, m := range s.maps {
		mc := MapCheck{Map: name, Files: make([]FileCheck, len(m.tables))}
		for i, t := range m.tables {
			mc.Files[i] = FileCheck{Path: t.cf.Path, Hosts: make([]HostCheck, len(t.targets))}
			for j, tg := range t.targets {
				wg.Add(1)
				go func() {
					defer wg.Done()
					err := tg.Check(ctx, t.cf.RequireResultSet, t.probeArgs())
					mu.Lock()
					mc.Files[i].Hosts[j] = HostCheck{Host: tg.Name(), Err: err}
					mu.Unlock()
				}()
			}
		}
		out[name] = mc
	}
	wg.Wait()
	return out
}

// CheckMap is Check for the named map alone; ok=false when the set has no
// such map.
func (s *Set) CheckMap(ctx context.Context, name string) (MapCheck, bool) {
	m, ok := s.maps[name]
	if !ok {
		return MapCheck{}, false
	}
	one := &Set{maps: map[string]*Map{name: m}}
	return one.Check(ctx)[name], true
}

// probeKeys are the keys Check runs a query with. Their characters
// (ASCII letters, '@', '.') are in every character set, their length fits
// any column an address or domain is kept in, and their domain is reserved
// never to exist (.invalid, RFC 2606): whatever rows they match do not
// matter, only whether the statement runs. The second has the nine labels
// that %1-%9 can ask for.
var probeKeys = []string{"probe@mapgate.invalid", "probe@a.b.c.d.e.f.g.mapgate.invalid"}

// probeArgs returns the bound values of the first probe key the table's
// query is not suppressed for and, where its columns are known, that they
// can hold (see the engine's Plan: a filter parameter the columns cannot hold is
// bound as NULL, as a lookup binds it); nil when there is none: the query
// is then prepared only.
func (t *table) probeArgs() []any {
	for _, k := range probeKeys {
		args, ok := t.cf.Query.Expand(k, nil)
		if !ok {
			continue
		}
		if t.columns.Load() != nil {
			plan := t.plan(args)
			if plan.Miss != nil {
				continue
			}
			for _, i := range plan.Null {
				args[i] = nil
			}
		}
		return args
	}
	return nil
}
