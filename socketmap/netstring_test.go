package socketmap

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// decodeAll reads netstrings until an error and returns the payloads and
// that error.
func decodeAll(t testing.TB, r io.Reader, max int) ([]string, error) {
	d := NewDecoder(r, max)
	var got []string
	for range 1000 {
		p, err := d.Next()
		if err != nil {
			return got, err
		}
		got = append(got, string(p))
	}
	t.Fatal("decoder did not stop within 1000 netstrings")
	return nil, nil
}

func TestDecoder(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		max  int
		want []string
		err  error // final error: io.EOF for a clean end
	}{
		{"empty stream", "", 0, nil, io.EOF},
		{"empty payload", "0:,", 0, []string{""}, io.EOF},
		{"one", "3:abc,", 0, []string{"abc"}, io.EOF},
		{"many in one write", "3:abc,0:,5:x y z,", 0, []string{"abc", "", "x y z"}, io.EOF},
		{"request with empty key", "6:alias ,", 0, []string{"alias "}, io.EOF},
		{"key with spaces and NUL", "12:alias a b\x00c\xff,", 0, []string{"alias a b\x00c\xff"}, io.EOF},
		{"exactly at limit", "5:12345,", 5, []string{"12345"}, io.EOF},
		{"over limit", "6:123456,", 5, nil, ErrTooLarge},
		{"over limit, digits only", "101", 100, nil, ErrTooLarge},
		{"over limit, no payload sent", "100000:", 99999, nil, ErrTooLarge},
		{"21-digit length", "100000000000000000000:a,", 0, nil, ErrTooLarge},
		{"many leading digits", strings.Repeat("9", 1000) + ":", 0, nil, ErrTooLarge},
		{"leading zero", "01:a,", 0, nil, ErrMalformed},
		{"double zero", "00:,", 0, nil, ErrMalformed},
		{"non-digit in length", "1a:x,", 0, nil, ErrMalformed},
		{"not a number", "abc", 0, nil, ErrMalformed},
		{"negative", "-1:,", 0, nil, ErrMalformed},
		{"leading space", " 3:abc,", 0, nil, ErrMalformed},
		{"missing length", ":abc,", 0, nil, ErrMalformed},
		{"missing comma", "3:abcd", 0, nil, ErrMalformed},
		{"newline instead of comma", "3:abc\n", 0, nil, ErrMalformed},
		{"good then bad", "1:a,x", 0, []string{"a"}, ErrMalformed},
		{"truncated in length", "12", 0, nil, io.ErrUnexpectedEOF},
		{"truncated after colon", "3:", 0, nil, io.ErrUnexpectedEOF},
		{"truncated in payload", "4:abc", 0, nil, io.ErrUnexpectedEOF},
		{"truncated before comma", "3:abc", 0, nil, io.ErrUnexpectedEOF},
		{"good then truncated", "1:a,1", 0, []string{"a"}, io.ErrUnexpectedEOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			for _, oneByte := range []bool{false, true} {
				var r io.Reader = strings.NewReader(tt.in)
				if oneByte {
					r = iotest.OneByteReader(r)
				}
				got, err := decodeAll(t, r, tt.max)
				assert.Equal(t, tt.want, got, "oneByte=%v", oneByte)
				require.ErrorIs(t, err, tt.err, "oneByte=%v", oneByte)
				if tt.err != io.EOF {
					var de *DecodeError
					require.ErrorAs(t, err, &de)
					assert.LessOrEqual(t, len(de.Data), 200)
					assert.True(t, isASCIIPrintable(de.Error()), "error text %q", de.Error())
				}
			}
		})
	}
}

func isASCIIPrintable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// TestDecoderSplitWrites feeds pipelined requests one byte per Read.
func TestDecoderSplitWrites(t *testing.T) {
	t.Parallel()
	var in []byte
	want := []string{"alias ", "alias a b", "m k\x00\x01\xfe", "virtual user@example.com"}
	for _, w := range want {
		name, key, _ := strings.Cut(w, " ")
		in = AppendRequest(in, name, key)
	}
	got, err := decodeAll(t, iotest.OneByteReader(bytes.NewReader(in)), 0)
	require.ErrorIs(t, err, io.EOF)
	assert.Equal(t, want, got)

	got, err = decodeAll(t, iotest.DataErrReader(bytes.NewReader(in)), 0)
	require.ErrorIs(t, err, io.EOF)
	assert.Equal(t, want, got)
}

// TestDecoderAllocatesOnlyWhatArrives: announcing a large payload and
// sending little must not make the decoder allocate the announced size.
func TestDecoderAllocatesOnlyWhatArrives(t *testing.T) {
	t.Parallel()
	d := NewDecoder(strings.NewReader("90000:abcdef"), 100000)
	_, err := d.Next()
	require.ErrorIs(t, err, io.ErrUnexpectedEOF)
	assert.LessOrEqual(t, cap(d.buf), 512)

	d = NewDecoder(strings.NewReader("100001:"+strings.Repeat("x", 100001)+","), 100000)
	_, err = d.Next()
	require.ErrorIs(t, err, ErrTooLarge)
	assert.Zero(t, cap(d.buf))
}

func TestDecoderReadError(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	_, err := NewDecoder(iotest.ErrReader(boom), 0).Next()
	require.ErrorIs(t, err, boom)
	var de *DecodeError
	assert.False(t, errors.As(err, &de), "an error before the first byte is returned as is")

	_, err = NewDecoder(io.MultiReader(strings.NewReader("3:a"), iotest.ErrReader(boom)), 0).Next()
	require.ErrorIs(t, err, boom)
	require.ErrorAs(t, err, &de)
	assert.Equal(t, "3:a", string(de.Data))
}

func TestDecodeErrorEscapes(t *testing.T) {
	t.Parallel()
	in := "300:" + strings.Repeat("\x00\xff\n", 100) + "X"
	_, err := NewDecoder(strings.NewReader(in), 0).Next()
	var de *DecodeError
	require.ErrorAs(t, err, &de)
	require.ErrorIs(t, err, ErrMalformed)
	assert.Len(t, de.Data, 200)
	assert.True(t, isASCIIPrintable(err.Error()))
	assert.Contains(t, err.Error(), `"300:\x00\xff\n`)
}

func TestDecoderDropsLargeBuffer(t *testing.T) {
	t.Parallel()
	big := strings.Repeat("x", keepBuf+1)
	in := string(AppendNetstringString(nil, big)) + "1:a,"
	d := NewDecoder(strings.NewReader(in), 0)
	p, err := d.Next()
	require.NoError(t, err)
	assert.Equal(t, big, string(p))
	p, err = d.Next()
	require.NoError(t, err)
	assert.Equal(t, "a", string(p))
	assert.LessOrEqual(t, cap(d.buf), keepBuf)
}

func TestAppendNetstring(t *testing.T) {
	t.Parallel()
	assert.Equal(t, "0:,", string(AppendNetstring(nil)))
	assert.Equal(t, "7:abc def,", string(AppendNetstring(nil, []byte("abc"), []byte(" "), []byte("def"))))
	assert.Equal(t, "x5:ab cd,", string(AppendNetstringString([]byte("x"), "ab", " cd")))
	assert.Equal(t, "6:alias ,", string(AppendRequest(nil, "alias", "")))
	assert.Equal(t, "7:m a b\x00c,", string(AppendRequest(nil, "m", "a b\x00c")))
}

func TestSplitRequest(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, name, key string
		ok            bool
	}{
		{"alias user@example.com", "alias", "user@example.com", true},
		{"alias ", "alias", "", true},
		{"alias a b  c", "alias", "a b  c", true},
		{" key", "", "key", true},
		{"alias", "", "", false},
		{"", "", "", false},
	}
	for _, tt := range tests {
		name, key, ok := SplitRequest([]byte(tt.in))
		assert.Equal(t, tt.ok, ok, tt.in)
		assert.Equal(t, tt.name, string(name), tt.in)
		assert.Equal(t, tt.key, string(key), tt.in)
	}
}

func TestStatusString(t *testing.T) {
	t.Parallel()
	for s, want := range map[Status]string{
		StatusOK: "OK", StatusNotFound: "NOTFOUND", StatusTemp: "TEMP",
		StatusTimeout: "TIMEOUT", StatusPerm: "PERM", Status(9): "Status(9)",
	} {
		assert.Equal(t, want, s.String())
	}
}

func TestAppendReply(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("a", 300)
	tests := []struct {
		name string
		r    Reply
		want string
	}{
		{"ok", OK("x@example.com,y@example.com"), "OK x@example.com,y@example.com"},
		{"ok value kept raw", OK("a\x00b\xff c"), "OK a\x00b\xff c"},
		{"ok empty becomes notfound", OK(""), "NOTFOUND "},
		{"notfound", NotFound(), "NOTFOUND "},
		{"notfound text ignored", Reply{Status: StatusNotFound, Text: "x"}, "NOTFOUND "},
		{"temp", Temp("db down"), "TEMP db down"},
		{"temp empty", Temp(""), "TEMP "},
		{"timeout", Timeout("slow"), "TIMEOUT slow"},
		{"perm", Perm("unknown map"), "PERM unknown map"},
		{"reason escaped", Temp("a\nb\x00\xe3\x81\x82"), `TEMP a\x0ab\x00\xe3\x81\x82`},
		{"reason cut", Perm(long), "PERM " + long[:200]},
		{"reason cut before escape", Temp(strings.Repeat("a", 198) + "\x01"), "TEMP " + strings.Repeat("a", 198)},
		{"invalid status", Reply{Status: 42, Text: "x"}, "TEMP invalid reply status"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := AppendReply(nil, tt.r)
			assert.Equal(t, tt.want, string(got))
			assert.Equal(t, len(got), tt.r.payloadLen())
			framed := AppendReplyNetstring([]byte("pre"), tt.r)
			assert.Equal(t, "pre"+string(AppendNetstring(nil, got)), string(framed))
			assert.Equal(t, tt.want, tt.r.String())
		})
	}
}

func TestParseReply(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want Reply
		bad  bool
	}{
		{"OK a b c", OK("a b c"), false},
		{"NOTFOUND ", NotFound(), false},
		{"NOTFOUND", NotFound(), false},
		{"TEMP x", Temp("x"), false},
		{"TEMP", Temp(""), false},
		{"TIMEOUT t", Timeout("t"), false},
		{"PERM p q", Perm("p q"), false},
		{"OK ", Reply{}, true},
		{"OK", Reply{}, true},
		{"ok x", Reply{}, true},
		{"", Reply{}, true},
		{"FOUND x", Reply{}, true},
	}
	for _, tt := range tests {
		got, err := ParseReply([]byte(tt.in))
		if tt.bad {
			assert.ErrorIs(t, err, ErrBadReply, tt.in)
			continue
		}
		require.NoError(t, err, tt.in)
		assert.Equal(t, tt.want, got, tt.in)
	}
}

// loopReader serves the same bytes forever without allocating.
type loopReader struct {
	b   []byte
	off int
}

func (r *loopReader) Read(p []byte) (int, error) {
	n := copy(p, r.b[r.off:])
	r.off = (r.off + n) % len(r.b)
	return n, nil
}

// BenchmarkCodec decodes one request and encodes its reply, as the server
// does per request.
func BenchmarkCodec(b *testing.B) {
	req := AppendRequest(nil, "virtual_alias", "someone@example.com")
	d := NewDecoder(&loopReader{b: req}, 0)
	reply := OK("someone@example.net,other@example.org")
	out := make([]byte, 0, 256)
	b.ReportAllocs()
	b.SetBytes(int64(len(req)))
	for b.Loop() {
		p, err := d.Next()
		if err != nil {
			b.Fatal(err)
		}
		name, key, ok := SplitRequest(p)
		if !ok || string(name) != "virtual_alias" || len(key) != len("someone@example.com") {
			b.Fatalf("bad decode %q", p)
		}
		out = AppendReplyNetstring(out[:0], reply)
		if len(out) != 44 {
			b.Fatalf("bad encode %q", out)
		}
	}
}

// BenchmarkAppendReplyReason measures reason sanitising.
func BenchmarkAppendReplyReason(b *testing.B) {
	r := Temp("database unavailable: dial tcp 10.0.0.1:3306: connect: connection refused \x00\xff")
	out := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		out = AppendReplyNetstring(out[:0], r)
		if len(out) == 0 {
			b.Fatal("empty")
		}
	}
}
