package mysqlfront

import (
	"bufio"
	"encoding/binary"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// countingLog is a log destination that keeps the number of bytes and
// lines written, and the longest line.
type countingLog struct {
	mu                 sync.Mutex
	bytes, lines, long int
	last               string
}

func (l *countingLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.bytes += len(p)
	l.lines += strings.Count(string(p), "\n")
	l.long = max(l.long, len(p))
	l.last = string(p)
	return len(p), nil
}

func (l *countingLog) counts() (bytes, lines, long int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.bytes, l.lines, l.long
}

// rawClient is a hand-written MySQL client, for what no driver sends.
type rawClient struct {
	nc       net.Conn
	p        *packetIO
	scramble []byte
}

// dialRaw connects and reads the greeting.
func dialRaw(t *testing.T, path string) *rawClient {
	t.Helper()
	nc, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
	c := &rawClient{nc: nc, p: &packetIO{r: bufio.NewReader(nc), w: nc, max: 1 << 24}}
	g, err := c.p.readPacket()
	if err != nil {
		t.Fatal(err)
	}
	r := &reader{b: g}
	r.n(1)
	r.cstr()
	r.n(4)
	c.scramble = append([]byte(nil), r.n(8)...)
	r.n(1 + 2 + 1 + 2 + 2 + 1 + 10)
	c.scramble = append(c.scramble, r.n(12)...)
	return c
}

// login sends a HandshakeResponse41 and returns the server's reply.
func (c *rawClient) login(t *testing.T, user, password, db string) []byte {
	t.Helper()
	resp := binary.LittleEndian.AppendUint32(nil, capProtocol41|capSecureConnection|capPluginAuth|capConnectWithDB)
	resp = append(resp, 0, 0, 0, 1, 45)
	resp = append(resp, make([]byte, 23)...)
	resp = append(append(resp, user...), 0)
	tok := nativeToken(password, c.scramble)
	resp = append(append(resp, byte(len(tok))), tok...)
	resp = append(append(resp, db...), 0)
	resp = append(append(resp, nativePlugin...), 0)
	return c.send(t, resp)
}

// send writes one packet and reads the reply packet.
func (c *rawClient) send(t *testing.T, payload []byte) []byte {
	t.Helper()
	if _, err := c.nc.Write(c.p.appendPacket(nil, payload)); err != nil {
		t.Fatal(err)
	}
	res, err := c.p.readPacket()
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func errCode(pkt []byte) uint16 {
	if len(pkt) < 3 || pkt[0] != 0xff {
		return 0
	}
	return binary.LittleEndian.Uint16(pkt[1:])
}

// floodFor is how long a flood test floods.
const floodFor = 2500 * time.Millisecond

func floodServer(t *testing.T) (path string, s *Server, log *countingLog) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "s")
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	log = &countingLog{}
	s = &Server{Resolver: oneMap{}, User: "postfix", Password: "pw",
		Logger: slog.New(slog.NewTextHandler(log, nil))}
	go s.Serve(l)
	t.Cleanup(func() { s.Close() })
	return path, s, log
}

// TestFailedLoginFlood: failed logins from one client with a 60,000-byte
// user name are counted one by one, logged at most once a second with the
// name cut and escaped once, and the 1045 reply does not echo the name.
func TestFailedLoginFlood(t *testing.T) {
	path, s, log := floodServer(t)
	user := strings.Repeat("\xff", 60000)
	// A flood of floodFor, so that the log has had several seconds.
	attempts := 0
	start := time.Now()
	longest := 0
	for ; time.Since(start) < floodFor; attempts++ {
		c := dialRaw(t, path)
		res := c.login(t, user, "wrong", "m")
		if errCode(res) != 1045 {
			t.Fatalf("reply %.40q, want error 1045", res)
		}
		longest = max(longest, len(res))
		c.nc.Close()
	}
	el := time.Since(start)
	bytes, lines, long := log.counts()
	t.Logf("%d failed logins with a %d-byte user name in %v: %d log lines, %d log bytes (%.2f per failed login, longest line %d), longest 1045 reply %d bytes",
		attempts, len(user), el.Round(time.Millisecond), lines, bytes, float64(bytes)/float64(attempts), long, longest)
	if got := s.Stats().FailedLogins; got != uint64(attempts) {
		t.Errorf("Stats().FailedLogins = %d, want %d", got, attempts)
	}
	if maxLines := int(el/time.Second) + 1; lines > maxLines {
		t.Errorf("%d log lines in %v, want at most %d (one a second)", lines, el, maxLines)
	}
	if long > 600 {
		t.Errorf("a log line of %d bytes, want the name cut: %.300s", long, log.last)
	}
	if strings.Contains(log.last, `\\x`) {
		t.Errorf("the name is escaped twice: %.300s", log.last)
	}
	if longest > 400 {
		t.Errorf("a 1045 reply of %d bytes echoes the name", longest)
	}
}

// TestUnknownMapFlood: COM_INIT_DB, and the handshake's database, with a
// huge unknown name: error 1049 without the whole name, logged at most once
// a second, cut.
func TestUnknownMapFlood(t *testing.T) {
	path, s, log := floodServer(t)
	name := strings.Repeat("\xfe", 60000)
	c := dialRaw(t, path)
	if res := c.login(t, "postfix", "pw", "m"); len(res) == 0 || res[0] != 0 {
		t.Fatalf("login: %q", res)
	}
	attempts := 0
	start := time.Now()
	longest := 0
	for ; time.Since(start) < floodFor; attempts++ {
		c.p.seq = 0
		res := c.send(t, append([]byte{comInitDB}, name...))
		if errCode(res) != 1049 {
			t.Fatalf("reply %.40q, want error 1049", res)
		}
		longest = max(longest, len(res))
	}
	d := dialRaw(t, path)
	if res := d.login(t, "postfix", "pw", name); errCode(res) != 1049 {
		t.Fatalf("handshake with an unknown dbname: %.40q, want error 1049", res)
	}
	el := time.Since(start)
	bytes, lines, long := log.counts()
	t.Logf("%d COM_INIT_DB and 1 handshake with a %d-byte unknown name in %v: %d log lines, %d log bytes, longest 1049 reply %d bytes",
		attempts, len(name), el.Round(time.Millisecond), lines, bytes, longest)
	if maxLines := int(el/time.Second) + 1; lines > maxLines {
		t.Errorf("%d log lines in %v, want at most %d (one a second)", lines, el, maxLines)
	}
	if long > 600 {
		t.Errorf("a log line of %d bytes, want the name cut: %.300s", long, log.last)
	}
	if longest > 400 {
		t.Errorf("a 1049 reply of %d bytes echoes the name", longest)
	}
	if got := s.Stats().FailedLogins; got != 1 {
		t.Errorf("Stats().FailedLogins = %d, want 1 (the handshake's unknown dbname)", got)
	}
}
