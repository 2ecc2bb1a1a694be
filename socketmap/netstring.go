package socketmap

import (
	"bufio"
	"errors"
	"io"
	"strconv"
)

// DefaultMaxSize is the default limit on a netstring payload, in bytes, for
// both requests and replies. It equals Postfix's default
// socketmap_max_reply_size.
const DefaultMaxSize = 100000

// maxLimit caps any configured limit so that length arithmetic can never
// overflow an int.
const maxLimit = 1 << 30

// keepBuf is the largest payload buffer a Decoder keeps between requests.
const keepBuf = 64 << 10

// Errors wrapped by *DecodeError, for use with errors.Is.
var (
	// ErrMalformed: the input is not a netstring (bad length digits, leading
	// zero, missing ':' or ',').
	ErrMalformed = errors.New("socketmap: malformed netstring")
	// ErrTooLarge: the length prefix announces more than the limit.
	ErrTooLarge = errors.New("socketmap: netstring too large")
)

// DecodeError reports a netstring that could not be decoded after at least
// one of its bytes was read. Err is ErrMalformed, ErrTooLarge,
// io.ErrUnexpectedEOF (the stream ended inside the netstring) or the read
// error that interrupted it.
type DecodeError struct {
	Reason string // short description, e.g. "leading zero in length"
	Data   []byte // up to the first 200 bytes read of this netstring
	Err    error
}

// Error returns the reason and the escaped bytes that were read.
func (e *DecodeError) Error() string {
	return "socketmap: " + e.Reason + " after " + quoteHead(e.Data)
}

// Unwrap returns e.Err.
func (e *DecodeError) Unwrap() error { return e.Err }

// Decoder reads consecutive netstrings from a stream, enforcing a payload
// size limit from the length prefix alone, before reading or allocating the
// payload. Its buffer grows only as payload bytes actually arrive and is
// reused, so steady-state decoding does not allocate.
type Decoder struct {
	r    *bufio.Reader
	max  int
	maxD int    // digits in max: a longer prefix is over the limit
	buf  []byte // payload buffer, reused; len <= max
	hdr  [16]byte
	nhdr int
}

// NewDecoder returns a Decoder reading from r that rejects payloads longer
// than max bytes (max <= 0 means DefaultMaxSize). If r is a *bufio.Reader
// it is used directly, so a caller may Peek or check Buffered on it.
func NewDecoder(r io.Reader, max int) *Decoder {
	if max <= 0 {
		max = DefaultMaxSize
	}
	max = min(max, maxLimit)
	br, ok := r.(*bufio.Reader)
	if !ok {
		br = bufio.NewReader(r)
	}
	return &Decoder{r: br, max: max, maxD: len(strconv.Itoa(max))}
}

// Max returns the payload limit in bytes.
func (d *Decoder) Max() int { return d.max }

// Next reads one netstring and returns its payload. The slice is valid only
// until the next call to Next.
//
// At a clean end of stream (no byte of a new netstring read) Next returns
// io.EOF; a read error before the first byte is returned unchanged. Any
// failure after that is a *DecodeError, after which the stream position is
// undefined and the Decoder must not be used again.
func (d *Decoder) Next() ([]byte, error) {
	d.nhdr = 0
	if cap(d.buf) > keepBuf {
		d.buf = nil // do not pin a rare large buffer for the stream's life
	}
	c, err := d.r.ReadByte()
	if err != nil {
		return nil, err
	}
	n := 0
	digits := 0
	for {
		d.addHdr(c)
		switch {
		case c >= '0' && c <= '9':
			if digits == 1 && n == 0 {
				return nil, d.fail("leading zero in length", ErrMalformed, nil)
			}
			digits++
			n = n*10 + int(c-'0')
			if digits > d.maxD || n > d.max {
				return nil, d.fail("length over limit "+strconv.Itoa(d.max), ErrTooLarge, nil)
			}
		case c == ':':
			if digits == 0 {
				return nil, d.fail("missing length", ErrMalformed, nil)
			}
			return d.payload(n)
		default:
			if digits == 0 {
				return nil, d.fail("length is not a number", ErrMalformed, nil)
			}
			return nil, d.fail("missing ':' after length", ErrMalformed, nil)
		}
		c, err = d.r.ReadByte()
		if err != nil {
			return nil, d.fail("stream ended in length", eofUnexpected(err), nil)
		}
	}
}

// payload reads n bytes and the trailing ','.
func (d *Decoder) payload(n int) ([]byte, error) {
	d.buf = d.buf[:0]
	for len(d.buf) < n {
		if len(d.buf) == cap(d.buf) {
			// Grow by doubling, capped at n: memory follows the bytes that
			// actually arrive, not the announced length.
			nb := make([]byte, len(d.buf), min(n, max(2*cap(d.buf), 512)))
			copy(nb, d.buf)
			d.buf = nb
		}
		m, err := d.r.Read(d.buf[len(d.buf):min(n, cap(d.buf))])
		d.buf = d.buf[:len(d.buf)+m]
		if err != nil && len(d.buf) < n {
			return nil, d.fail("stream ended in payload", eofUnexpected(err), d.buf)
		}
	}
	c, err := d.r.ReadByte()
	if err != nil {
		return nil, d.fail("stream ended before ','", eofUnexpected(err), d.buf)
	}
	if c != ',' {
		return nil, d.fail("missing ',' after payload", ErrMalformed, d.buf, c)
	}
	return d.buf, nil
}

func (d *Decoder) addHdr(c byte) {
	if d.nhdr < len(d.hdr) {
		d.hdr[d.nhdr] = c
		d.nhdr++
	}
}

// fail builds a DecodeError showing the length prefix read, the payload
// read so far and any bytes found where ',' was expected, at most 200 bytes.
func (d *Decoder) fail(reason string, err error, payload []byte, after ...byte) error {
	const show = 200
	data := make([]byte, 0, show)
	data = append(data, d.hdr[:d.nhdr]...)
	data = append(data, payload[:min(len(payload), show-len(data))]...)
	data = append(data, after[:min(len(after), show-len(data))]...)
	return &DecodeError{Reason: reason, Data: data, Err: err}
}

func eofUnexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// AppendNetstring appends one netstring whose payload is the concatenation
// of parts, and returns the extended slice.
func AppendNetstring(dst []byte, parts ...[]byte) []byte { return appendNetstring(dst, parts) }

// AppendNetstringString is AppendNetstring for string parts.
func AppendNetstringString(dst []byte, parts ...string) []byte { return appendNetstring(dst, parts) }

func appendNetstring[T string | []byte](dst []byte, parts []T) []byte {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	dst = strconv.AppendInt(dst, int64(n), 10)
	dst = append(dst, ':')
	for _, p := range parts {
		dst = append(dst, p...)
	}
	return append(dst, ',')
}

// AppendRequest appends a socketmap request for key in map name: the
// netstring "name key".
func AppendRequest(dst []byte, name, key string) []byte {
	return AppendNetstringString(dst, name, " ", key)
}

// SplitRequest splits a request payload at its first space into the map
// name and the key. ok is false when there is no space.
func SplitRequest(payload []byte) (name, key []byte, ok bool) {
	for i, c := range payload {
		if c == ' ' {
			return payload[:i], payload[i+1:], true
		}
	}
	return nil, nil, false
}
