package socketmap

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

// FuzzDecoder checks that the decoder never panics, never buffers more than
// its limit, reports errors as escaped text, consumes exactly what the
// encoder would produce for the payloads it returned, and that requests and
// replies survive an encode/decode round trip. The committed corpus is in
// testdata/fuzz/FuzzDecoder.
func FuzzDecoder(f *testing.F) {
	for _, s := range []string{
		"", "0:,", "3:abc,", "3:abc,0:,5:x y z,", "6:alias ,", "12:alias a b\x00c\xff,",
		"01:a,", "00:,", "1a:x,", ":abc,", "-1:,", "3:abcd", "3:abc", "12", "4:abc",
		"100000000000000000000:a,", "1000:", "1001:x,", "999:" + strings.Repeat("z", 999) + ",",
		"10:OK a b c d,", "9:NOTFOUND ,", "8:NOTFOUND,", "6:TEMP \x00,", "4:PERM,", "3:OK ,",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		const limit = 1000
		d := NewDecoder(bytes.NewReader(data), limit)
		var payloads [][]byte
		var reencoded []byte
		for range len(data) + 1 { // each netstring takes at least 3 bytes
			p, err := d.Next()
			if cap(d.buf) > limit {
				t.Fatalf("buffer capacity %d over limit %d", cap(d.buf), limit)
			}
			if err == io.EOF {
				if !bytes.Equal(reencoded, data) {
					t.Fatalf("clean EOF but re-encoding %q differs from input %q", reencoded, data)
				}
				break
			}
			if err != nil {
				var de *DecodeError
				if !errors.As(err, &de) {
					t.Fatalf("error %v is not a *DecodeError", err)
				}
				if len(de.Data) > 200 {
					t.Fatalf("error data is %d bytes", len(de.Data))
				}
				if !isASCIIPrintable(err.Error()) {
					t.Fatalf("error text not printable ASCII: %q", err.Error())
				}
				break
			}
			if len(p) > limit {
				t.Fatalf("payload of %d bytes over limit", len(p))
			}
			payloads = append(payloads, bytes.Clone(p))
			reencoded = AppendNetstring(reencoded, p)
			checkRequestRoundTrip(t, p)
			checkReplyRoundTrip(t, p)
		}
		if !bytes.HasPrefix(data, reencoded) {
			t.Fatalf("decoded payloads re-encode to %q, not a prefix of the input", reencoded)
		}
		d2 := NewDecoder(bytes.NewReader(reencoded), limit)
		for i, want := range payloads {
			got, err := d2.Next()
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("re-decode #%d = %q, %v; want %q", i, got, err, want)
			}
		}
		if _, err := d2.Next(); err != io.EOF {
			t.Fatalf("re-decode did not end cleanly: %v", err)
		}
	})
}

func checkRequestRoundTrip(t *testing.T, p []byte) {
	name, key, ok := SplitRequest(p)
	if !ok {
		if bytes.IndexByte(p, ' ') >= 0 {
			t.Fatalf("SplitRequest missed the space in %q", p)
		}
		return
	}
	if bytes.IndexByte(name, ' ') >= 0 {
		t.Fatalf("map name %q contains a space", name)
	}
	if got, want := AppendRequest(nil, string(name), string(key)), AppendNetstring(nil, p); !bytes.Equal(got, want) {
		t.Fatalf("AppendRequest = %q, want %q", got, want)
	}
}

func checkReplyRoundTrip(t *testing.T, p []byte) {
	r, err := ParseReply(p)
	if err != nil {
		return
	}
	enc := AppendReply(nil, r)
	if len(enc) != r.payloadLen() {
		t.Fatalf("payloadLen %d, encoded %d bytes", r.payloadLen(), len(enc))
	}
	r2, err := ParseReply(enc)
	if err != nil {
		t.Fatalf("re-parse of %q: %v", enc, err)
	}
	if r2.Status != r.Status {
		t.Fatalf("status %v became %v", r.Status, r2.Status)
	}
	switch r.Status {
	case StatusOK:
		if r2.Text != r.Text {
			t.Fatalf("OK value %q became %q", r.Text, r2.Text)
		}
	case StatusNotFound:
		if r2.Text != "" {
			t.Fatalf("NOTFOUND re-parsed with text %q", r2.Text)
		}
	default:
		if !isASCIIPrintable(r2.Text) || len(r2.Text) > MaxReasonLen {
			t.Fatalf("reason not sanitised: %q", r2.Text)
		}
		if again := AppendReply(nil, r2); !bytes.Equal(again, enc) {
			t.Fatalf("sanitising is not idempotent: %q then %q", enc, again)
		}
	}
}
