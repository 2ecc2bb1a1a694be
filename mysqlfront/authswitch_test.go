package mysqlfront

import (
	"mapgate/answer"

	"bufio"
	"context"
	"encoding/binary"
	"net"
	"path/filepath"
	"testing"
	"time"
)

type oneMap struct{}

func (oneMap) HasMap(n string) bool { return n == "m" }
func (oneMap) Resolve(context.Context, string, string) answer.Result {
	return answer.NotFound()
}

// TestAuthSwitch: a client that offers another plugin (libmysqlclient 8's
// caching_sha2_password) is switched to mysql_native_password and admitted
// with the right token, refused with a wrong one.
func TestAuthSwitch(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s")
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Resolver: oneMap{}, User: "postfix", Password: "pw"}
	go s.Serve(l)
	defer s.Close()
	for _, tc := range []struct {
		password string
		ok       bool
	}{{"pw", true}, {"nope", false}} {
		nc, err := net.Dial("unix", path)
		if err != nil {
			t.Fatal(err)
		}
		_ = nc.SetDeadline(time.Now().Add(5 * time.Second))
		p := &packetIO{r: bufio.NewReader(nc), w: nc, max: 1 << 20}
		if _, err := p.readPacket(); err != nil { // the greeting
			t.Fatal(err)
		}
		resp := binary.LittleEndian.AppendUint32(nil, capProtocol41|capSecureConnection|capPluginAuth|capConnectWithDB)
		resp = append(resp, 0, 0, 0, 1, 45)
		resp = append(resp, make([]byte, 23)...)
		resp = append(resp, "postfix\x00"...)
		resp = append(resp, 32)
		resp = append(resp, make([]byte, 32)...) // a caching_sha2 token: not checked
		resp = append(resp, "m\x00caching_sha2_password\x00"...)
		if _, err := nc.Write(p.appendPacket(nil, resp)); err != nil {
			t.Fatal(err)
		}
		sw, err := p.readPacket()
		if err != nil || len(sw) < 1 || sw[0] != 0xfe {
			t.Fatalf("want an AuthSwitchRequest, got %q, %v", sw, err)
		}
		r := &reader{b: sw[1:]}
		if plugin := r.cstr(); plugin != nativePlugin {
			t.Fatalf("switched to %q", plugin)
		}
		scramble := r.n(20)
		if _, err := nc.Write(p.appendPacket(nil, nativeToken(tc.password, scramble))); err != nil {
			t.Fatal(err)
		}
		res, err := p.readPacket()
		if err != nil {
			t.Fatal(err)
		}
		if got := res[0] == 0x00; got != tc.ok {
			t.Errorf("password %q: reply %x, want ok=%v", tc.password, res, tc.ok)
		}
		nc.Close()
	}
}
