package bench

import (
	"fmt"
	"math"
	"strconv"

	"mapgate/socketmap"
)

// Kind is the class of a key in a key mix.
type Kind uint8

// Key kinds.
const (
	// Present keys exist in the data set; the answer is OK with their value.
	Present Kind = iota
	// Absent keys are well-formed and representable but have no row; the
	// answer is NOTFOUND.
	Absent
	// Unrepresentable keys hold characters the column's charset (latin1)
	// cannot store; a safe server answers NOTFOUND without a query error.
	Unrepresentable
	numKinds
)

var kindNames = [...]string{Present: "present", Absent: "absent", Unrepresentable: "unrepresentable"}

// String returns "present", "absent" or "unrepresentable".
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// Key is one request and the reply it must get.
type Key struct {
	Kind Kind
	Key  string
	// Want is the expected reply: StatusOK with the value, or
	// StatusNotFound.
	Want socketmap.Reply
}

// BulkAliases describes the rows internal/testdb.BulkAliases(db, N) adds:
// user<i>@bulk.example → user<i>@dest.example for 0 <= i < N. The zero
// Domain and Dest mean "bulk.example" and "dest.example". The small fixed
// PostfixAdmin data set of testdb.Schema has no row and no catch-all in
// either domain, so the expectations below hold beside it.
type BulkAliases struct {
	N      int
	Domain string
	Dest   string
}

func (d BulkAliases) domain() string {
	if d.Domain == "" {
		return "bulk.example"
	}
	return d.Domain
}

func (d BulkAliases) dest() string {
	if d.Dest == "" {
		return "dest.example"
	}
	return d.Dest
}

// Present returns the i-th present key (i is taken modulo N).
func (d BulkAliases) Present(i int) Key {
	n := uint(i) % uint(max(d.N, 1))
	u := "user" + strconv.FormatUint(uint64(n), 10)
	return Key{Kind: Present, Key: u + "@" + d.domain(), Want: socketmap.OK(u + "@" + d.dest())}
}

// Absent returns the i-th absent key: user<N+i>@domain, beyond the rows.
func (d BulkAliases) Absent(i int) Key {
	n := uint64(d.N) + uint64(uint(i))
	return Key{Kind: Absent, Key: "user" + strconv.FormatUint(n, 10) + "@" + d.domain(), Want: socketmap.NotFound()}
}

// unrepLocal are local parts latin1 cannot hold (Japanese, an emoji, a
// Cyrillic and a Greek letter), each made unique by a number.
var unrepLocal = [...]string{"ほげ", "😀", "пользователь", "χρήστης"}

// Unrepresentable returns the i-th unrepresentable key, e.g.
// ほげ7@bulk.example. Its expected answer is NOTFOUND: no such row can
// exist in a latin1 column, and the domain has no catch-all.
func (d BulkAliases) Unrepresentable(i int) Key {
	u := uint(i)
	local := unrepLocal[u%uint(len(unrepLocal))] + strconv.FormatUint(uint64(u), 10)
	return Key{Kind: Unrepresentable, Key: local + "@" + d.domain(), Want: socketmap.NotFound()}
}

// Key returns the i-th key of the given kind.
func (d BulkAliases) Key(k Kind, i int) Key {
	switch k {
	case Present:
		return d.Present(i)
	case Absent:
		return d.Absent(i)
	default:
		return d.Unrepresentable(i)
	}
}

// Expect returns the reply key must get from the data set, whatever way
// key was made: OK user<i>@dest for user<i>@domain with i < N, else
// NOTFOUND. It is the inverse of Present and Absent, for answers read back
// from postmap's output.
func (d BulkAliases) Expect(key string) socketmap.Reply {
	suffix := "@" + d.domain()
	if len(key) > len(suffix)+4 && key[:4] == "user" && key[len(key)-len(suffix):] == suffix {
		digits := key[4 : len(key)-len(suffix)]
		if n, err := strconv.ParseUint(digits, 10, 63); err == nil && strconv.FormatUint(n, 10) == digits && n < uint64(d.N) {
			return socketmap.OK("user" + digits + "@" + d.dest())
		}
	}
	return socketmap.NotFound()
}

// Mix is a key mix by ratio: the parts need not sum to 1 ({1, 1, 0} is half
// present, half absent). A zero Mix means all present.
type Mix struct {
	Present, Absent, Unrepresentable float64
}

// ParseMix parses "present:absent:unrepresentable" ratios, e.g. "5:5:0".
func ParseMix(s string) (Mix, error) {
	var m Mix
	if _, err := fmt.Sscanf(s, "%g:%g:%g", &m.Present, &m.Absent, &m.Unrepresentable); err != nil {
		return Mix{}, fmt.Errorf("bench: mix %q: want present:absent:unrepresentable, e.g. 5:5:0", s)
	}
	if err := m.validate(); err != nil {
		return Mix{}, err
	}
	return m, nil
}

func (m Mix) validate() error {
	for _, v := range [...]float64{m.Present, m.Absent, m.Unrepresentable} {
		if v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("bench: mix %v: ratios must be finite and >= 0", m)
		}
	}
	return nil
}

// String formats m as ParseMix reads it.
func (m Mix) String() string {
	return fmt.Sprintf("%g:%g:%g", m.Present, m.Absent, m.Unrepresentable)
}

// Mixer yields the kinds of a stream of requests in the ratio of a Mix,
// spread evenly (smooth weighted round robin): over any prefix of n
// requests each kind's count stays within 1 of n times its share. The zero
// Mixer is not usable; use Mix.Mixer.
type Mixer struct {
	w, cur [numKinds]float64
	total  float64
}

// Mixer returns a Mixer for m.
func (m Mix) Mixer() *Mixer {
	x := &Mixer{w: [numKinds]float64{m.Present, m.Absent, m.Unrepresentable}}
	x.total = x.w[0] + x.w[1] + x.w[2]
	if x.total <= 0 {
		x.w[Present], x.total = 1, 1
	}
	return x
}

// Next returns the kind of the next request.
func (x *Mixer) Next() Kind {
	best := Kind(numKinds)
	for k := range numKinds {
		if x.w[k] == 0 {
			continue
		}
		x.cur[k] += x.w[k]
		if best == numKinds || x.cur[k] > x.cur[best] {
			best = Kind(k)
		}
	}
	x.cur[best] -= x.total
	return best
}

// Keys returns n keys of data set d in mix m: the i-th is d.Key(kind, j)
// where j counts the keys of that kind so far, spread over the present
// rows by a stride so that consecutive present keys are not neighbours.
func Keys(d BulkAliases, m Mix, n int) []Key {
	keys := make([]Key, n)
	var seen [numKinds]int
	x := m.Mixer()
	for i := range keys {
		k := x.Next()
		keys[i] = d.Key(k, spread(seen[k], d.N))
		seen[k]++
	}
	return keys
}

// spread maps j to a row index that walks the table with a stride coprime
// to n, so a run touches rows all over the index.
func spread(j, n int) int {
	if n <= 1 {
		return j
	}
	const stride = 7919 // prime
	if n%stride == 0 {
		return j
	}
	return int((uint64(j) * stride) % uint64(n))
}
