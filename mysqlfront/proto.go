package mysqlfront

import (
	"bufio"
	"bytes"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
)

// Capability flags (MySQL "Capabilities Flags").
const (
	capLongPassword     = 1 << 0
	capFoundRows        = 1 << 1
	capLongFlag         = 1 << 2
	capConnectWithDB    = 1 << 3
	capProtocol41       = 1 << 9
	capSSL              = 1 << 11
	capTransactions     = 1 << 13
	capSecureConnection = 1 << 15
	capMultiStatements  = 1 << 16
	capMultiResults     = 1 << 17
	capPluginAuth       = 1 << 19
	capConnectAttrs     = 1 << 20
	capPluginAuthLenenc = 1 << 21
)

// serverCaps is what the front offers: no SSL, no compression, no
// CLIENT_DEPRECATE_EOF (result sets end with EOF packets, which every
// client understands).
const serverCaps = capLongPassword | capFoundRows | capLongFlag | capConnectWithDB |
	capProtocol41 | capTransactions | capSecureConnection | capMultiStatements |
	capMultiResults | capPluginAuth | capConnectAttrs | capPluginAuthLenenc

// Commands.
const (
	comQuit            = 0x01
	comInitDB          = 0x02
	comQuery           = 0x03
	comPing            = 0x0e
	comResetConnection = 0x1f
)

const (
	statusAutocommit = 0x0002
	nativePlugin     = "mysql_native_password"
	collationUTF8MB4 = 45 // utf8mb4_general_ci
	serverVersion    = "5.7.99-mapgate"
)

// errPacketTooLarge is returned by readPacket for a payload over the limit;
// the payload has been read and discarded, so the stream stays in step.
var errPacketTooLarge = errors.New("mysqlfront: packet too large")

// errMalformed is a packet that does not parse.
var errMalformed = errors.New("mysqlfront: malformed packet")

// packetIO reads and writes MySQL packets (3-byte little-endian length,
// 1-byte sequence id) on one connection.
type packetIO struct {
	r   *bufio.Reader
	w   io.Writer
	seq byte
	max int // largest payload kept; longer ones are discarded

	// scratch holds a payload being built (resultSet), and in the
	// payload of the last command packet (readCommand): both are kept
	// for the next one up to scratchMax bytes.
	scratch, in []byte
}

// scratchMax is the most of packetIO's buffers kept between packets.
const scratchMax = 64 << 10

// readPacket reads one logical packet (joining 0xffffff continuations). A
// payload longer than p.max is consumed and errPacketTooLarge returned,
// without allocating for it.
func (p *packetIO) readPacket() ([]byte, error) { return p.readInto(nil) }

// readCommand is readPacket into a buffer kept for the next command: the
// payload is valid until the next readCommand.
func (p *packetIO) readCommand() ([]byte, error) {
	pkt, err := p.readInto(p.in[:0])
	if cap(pkt) <= scratchMax {
		p.in = pkt[:0]
	}
	return pkt, err
}

// readInto is readPacket, appending the payload to out.
func (p *packetIO) readInto(out []byte) ([]byte, error) {
	total := 0
	tooLarge := false
	for {
		var h [4]byte
		if _, err := io.ReadFull(p.r, h[:]); err != nil {
			if total > 0 && err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
		n := int(uint32(h[0]) | uint32(h[1])<<8 | uint32(h[2])<<16)
		if h[3] != p.seq {
			return nil, fmt.Errorf("%w: sequence %d, want %d", errMalformed, h[3], p.seq)
		}
		p.seq++
		total += n
		if tooLarge || total > p.max {
			tooLarge = true
			out = nil
			if _, err := io.CopyN(io.Discard, p.r, int64(n)); err != nil {
				return nil, io.ErrUnexpectedEOF
			}
		} else {
			start := len(out)
			out = slices.Grow(out, n)[:start+n]
			if _, err := io.ReadFull(p.r, out[start:]); err != nil {
				return nil, io.ErrUnexpectedEOF
			}
		}
		if n < 0xffffff {
			break
		}
	}
	if tooLarge {
		return nil, errPacketTooLarge
	}
	return out, nil
}

// appendPacket frames payload with the next sequence ids: a payload of
// 16 MiB - 1 bytes or more goes out in packets of that size, the last one
// shorter (empty if need be), as the protocol splits a long row.
func (p *packetIO) appendPacket(dst, payload []byte) []byte {
	for {
		n := min(len(payload), maxPacketPayload)
		dst = append(dst, byte(n), byte(n>>8), byte(n>>16), p.seq)
		p.seq++
		dst = append(dst, payload[:n]...)
		payload = payload[n:]
		if n < maxPacketPayload {
			return dst
		}
	}
}

// maxPacketPayload is the most one packet carries (its length is 3 bytes).
const maxPacketPayload = 1<<24 - 1

func appendLenenc(b []byte, n uint64) []byte {
	switch {
	case n < 251:
		return append(b, byte(n))
	case n < 1<<16:
		return append(b, 0xfc, byte(n), byte(n>>8))
	case n < 1<<24:
		return append(b, 0xfd, byte(n), byte(n>>8), byte(n>>16))
	}
	b = append(b, 0xfe)
	return binary.LittleEndian.AppendUint64(b, n)
}

func appendLenencStr(b []byte, s string) []byte {
	return append(appendLenenc(b, uint64(len(s))), s...)
}

// handshake builds Protocol::HandshakeV10.
func handshake(connID uint32, scramble []byte) []byte {
	b := []byte{10}
	b = append(b, serverVersion...)
	b = append(b, 0)
	b = binary.LittleEndian.AppendUint32(b, connID)
	b = append(b, scramble[:8]...)
	b = append(b, 0)
	b = binary.LittleEndian.AppendUint16(b, uint16(serverCaps&0xffff))
	b = append(b, collationUTF8MB4)
	b = binary.LittleEndian.AppendUint16(b, statusAutocommit)
	b = binary.LittleEndian.AppendUint16(b, uint16(serverCaps>>16))
	b = append(b, byte(len(scramble)+1))
	b = append(b, make([]byte, 10)...)
	b = append(b, scramble[8:]...)
	b = append(b, 0)
	b = append(b, nativePlugin...)
	return append(b, 0)
}

// handshakeResponse is the parsed Protocol::HandshakeResponse41.
type handshakeResponse struct {
	caps      uint32
	collation byte
	user      string
	auth      []byte
	db        string
	plugin    string
}

// reader is a bounds-checked cursor over one packet.
type reader struct {
	b   []byte
	err bool
}

func (r *reader) n(k int) []byte {
	if r.err || k < 0 || k > len(r.b) {
		r.err = true
		return nil
	}
	v := r.b[:k]
	r.b = r.b[k:]
	return v
}

func (r *reader) cstr() string {
	i := bytes.IndexByte(r.b, 0)
	if r.err || i < 0 {
		r.err = true
		return ""
	}
	s := string(r.b[:i])
	r.b = r.b[i+1:]
	return s
}

func (r *reader) lenenc() uint64 {
	h := r.n(1)
	if h == nil {
		return 0
	}
	switch {
	case h[0] < 251:
		return uint64(h[0])
	case h[0] == 0xfc:
		v := r.n(2)
		if v == nil {
			return 0
		}
		return uint64(binary.LittleEndian.Uint16(v))
	case h[0] == 0xfd:
		v := r.n(3)
		if v == nil {
			return 0
		}
		return uint64(v[0]) | uint64(v[1])<<8 | uint64(v[2])<<16
	case h[0] == 0xfe:
		v := r.n(8)
		if v == nil {
			return 0
		}
		return binary.LittleEndian.Uint64(v)
	}
	r.err = true
	return 0
}

// parseHandshakeResponse parses a HandshakeResponse41. Fields are read as
// the client's flags say, restricted to what the server offered.
func parseHandshakeResponse(b []byte) (*handshakeResponse, error) {
	r := &reader{b: b}
	h := &handshakeResponse{}
	c := r.n(4)
	if c == nil {
		return nil, errMalformed
	}
	h.caps = binary.LittleEndian.Uint32(c)
	if h.caps&capProtocol41 == 0 {
		return nil, fmt.Errorf("%w: client without CLIENT_PROTOCOL_41", errMalformed)
	}
	if h.caps&capSSL != 0 {
		return nil, fmt.Errorf("%w: client asks for TLS, which was not offered", errMalformed)
	}
	h.caps &= serverCaps
	r.n(4) // max packet size
	if cs := r.n(1); cs != nil {
		h.collation = cs[0]
	}
	r.n(23)
	h.user = r.cstr()
	switch {
	case h.caps&capPluginAuthLenenc != 0:
		n := r.lenenc()
		if n > 255 {
			r.err = true
		}
		h.auth = r.n(int(n))
	case h.caps&capSecureConnection != 0:
		if l := r.n(1); l != nil {
			h.auth = r.n(int(l[0]))
		}
	default:
		h.auth = []byte(r.cstr())
	}
	if r.err {
		return nil, errMalformed
	}
	if h.caps&capConnectWithDB != 0 && len(r.b) > 0 {
		h.db = r.cstr()
	}
	if h.caps&capPluginAuth != 0 && len(r.b) > 0 {
		h.plugin = r.cstr()
	}
	// Connection attributes (CLIENT_CONNECT_ATTRS) follow; they are not
	// needed and not parsed.
	if r.err {
		return nil, errMalformed
	}
	return h, nil
}

// nativeToken is the mysql_native_password response for password and
// scramble: SHA1(password) XOR SHA1(scramble + SHA1(SHA1(password))).
func nativeToken(password string, scramble []byte) []byte {
	if password == "" {
		return nil
	}
	h1 := sha1.Sum([]byte(password))
	h2 := sha1.Sum(h1[:])
	s := sha1.New()
	s.Write(scramble)
	s.Write(h2[:])
	h3 := s.Sum(nil)
	for i := range h3 {
		h3[i] ^= h1[i]
	}
	return h3
}

// checkNative compares a client's response with the expected token in
// constant time.
func checkNative(password string, scramble, resp []byte) bool {
	want := nativeToken(password, scramble)
	return len(want) == len(resp) && subtle.ConstantTimeCompare(want, resp) == 1
}

// okPacket, errPacket, eofPacket payloads (Protocol::41).
func okPacket() []byte {
	return []byte{0x00, 0, 0, byte(statusAutocommit), 0, 0, 0}
}

func eofPacket() []byte { return []byte{0xfe, 0, 0, byte(statusAutocommit), 0} }

func errPacket(code uint16, state, msg string) []byte {
	b := []byte{0xff, byte(code), byte(code >> 8), '#'}
	b = append(b, state...)
	return append(b, msg...)
}

// resultSet appends a one-column text result set (column "value") with one
// row per value, EOF-terminated, to dst using p's sequence.
func (p *packetIO) resultSet(dst []byte, db string, values []string) []byte {
	dst = p.appendPacket(dst, []byte{1})
	col := appendLenencStr(p.scratch[:0], "def")
	col = appendLenencStr(col, db)
	col = appendLenencStr(col, "mapgate")
	col = appendLenencStr(col, "mapgate")
	col = appendLenencStr(col, "value")
	col = appendLenencStr(col, "value")
	col = append(col, 0x0c)
	col = binary.LittleEndian.AppendUint16(col, collationUTF8MB4)
	col = binary.LittleEndian.AppendUint32(col, 1<<24-1)
	col = append(col, 0xfd, 0, 0, 0, 0, 0) // VAR_STRING, flags, decimals, filler
	dst = p.appendPacket(dst, col)
	eof := [...]byte{0xfe, 0, 0, byte(statusAutocommit), 0}
	dst = p.appendPacket(dst, eof[:])
	for _, v := range values {
		col = appendLenencStr(col[:0], v)
		dst = p.appendPacket(dst, col)
	}
	if cap(col) <= scratchMax {
		p.scratch = col[:0]
	}
	return p.appendPacket(dst, eof[:])
}
