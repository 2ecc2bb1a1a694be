package engine

import (
	"fmt"
	"sort"
	"strings"
	"sync"
)

// Default is the table type of a table named without one: mapgate served
// only mysql_table(5) files before it named types, so a bare path is one.
const Default = "mysql"

var (
	regMu    sync.RWMutex
	registry = map[string]Engine{}
)

// Register makes e the engine of its table type (e.Name()). It panics if
// that type already has one, as database/sql.Register does: two engines
// for one type is a build mistake.
func Register(e Engine) {
	regMu.Lock()
	defer regMu.Unlock()
	name := e.Name()
	if _, dup := registry[name]; dup {
		panic("engine: Register called twice for " + name)
	}
	registry[name] = e
}

// Lookup returns the engine of a table type.
func Lookup(typ string) (Engine, error) {
	regMu.RLock()
	e, ok := registry[typ]
	regMu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("table type %q is not served by mapgate (it serves %s)", typ, strings.Join(Names(), ", "))
	}
	return e, nil
}

// Names lists the registered table types, sorted.
func Names() []string {
	regMu.RLock()
	defer regMu.RUnlock()
	out := make([]string, 0, len(registry))
	for n := range registry {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Split splits a table as main.cf names it, "[proxy:][TYPE:]NAME", into
// its type (Default when none is written) and its file. A proxy: prefix
// (proxymap(8)) is dropped: mapgate is itself the shared client. A type is
// the text before the first ':' when it is a word (letters, digits, '_'):
// a path that starts with '/' or '.' has none. What follows the type is
// the file name as it is, colons included.
func Split(ref string) (typ, path string, err error) {
	path = ref
	for {
		word, rest, ok := strings.Cut(path, ":")
		if !ok || !isTypeWord(word) {
			break
		}
		path = rest
		if word != "proxy" {
			typ = word
			break
		}
	}
	if typ == "" {
		typ = Default
	}
	if path == "" {
		return "", "", fmt.Errorf("%q: no file name", ref)
	}
	return typ, path, nil
}

// Resolve returns the engine and file of a table as main.cf names it
// (see Split). A type no engine serves is an error that says so.
func Resolve(ref string) (Engine, string, error) {
	typ, path, err := Split(ref)
	if err != nil {
		return nil, "", err
	}
	e, err := Lookup(typ)
	if err != nil {
		return nil, "", fmt.Errorf("%q: %w", ref, err)
	}
	return e, path, nil
}

// Canonical is ref as mapgate passes it on (lookup.MapSpec.Paths): the
// bare path for the Default type, which every tool reads as before, else
// "TYPE:PATH". ref must Resolve.
func Canonical(ref string) (string, error) {
	e, path, err := Resolve(ref)
	if err != nil {
		return "", err
	}
	if typ, p, _ := Split(path); e.Name() == Default && typ == Default && p == path {
		return path, nil // reads back as the same file
	}
	return e.Name() + ":" + path, nil
}

func isTypeWord(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}
