package lookup

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"mapgate/charset"
)

// rateLimiter lets one event through per period and counts the rest.
type rateLimiter struct {
	period time.Duration
	mu     sync.Mutex
	last   time.Time
	n      int
}

func newRateLimiter(p time.Duration) *rateLimiter { return &rateLimiter{period: p} }

func (r *rateLimiter) allow() bool { _, ok := r.allowN(); return ok }

// allowN reports whether to log now, and how many events were held back
// since the last one logged.
func (r *rateLimiter) allowN() (int, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := time.Now()
	if r.last.IsZero() || now.Sub(r.last) >= r.period {
		n := r.n
		r.last, r.n = now, 0
		return n, true
	}
	r.n++
	return 0, false
}

// domainFilter is mysql_table(5)'s domain setting: only keys user@domain
// with a non-empty user and a listed domain are looked up.
type domainFilter struct {
	rules []domainRule
}

type domainRule struct {
	name   string
	negate bool
}

func newDomainFilter(entries []string) (*domainFilter, error) {
	if len(entries) == 0 {
		return nil, nil
	}
	f := &domainFilter{}
	var add func(e string, depth int) error
	add = func(e string, depth int) error {
		neg := false
		for strings.HasPrefix(e, "!") {
			neg = !neg
			e = e[1:]
		}
		switch {
		case strings.HasPrefix(e, "/"):
			if depth > 5 {
				return fmt.Errorf("%s: nested too deep", e)
			}
			data, err := os.ReadFile(e)
			if err != nil {
				return err
			}
			for _, line := range strings.Split(string(data), "\n") {
				if i := strings.IndexByte(line, '#'); i >= 0 {
					line = line[:i]
				}
				for _, w := range strings.FieldsFunc(line, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\r' }) {
					if err := add(w, depth+1); err != nil {
						return err
					}
				}
			}
		case strings.Contains(e, ":"):
			return fmt.Errorf("%q: lookup tables in domain are not supported by mapgate; list the domains or use a /file", e)
		default:
			f.rules = append(f.rules, domainRule{name: strings.ToLower(e), negate: neg})
		}
		return nil
	}
	for _, e := range entries {
		if err := add(e, 0); err != nil {
			return nil, err
		}
	}
	return f, nil
}

// allows reports whether key may be looked up.
func (f *domainFilter) allows(key string) bool {
	if f == nil {
		return true
	}
	at := strings.LastIndexByte(key, '@')
	if at <= 0 || at == len(key)-1 {
		return false
	}
	d := key[at+1:]
	for _, r := range f.rules {
		if strings.EqualFold(r.name, d) {
			return !r.negate
		}
	}
	return false
}

// logKey escapes a key for a log line: \u/\x escapes for everything but
// printable ASCII (never raw bytes, never "??????"), without the quotes the
// log handler adds itself when needed.
func logKey(k string) string {
	e := charset.Escape(k)
	if len(e) >= 2 && e[0] == '"' && e[len(e)-1] == '"' {
		return e[1 : len(e)-1]
	}
	return e
}
