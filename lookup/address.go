package lookup

import "strings"

// Candidate is one key of Postfix's address search.
type Candidate struct {
	// Key is the key to look up.
	Key string
	// Ext is the address extension stripped from the full key, including
	// its delimiter ("+tag"; "+" for "bob+@example.jp"), or "".
	Ext string
	// CatchAll marks the "@domain" key.
	CatchAll bool
}

// SearchKeys appends to dst the keys Postfix's mail_addr_find() tries, in
// order, for a fixed-string table such as mysql: (MA_FIND_DEFAULT with the
// query in external form), for an address key:
//
//  1. the full key, "user+ext@domain";
//  2. the key without its extension, "user@domain", when delimiters (the
//     recipient_delimiter characters) is not empty and the localpart has
//     an extension: the localpart is cut at the first byte that is any
//     delimiter, but not when that byte is the first one (no empty
//     localpart, so "+tag@x" and "@x" are not split); "bob+@x" gives
//     "bob@x" with Ext "+"; a key without '@' gives "user" from
//     "user+ext";
//  3. (Postfix only) the bare localpart, "user+ext" then "user", when the
//     domain is local (myorigin, mydestination, inet_interfaces,
//     proxy_interfaces). mapgate does not know these and does NOT emulate
//     this step; serve such keys with a separate map if you need them;
//  4. "@domain" when the key has an '@' (also for "bob@", giving "@"),
//     unless it equals the full key (Postfix would look "@domain" up twice).
//
// Like split_addr(), it never splits the localparts postmaster,
// MAILER-DAEMON and double-bounce (Postfix's default double_bounce_sender),
// and, when delimiters contains '-', localparts starting with "owner-" or
// longer than 8 bytes ending in "-request" (owner_request_special = yes,
// the default). The comparisons ignore case. An empty key gives no
// candidates (maps_find returns "not found" at once).
//
// Postfix behaviours a socketmap server cannot emulate:
//   - Postfix sends a socketmap (a pattern table) only the full key and
//     asks only fixed-string tables for steps 2-4; mapgate must do them,
//     per map, and needs recipient_delimiter configured to match main.cf.
//   - Step 3 needs Postfix's idea of local domains.
//   - Postfix strips the extension from the internal (unquoted) form and
//     re-quotes each key; mapgate sees the external form, so a quoted
//     localpart ("a b+ext"@x) is split as plain text.
//   - Different callers use different strategies: transport_maps search
//     the domain and parent domains, not these keys; check_*_access
//     tables use their own order. Use SearchKeys only for maps Postfix
//     searches with mail_addr_find (virtual_alias_maps, canonical maps,
//     virtual_mailbox_maps, smtpd_sender_login_maps, relocated_maps ...).
//   - propagate_unmatched_extensions is Postfix's setting; mapgate must
//     be told whether to apply PropagateExtension.
func SearchKeys(key, delimiters string, dst []Candidate) []Candidate {
	if key == "" {
		return dst
	}
	dst = append(dst, Candidate{Key: key})
	at := strings.LastIndexByte(key, '@')
	if stripped, ext, ok := stripExtension(key, at, delimiters); ok {
		dst = append(dst, Candidate{Key: stripped, Ext: ext})
	}
	if at > 0 {
		dst = append(dst, Candidate{Key: key[at:], CatchAll: true})
	}
	return dst
}

// stripExtension is strip_addr_internal with split_addr_internal.
func stripExtension(key string, at int, delimiters string) (stripped, ext string, ok bool) {
	if delimiters == "" {
		return "", "", false
	}
	local := key
	if at >= 0 {
		local = key[:at]
	}
	if strings.EqualFold(local, "postmaster") || strings.EqualFold(local, "MAILER-DAEMON") ||
		strings.EqualFold(local, "double-bounce") {
		return "", "", false
	}
	if strings.IndexByte(delimiters, '-') >= 0 {
		if len(local) >= 6 && strings.EqualFold(local[:6], "owner-") {
			return "", "", false
		}
		if len(local) > 8 && strings.EqualFold(local[len(local)-8:], "-request") {
			return "", "", false
		}
	}
	n := 0
	for n < len(local) && strings.IndexByte(delimiters, local[n]) < 0 {
		n++
	}
	if n == 0 || n == len(local) {
		return "", "", false
	}
	return local[:n] + key[len(local):], local[n:], true
}

// PropagateExtension inserts ext (as Candidate.Ext) into each
// comma-separated address of result, before its last '@' (inside the
// closing quote of a quoted localpart), or at its end when it has no '@',
// as mail_addr_crunch() does when propagate_unmatched_extensions applies.
//
// A result starting with '@' is returned unchanged: Postfix itself puts
// the original localpart, extension included, in front of an "@domain"
// result, which gives the same address as propagation would.
func PropagateExtension(result, ext string) string {
	if ext == "" || result == "" || result[0] == '@' {
		return result
	}
	var b strings.Builder
	b.Grow(len(result) + 4*len(ext))
	start := 0
	inQuote := false
	for i := 0; i <= len(result); i++ {
		if i < len(result) {
			switch c := result[i]; {
			case c == '\\' && inQuote:
				i++
				continue
			case c == '"':
				inQuote = !inQuote
				continue
			case c != ',' || inQuote:
				continue
			}
		}
		propagateOne(&b, result[start:min(i, len(result))], ext)
		if i < len(result) {
			b.WriteByte(',')
		}
		start = i + 1
	}
	return b.String()
}

// propagateOne writes addr with ext inserted.
func propagateOne(b *strings.Builder, addr, ext string) {
	body := strings.TrimRight(addr, " \t")
	if strings.TrimSpace(body) == "" {
		b.WriteString(addr)
		return
	}
	at := strings.LastIndexByte(body, '@')
	if at < 0 {
		at = len(body)
	}
	ins := at
	if ins > 0 && body[ins-1] == '"' {
		ins--
	}
	b.WriteString(body[:ins])
	b.WriteString(ext)
	b.WriteString(body[ins:])
	b.WriteString(addr[len(body):])
}

// DomainSearch selects the parent-domain keys DomainKeys adds.
type DomainSearch int

// The parent-domain searches of Postfix's match_hostname().
const (
	// DomainExact asks only the name itself (string lists such as
	// mydestination and virtual_mailbox_domains, or any map that is not a
	// domain list).
	DomainExact DomainSearch = iota
	// DomainParent asks each parent as "parent.example" (the domain list is
	// named in parent_domain_matches_subdomains: relay_domains by default).
	DomainParent
	// DomainDotParent asks each parent as ".parent.example" (a domain list
	// not named in parent_domain_matches_subdomains).
	DomainDotParent
)

// DomainKeys appends to dst the keys Postfix's match_hostname()
// (src/util/match_ops.c) asks a fixed-string table such as mysql: for the
// domain name of a domain list (relay_domains): the name, then each parent
// domain, as "parent.example" with DomainParent or ".parent.example" with
// DomainDotParent. A socketmap table (not fixed) is asked only the name, so
// mapgate runs this search itself. An empty name gives no keys.
func DomainKeys(name string, s DomainSearch, dst []Candidate) []Candidate {
	if name == "" {
		return dst
	}
	dst = append(dst, Candidate{Key: name})
	if s == DomainExact {
		return dst
	}
	// for (entry = name; *entry; entry = next): next is the next '.' after
	// entry's first byte, one past it for DomainParent.
	for entry := 0; ; {
		j := strings.IndexByte(name[entry+1:], '.')
		if j < 0 {
			return dst
		}
		next := entry + 1 + j
		if s == DomainParent {
			next++
		}
		if next >= len(name) {
			return dst
		}
		dst = append(dst, Candidate{Key: name[next:]})
		entry = next
	}
}
