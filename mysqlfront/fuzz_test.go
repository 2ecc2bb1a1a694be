package mysqlfront

import (
	"bufio"
	"bytes"
	"mapgate/answer"
	"testing"
)

// FuzzUnescape: Unescape is the exact inverse of Escape. Whatever it
// accepts re-escapes to the same text, and every byte string survives a
// round trip; it never panics.
func FuzzUnescape(f *testing.F) {
	for _, s := range []string{"", "bob@example.jp", `o\'brien`, `\0\n\r\\\'\"\Z`, `\`, `\x`, "'", "a\x00b", "ほげ@example.jp", "\xff\xfe", `\\\`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if k, err := Unescape(s); err == nil {
			if Escape(k) != s {
				t.Fatalf("Unescape(%q) = %q, which escapes to %q", s, k, Escape(k))
			}
		}
		k, err := Unescape(Escape(s))
		if err != nil || k != s {
			t.Fatalf("round trip of %q: %q, %v", s, k, err)
		}
		if k, lim, err := ParseKey("'" + Escape(s) + "'"); err != nil || k != s || lim {
			t.Fatalf("ParseKey of quoted %q: %q, %v, %v", s, k, lim, err)
		}
		if k, lim, err := ParseKey("'" + Escape(s) + "'" + answer.LimitedQuerySuffix); err != nil || k != s || !lim {
			t.Fatalf("ParseKey of quoted %q with the suffix: %q, %v, %v", s, k, lim, err)
		}
		// A statement is a key or a session statement, never both.
		if _, _, err := ParseKey(s); err == nil {
			if _, ok := sessionStatement(s); ok {
				t.Fatalf("%q is both a key and a session statement", s)
			}
		}
	})
}

// FuzzPackets: the packet reader and the handshake-response parser never
// panic, never return more than the limit, and keep the stream in step.
func FuzzPackets(f *testing.F) {
	p := &packetIO{}
	f.Add(p.appendPacket(nil, []byte{comQuery, '\'', 'a', '\''}))
	f.Add([]byte{0xff, 0xff, 0xff, 0, 1, 2, 3})
	f.Add([]byte{5, 0, 0, 0, 1})
	resp := []byte{0x0d, 0xa2, 0x3a, 0x00, 0, 0, 0, 1, 45}
	resp = append(resp, make([]byte, 23)...)
	resp = append(resp, "postfix\x00\x14"...)
	resp = append(resp, bytes.Repeat([]byte{7}, 20)...)
	resp = append(resp, "m\x00mysql_native_password\x00"...)
	f.Add(resp)
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = parseHandshakeResponse(b)
		p := &packetIO{r: bufio.NewReader(bytes.NewReader(b)), max: 64}
		for range 100 {
			pkt, err := p.readPacket()
			if err != nil && err != errPacketTooLarge {
				break
			}
			if len(pkt) > 64 {
				t.Fatalf("packet of %d bytes over a limit of 64", len(pkt))
			}
		}
	})
}
