package conncore

import "unicode/utf8"

// MaxNameBytes is the most of a client's user or database name that a
// front puts in a log line or a reply (MariaDB's user names have at most
// 80 characters, PostgreSQL's names 63 bytes).
const MaxNameBytes = 80

// CutName cuts a client's user or database name to MaxNameBytes, at a
// character boundary, marking the cut with "...". A log handler escapes
// the result once; a reply quotes it (strconv.QuoteToASCII).
func CutName(s string) string {
	if len(s) <= MaxNameBytes {
		return s
	}
	cut := MaxNameBytes
	for k := cut; k > cut-utf8.UTFMax && k > 0; k-- {
		if utf8.RuneStart(s[k]) {
			cut = k
			break
		}
	}
	return s[:cut] + "..."
}
