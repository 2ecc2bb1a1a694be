package socketmap

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
)

// Status is the first word of a socketmap reply.
type Status uint8

// Reply statuses, as listed in socketmap_table(5).
const (
	// StatusOK means the key was found; Reply.Text holds the value.
	StatusOK Status = iota
	// StatusNotFound means the key is provably absent.
	StatusNotFound
	// StatusTemp is a temporary failure; Postfix defers the mail.
	StatusTemp
	// StatusTimeout means the lookup timed out; Postfix treats it like TEMP.
	StatusTimeout
	// StatusPerm is a permanent (configuration) error.
	StatusPerm
)

var statusWords = [...]string{
	StatusOK:       "OK",
	StatusNotFound: "NOTFOUND",
	StatusTemp:     "TEMP",
	StatusTimeout:  "TIMEOUT",
	StatusPerm:     "PERM",
}

// String returns the protocol word for s ("OK", "NOTFOUND", "TEMP",
// "TIMEOUT", "PERM"), or "Status(N)" for a value outside the protocol.
func (s Status) String() string {
	if int(s) < len(statusWords) {
		return statusWords[s]
	}
	return "Status(" + strconv.Itoa(int(s)) + ")"
}

// Reply is the answer to one lookup. For StatusOK, Text is the value; for
// StatusNotFound it is ignored; for the error statuses it is a reason that
// the encoder makes printable and truncates to MaxReasonLen bytes.
type Reply struct {
	Status Status
	Text   string
}

// OK returns a found reply carrying value. An empty value is sent as
// NOTFOUND, because Postfix treats "OK " with no data as a configuration
// error.
func OK(value string) Reply { return Reply{Status: StatusOK, Text: value} }

// NotFound returns a not-found reply.
func NotFound() Reply { return Reply{Status: StatusNotFound} }

// Temp returns a temporary-failure reply with the given reason.
func Temp(reason string) Reply { return Reply{Status: StatusTemp, Text: reason} }

// Timeout returns a timeout reply with the given reason.
func Timeout(reason string) Reply { return Reply{Status: StatusTimeout, Text: reason} }

// Perm returns a permanent-failure reply with the given reason.
func Perm(reason string) Reply { return Reply{Status: StatusPerm, Text: reason} }

// String formats r as its unframed wire payload, with the reason sanitised.
func (r Reply) String() string { return string(AppendReply(nil, r)) }

// Handler answers lookups. Lookup is called once per request with the map
// name and the raw key bytes (as a string; not necessarily UTF-8, possibly
// empty). ctx carries the request deadline (Server.RequestTimeout) and is
// cancelled when the server is closed. Lookup may be called concurrently
// from many connections.
type Handler interface {
	Lookup(ctx context.Context, name, key string) Reply
}

// HandlerFunc adapts an ordinary function to the Handler interface.
type HandlerFunc func(ctx context.Context, name, key string) Reply

// Lookup calls f(ctx, name, key).
func (f HandlerFunc) Lookup(ctx context.Context, name, key string) Reply { return f(ctx, name, key) }

var _ Handler = HandlerFunc(nil)

// MaxReasonLen is the longest reason text, in bytes after escaping, that
// AppendReply sends with TEMP, TIMEOUT or PERM. Postfix logs at most 200
// characters of it.
const MaxReasonLen = 200

// AppendReply appends the unframed payload of r ("STATUS text") to dst and
// returns the extended slice. Use AppendReplyNetstring for the framed form.
//
//   - StatusOK with a non-empty Text: "OK " followed by Text unchanged.
//   - StatusOK with an empty Text, and StatusNotFound: "NOTFOUND ".
//   - StatusTemp, StatusTimeout, StatusPerm: the word, a space, and Text made
//     printable ASCII (other bytes become \xHH) and cut to MaxReasonLen bytes.
//   - Any other Status: "TEMP invalid reply status".
//
// It does not allocate when dst has room.
func AppendReply(dst []byte, r Reply) []byte {
	switch r.Status {
	case StatusOK:
		if r.Text == "" {
			return append(dst, "NOTFOUND "...)
		}
		dst = append(dst, "OK "...)
		return append(dst, r.Text...)
	case StatusNotFound:
		return append(dst, "NOTFOUND "...)
	case StatusTemp, StatusTimeout, StatusPerm:
		dst = append(dst, statusWords[r.Status]...)
		dst = append(dst, ' ')
		return appendReason(dst, r.Text)
	default:
		return append(dst, "TEMP invalid reply status"...)
	}
}

// AppendReplyNetstring appends r encoded as a complete netstring.
func AppendReplyNetstring(dst []byte, r Reply) []byte {
	dst = strconv.AppendInt(dst, int64(r.payloadLen()), 10)
	dst = append(dst, ':')
	dst = AppendReply(dst, r)
	return append(dst, ',')
}

// payloadLen returns len(AppendReply(nil, r)) without building it.
func (r Reply) payloadLen() int {
	switch r.Status {
	case StatusOK:
		if r.Text == "" {
			return len("NOTFOUND ")
		}
		return len("OK ") + len(r.Text)
	case StatusNotFound:
		return len("NOTFOUND ")
	case StatusTemp, StatusTimeout, StatusPerm:
		return len(statusWords[r.Status]) + 1 + reasonLen(r.Text)
	default:
		return len("TEMP invalid reply status")
	}
}

const hexDigits = "0123456789abcdef"

// appendReason appends s with bytes outside printable ASCII escaped as \xHH,
// stopping before the escaped text would exceed MaxReasonLen bytes.
func appendReason(dst []byte, s string) []byte {
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c < 0x7f {
			if n+1 > MaxReasonLen {
				break
			}
			dst = append(dst, c)
			n++
			continue
		}
		if n+4 > MaxReasonLen {
			break
		}
		dst = append(dst, '\\', 'x', hexDigits[c>>4], hexDigits[c&0xf])
		n += 4
	}
	return dst
}

// reasonLen returns len(appendReason(nil, s)).
func reasonLen(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		w := 4
		if c := s[i]; c >= 0x20 && c < 0x7f {
			w = 1
		}
		if n+w > MaxReasonLen {
			break
		}
		n += w
	}
	return n
}

// ErrBadReply is wrapped by ParseReply when a payload is not a socketmap
// reply.
var ErrBadReply = errors.New("socketmap: malformed reply")

// ParseReply parses an unframed reply payload ("STATUS text"), as Postfix
// does: the status word ends at the first space, the rest is the text.
// "NOTFOUND" without a trailing space is accepted. An "OK" with empty text,
// or an unknown status word, is an error wrapping ErrBadReply.
func ParseReply(payload []byte) (Reply, error) {
	word, text, _ := bytes.Cut(payload, []byte{' '})
	for s, w := range statusWords {
		if string(word) != w {
			continue
		}
		if Status(s) == StatusOK && len(text) == 0 {
			return Reply{}, fmt.Errorf("%w: OK with empty value", ErrBadReply)
		}
		return Reply{Status: Status(s), Text: string(text)}, nil
	}
	return Reply{}, fmt.Errorf("%w: %s", ErrBadReply, quoteHead(payload))
}

// quoteHead returns at most logBytes bytes of b, quoted with
// strconv.QuoteToASCII, marking truncation with "...".
func quoteHead[T string | []byte](b T) string {
	const logBytes = 200
	if len(b) > logBytes {
		return strconv.QuoteToASCII(string(b[:logBytes])) + "..."
	}
	return strconv.QuoteToASCII(string(b))
}
