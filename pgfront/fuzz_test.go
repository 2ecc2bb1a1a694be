package pgfront

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/sha256"
	"encoding/base64"
	"mapgate/answer"
	"strings"
	"testing"
)

// FuzzUnescape: in each client encoding, Unescape is the exact inverse of
// Escape (PQescapeStringConn with standard_conforming_strings on): what it
// accepts re-escapes to the same text, every string the escaper takes
// survives a round trip, and a statement is a key or a SET, never both.
func FuzzUnescape(f *testing.F) {
	for _, s := range []string{"", "bob@example.jp", "o''brien", "'", "''", "a'b", `\`, `\\'`, "a\x00b", "ほげ@example.jp",
		"😀", "\xff\xfe", "\xed\xa0\x80", "\xc0\xaf", "\xf4\x90\x80\x80", "set client_encoding to 'LATIN1'", "'x'"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, enc := range []Encoding{UTF8, LATIN1, SQLASCII} {
			if k, err := Unescape(s, enc); err == nil {
				if e, err := Escape(k, enc); err != nil || e != s {
					t.Fatalf("%v: Unescape(%q) = %q, which escapes to %q, %v", enc, s, k, e, err)
				}
			}
			e, err := Escape(s, enc)
			if err != nil {
				if !strings.Contains(s, "\x00") && enc != UTF8 {
					t.Fatalf("%v: Escape(%q) refused", enc, s)
				}
				continue
			}
			if k, err := Unescape(e, enc); err != nil || k != s {
				t.Fatalf("%v: round trip of %q: %q, %v", enc, s, k, err)
			}
			if k, lim, err := ParseKey("'"+e+"'", enc); err != nil || k != s || lim {
				t.Fatalf("%v: ParseKey of quoted %q: %q, %v, %v", enc, s, k, lim, err)
			}
			if k, lim, err := ParseKey("'"+e+"'"+answer.LimitedQuerySuffix, enc); err != nil || k != s || !lim {
				t.Fatalf("%v: ParseKey of quoted %q with the suffix: %q, %v, %v", enc, s, k, lim, err)
			}
			if _, _, err := ParseKey(s, enc); err == nil {
				if _, ok := setEncoding(s); ok {
					t.Fatalf("%q is both a key and a SET", s)
				}
			}
		}
	})
}

// FuzzSCRAM: the SCRAM parser never panics on client messages, and a
// client-final message accepted as proven carries the client's proof of
// the right password (computed here as libpq does, RFC 5802).
func FuzzSCRAM(f *testing.F) {
	f.Add([]byte("n,,n=,r=abcdef"), []byte("c=biws,r=abcdef,p=AAAA"))
	f.Add([]byte("y,,n=x,r=rOprNGfwEbeRWgbNEkqO"), []byte("c=eSws,r=x,p="))
	f.Add([]byte("p=tls-server-end-point,,n=,r=a"), []byte(""))
	cr := newCredentials("postfix", "secret")
	f.Fuzz(func(t *testing.T, first, final []byte) {
		x := &scramExchange{cr: cr}
		if _, err := x.first(first); err != nil {
			return
		}
		_, ok, _ := x.final(final)
		if ok {
			t.Fatalf("a fuzzed client-final message %q passed as proven", final)
		}
		// The proof a client with the right password sends passes.
		without := "c=" + base64.StdEncoding.EncodeToString([]byte(x.gs2Header)) + ",r=" + x.nonce
		salted, _ := pbkdf2.Key(sha256.New, "secret", cr.salt, scramIterations, sha256.Size)
		clientKey := hmacSHA256(salted, "Client Key")
		stored := sha256.Sum256(clientKey)
		sig := hmacSHA256(stored[:], x.clientFirstBare+","+x.serverFirst+","+without)
		proof := make([]byte, len(sig))
		for i := range sig {
			proof[i] = clientKey[i] ^ sig[i]
		}
		sf, ok, err := x.final([]byte(without + ",p=" + base64.StdEncoding.EncodeToString(proof)))
		if !ok || err != nil {
			t.Fatalf("the right proof refused: %v", err)
		}
		want := "v=" + base64.StdEncoding.EncodeToString(hmacSHA256(hmacSHA256(salted, "Server Key"), x.clientFirstBare+","+x.serverFirst+","+without))
		if !hmac.Equal([]byte(sf), []byte(want)) {
			t.Fatalf("server signature %q, want %q", sf, want)
		}
	})
}
