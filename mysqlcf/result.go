package mysqlcf

import (
	"fmt"
	"strings"
)

// ResultFormat is a parsed result_format of mysql_table(5). It formats each
// non-NULL column value of each row; Postfix joins the results with ",".
type ResultFormat struct {
	text   string
	pieces []tmplPiece // exp: 's' 'u' 'd' of the value; 'S' 'U' 'D' '1'…'9' of the key
	vuser  bool        // %u: skip a value with an empty localpart
	vdom   bool        // %d: skip a value without a domain
	key    keyReq      // requirements on the key (%U %D %1-%9, and the query's in a File)
}

// ParseResultFormat parses a result_format template; "" means the default
// "%s". Expansions: %% a '%'; %s the value; %u the value's localpart (the
// whole value when it has no '@'); %d the value's domain; %S, %U, %D and
// %1-%9 the same parts of the lookup key (as in the query). Any other %x is
// an error, as in db_common_parse.
func ParseResultFormat(f string) (*ResultFormat, error) {
	if f == "" {
		f = "%s"
	}
	rf := &ResultFormat{text: f}
	var text strings.Builder
	for i := 0; i < len(f); i++ {
		c := f[i]
		if c != '%' {
			text.WriteByte(c)
			continue
		}
		if i+1 >= len(f) {
			return nil, fmt.Errorf("invalid result template: '%%' at the end of %q", f)
		}
		i++
		var exp byte
		switch c = f[i]; c {
		case '%':
			text.WriteByte('%')
			continue
		case 's', 'S':
			exp = c
		case 'u':
			exp, rf.vuser = c, true
		case 'd':
			exp, rf.vdom = c, true
		case 'U':
			exp = c
			rf.key.user = true
		case 'D':
			exp = c
			rf.key.domain = true
		case '1', '2', '3', '4', '5', '6', '7', '8', '9':
			exp = c
			rf.key.domain = true
			rf.key.nparts = max(rf.key.nparts, int(c-'0'))
		default:
			return nil, fmt.Errorf("invalid result template: unknown expansion %%%c in %q", c, f)
		}
		if text.Len() > 0 {
			rf.pieces = append(rf.pieces, tmplPiece{text: text.String()})
			text.Reset()
		}
		rf.pieces = append(rf.pieces, tmplPiece{exp: exp})
	}
	if text.Len() > 0 {
		rf.pieces = append(rf.pieces, tmplPiece{text: text.String()})
	}
	return rf, nil
}

// Element reports whether value yields a result element whatever the key:
// false for an empty value, for a value without a localpart under %u, and
// for a value without a domain under %d. (The key's own requirements are
// checked before the query runs, so they never skip single values.)
func (f *ResultFormat) Element(value string) bool {
	if value == "" {
		return false
	}
	v := splitKey(value)
	return !(f.vdom && (v.at < 0 || v.at == len(value)-1) || f.vuser && v.at == 0)
}

// Format formats the values a query returned for key and joins them with
// ",", as Postfix does; "" when every value is skipped.
func (f *ResultFormat) Format(key string, values []string) string {
	var buf []byte
	for _, v := range values {
		buf, _ = f.Append(buf, key, v)
	}
	return string(buf)
}

// String returns the template as written.
func (f *ResultFormat) String() string { return f.text }

// Append formats one column value of a result row for key and appends it
// to dst, preceded by "," when dst is not empty. skipped is true, and dst
// is returned unchanged, when Postfix skips the value (db_common_expand):
// an empty value (whatever the format); with %u a value starting with '@';
// with %d a value without '@' or with an empty domain; or a key that lacks
// what %U %D %1-%9 (or, for a format from a File, the query) need. NULL
// values are the caller's to skip.
//
// Each call that is not skipped is one element for expansion_limit (see
// CF.ExpansionLimitExceeded). If no element is produced the lookup is "not
// found".
func (f *ResultFormat) Append(dst []byte, key, value string) (out []byte, skipped bool) {
	if !f.Element(value) {
		return dst, true
	}
	v := splitKey(value)
	k := splitKey(key)
	if !f.key.ok(key, k.at) {
		return dst, true
	}
	if len(dst) > 0 {
		dst = append(dst, ',')
	}
	for _, pc := range f.pieces {
		switch pc.exp {
		case 0:
			dst = append(dst, pc.text...)
		case 's', 'u', 'd':
			dst = append(dst, v.value(pc.exp)...)
		case 'S':
			dst = append(dst, k.key...)
		case 'U':
			dst = append(dst, k.user...)
		case 'D':
			dst = append(dst, k.domain...)
		default:
			dst = append(dst, k.value(pc.exp)...)
		}
	}
	return dst, false
}
