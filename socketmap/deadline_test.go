package socketmap

import (
	"bufio"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestRequestBuffered(t *testing.T) {
	for in, want := range map[string]bool{
		"":               false,
		"5":              false,
		"5:":             false,
		"5:a b":          false,
		"5:a bcd":        false,
		"5:a bcd,":       true,
		"5:a bcd,3:":     true,
		"5:a bcdX":       true, // malformed, but complete: the decoder reads no more
		":a":             false,
		"x:":             false,
		"12:":            false,
		"0:,":            true,
		"1234567890:abc": false, // too many digits to judge: no
	} {
		br := bufio.NewReaderSize(strings.NewReader(in), 64)
		if in != "" {
			br.Peek(len(in))
		}
		c := &conn{br: br}
		assert.Equal(t, want, c.requestBuffered(), "%q", in)
	}
}
