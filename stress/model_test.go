package stress

import (
	"strings"
)

// row is one alias row as the model knows it.
type row struct {
	dest   string
	active bool
}

// state is what the database holds at one moment.
type state struct {
	alias    map[string]row // address (lower case) → row
	adActive bool           // alias_domain ad.example → d1.example is active
	utf8mb4  bool           // alias.address is utf8mb4 (else latin1)
}

func (s state) clone() state {
	c := s
	c.alias = make(map[string]row, len(s.alias))
	for k, v := range s.alias {
		c.alias[k] = v
	}
	return c
}

// fold is what Postfix (and so mapgate) does to a key of the model's
// universe: ASCII letters to lower case (the universe's other characters
// have no case).
func fold(s string) string {
	return strings.Map(func(r rune) rune {
		if 'A' <= r && r <= 'Z' {
			return r + ('a' - 'A')
		}
		return r
	}, s)
}

// answer is a socketmap reply the model allows: found with value, or not.
type answer struct {
	found bool
	value string
}

// aliasAnswer: `SELECT dest FROM alias WHERE address='%s' AND active=1`
// with Postfix's address search (full key, without +extension, @domain)
// and the unmatched extension propagated into the result.
func (s state) aliasAnswer(key string) answer {
	if strings.IndexByte(key, 0) >= 0 {
		return answer{}
	}
	for _, st := range aliasSteps(key) {
		if v, ok := s.aliasStepAnswer(st); ok {
			return answer{true, v}
		}
	}
	return answer{}
}

// aliasStep is one step of the address search.
type aliasStep struct{ key, ext string }

func aliasSteps(key string) []aliasStep {
	steps := []aliasStep{{key: key}}
	at := strings.LastIndexByte(key, '@')
	local := key
	if at >= 0 {
		local = key[:at]
	}
	if n := strings.IndexByte(local, '+'); n > 0 && n < len(local)-0 {
		steps = append(steps, aliasStep{key: local[:n] + key[len(local):], ext: local[n:]})
	}
	if at > 0 {
		steps = append(steps, aliasStep{key: key[at:]})
	}
	return steps
}

// aliasStepAnswer is one step's answer in this state.
func (s state) aliasStepAnswer(st aliasStep) (string, bool) {
	r, ok := s.alias[fold(st.key)]
	if !ok || !r.active {
		return "", false
	}
	v := r.dest
	if st.ext != "" {
		i := strings.LastIndexByte(v, '@')
		v = v[:i] + st.ext + v[i:]
	}
	return v, true
}

// rewriteAnswer: `SELECT target_domain FROM alias_domain WHERE
// alias_domain='%d' AND active=1` with result_format = %U@%s, no address
// search.
func (s state) rewriteAnswer(key string) answer {
	if strings.IndexByte(key, 0) >= 0 {
		return answer{}
	}
	at := strings.LastIndexByte(key, '@')
	if at <= 0 || at == len(key)-1 {
		return answer{}
	}
	if fold(key[at+1:]) != "ad.example" || !s.adActive {
		return answer{}
	}
	return answer{true, fold(key[:at]) + "@d1.example"}
}

// branchAnswer: the exact row, else the domain's catch-all when there is
// no exact row (a UNION whose second branch is guarded by NOT EXISTS, as
// ISPConfig's forwardings query), no address search.
func (s state) branchAnswer(key string) answer {
	if strings.IndexByte(key, 0) >= 0 {
		return answer{}
	}
	at := strings.LastIndexByte(key, '@')
	if at < 0 || at == len(key)-1 {
		return answer{} // %d without a domain: the query is not run
	}
	k := fold(key)
	if r, ok := s.alias[k]; ok && r.active {
		return answer{true, r.dest}
	}
	if r, ok := s.alias[k[at:]]; ok && r.active {
		return answer{true, r.dest}
	}
	return answer{}
}

func (s state) answer(mapName, key string) answer {
	switch mapName {
	case "alias":
		return s.aliasAnswer(key)
	case "rewrite":
		return s.rewriteAnswer(key)
	default:
		return s.branchAnswer(key)
	}
}

// frontAnswer is the answer the MySQL front gives for key, which Postfix's
// mysql: client sends as it asks it (folded; each step of its address
// search a lookup of its own, the extension propagated by Postfix): the
// alias map's one exact step; the other maps have no address search.
func (s state) frontAnswer(mapName, key string) answer {
	if mapName != "alias" {
		return s.answer(mapName, key)
	}
	v, ok := s.aliasStepAnswer(aliasStep{key: key})
	return answer{ok, v}
}
