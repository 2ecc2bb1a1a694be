// Command demo shows the problem mapgate solves and mapgate solving it, on
// this machine, with nothing left behind: a private MariaDB with a latin1
// PostfixAdmin-style schema, Postfix's own mysql: client failing on the
// seed's key, and mapgate answering the same keys over socketmap while a
// flood of such keys runs, with bob still resolving.
//
//	make demo        (or: go run ./cmd/demo -mapgate bin/mapgate)
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/width"

	"mapgate/internal/testdb"
	"mapgate/socketmap"
)

func main() {
	bin := flag.String("mapgate", "bin/mapgate", "the mapgate binary")
	flood := flag.Int("flood", 2000, "unrepresentable keys in the attack")
	flag.Parse()
	if err := run(*bin, *flood); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func step(format string, args ...any) { fmt.Printf("\n==> "+format+"\n", args...) }

func run(bin string, flood int) error {
	step("starting a private MariaDB (its own datadir, socket and port; the system instance is not touched)")
	db, err := testdb.New()
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.Exec(testdb.Schema("postfix", "latin1", "latin1_general_ci")); err != nil {
		return err
	}
	fmt.Printf("    MariaDB on 127.0.0.1:%d, database postfix, PostfixAdmin tables in latin1_general_ci\n", db.Port)

	dir, err := os.MkdirTemp("", "mapgate-demo")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	cf := filepath.Join(dir, "mysql_virtual_alias_maps.cf")
	cfText := fmt.Sprintf(`# PostfixAdmin's virtual_alias_maps, unchanged
user = %s
password = %s
hosts = 127.0.0.1:%d
dbname = postfix
query = SELECT goto FROM alias WHERE address='%%s' AND active = '1'
`, testdb.User, testdb.Password, db.Port)
	if err := os.WriteFile(cf, []byte(cfText), 0o600); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "main.cf"), nil, 0o644); err != nil {
		return err
	}
	fmt.Printf("    %s:\n%s", cf, indent(cfText))

	postmap, _ := exec.LookPath("postmap")
	if postmap != "" {
		step("Postfix's own mysql: client, before mapgate")
		for _, k := range []string{"bob@example.jp", "ほげ@example.jp"} {
			out, err := exec.Command(postmap, "-c", dir, "-q", k, "mysql:"+cf).CombinedOutput()
			fmt.Printf("    postmap -q %s mysql:...  → %s%s\n", shown(k, 18), oneLine(out), exitNote(err))
		}
		fmt.Println("    In smtpd or proxymap that query error marks the host down for 60 s: every recipient,")
		fmt.Println("    bob included, gets '451 4.3.0 Temporary lookup failure' until it expires.")
	} else {
		fmt.Println("\n    (postmap not installed: run 'make deps' to see Postfix's own client fail too)")
	}

	step("starting mapgate in front of the same .cf file")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	addr := l.Addr().String()
	l.Close()
	logf, err := os.Create(filepath.Join(dir, "mapgate.log"))
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(bin, "serve", "--listen", "inet:"+addr, "--map", "virtual_alias="+cf, "--set", "recipient_delimiter=+", "--set", "virtual_alias_propagate_extension=yes")
	cmd.Stderr = logf
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w (run 'make build')", bin, err)
	}
	defer func() {
		cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
		}
	}()
	if err := waitPort(addr, 10*time.Second); err != nil {
		return err
	}
	fmt.Printf("    mapgate serve --listen inet:%s --map virtual_alias=%s\n", addr, filepath.Base(cf))
	fmt.Printf("    main.cf would say: virtual_alias_maps = socketmap:inet:%s:virtual_alias\n", addr)

	target := "socketmap:inet:" + addr + ":virtual_alias"
	step("the same keys through mapgate")
	keys := []string{"bob@example.jp", "ほげ@example.jp", "bob@example.jp", "josé@example.jp", "😀@example.jp", "nobody@example.jp", "bob+tag@example.jp", "someone@example.com"}
	c, err := socketmap.Dial("inet:" + addr)
	if err != nil {
		return err
	}
	defer c.Close()
	for _, k := range keys {
		if postmap != "" {
			out, err := exec.Command(postmap, "-c", dir, "-q", k, target).CombinedOutput()
			fmt.Printf("    postmap -q %s socketmap:... → %s%s\n", shown(k, 22), oneLine(out), exitNote(err))
			continue
		}
		r, err := c.Lookup("virtual_alias", k)
		if err != nil {
			return err
		}
		fmt.Printf("    %s → %s\n", shown(k, 22), r)
	}

	bad := []string{"ほげ@example.jp", "😀@example.jp", "\xff\xfe@example.jp", "ｂｏｂ@example.jp", "Ω@example.jp"}
	var shownBad []string
	for _, k := range bad {
		shownBad = append(shownBad, shown(k, 0))
	}
	step("the attack: %d unrepresentable keys (%s) interleaved with bob, on one connection", flood, strings.Join(shownBad, ", "))
	before, _ := db.GlobalStatus("Com_stmt_execute")
	var in bytes.Buffer
	var goodSent int
	for i := 0; i < flood; i++ {
		in.WriteString(bad[i%len(bad)] + "\n")
		if i%10 == 0 {
			in.WriteString("bob@example.jp\n")
			goodSent++
		}
	}
	start := time.Now()
	var okBob, other int
	if postmap != "" {
		pm := exec.Command(postmap, "-c", dir, "-q", "-", target)
		pm.Stdin = &in
		out, err := pm.Output()
		if err != nil {
			return fmt.Errorf("postmap -q - %s: %w", target, err)
		}
		sc := bufio.NewScanner(bytes.NewReader(out))
		for sc.Scan() {
			if sc.Text() == "bob@example.jp\tbob@example.jp" {
				okBob++
			} else {
				other++
			}
		}
	} else {
		for _, k := range strings.Split(strings.TrimSpace(in.String()), "\n") {
			r, err := c.Lookup("virtual_alias", k)
			if err != nil {
				return err
			}
			if r == socketmap.OK("bob@example.jp") {
				okBob++
			} else if r.Status != socketmap.StatusNotFound {
				other++
			}
		}
	}
	took := time.Since(start)
	after, _ := db.GlobalStatus("Com_stmt_execute")
	fmt.Printf("    %d lookups in %v: bob resolved %d of %d times; other answers: %d\n", flood+goodSent, took.Round(time.Millisecond), okBob, goodSent, other)
	fmt.Printf("    statements the database executed: %d (bob's %d lookups, plus one @example.jp catch-all\n", after-before, goodSent)
	fmt.Printf("    check per attack key; the attack keys themselves never reached it)\n")

	step("what mapgate logged (rate-limited: one line per 10 s per map, with counts; keys escaped, so a log never carries raw bytes)")
	logf.Sync()
	data, _ := os.ReadFile(logf.Name())
	for _, line := range strings.Split(string(data), "\n") {
		if strings.Contains(line, "cannot match") {
			fmt.Println("    " + line)
		}
	}
	if okBob != goodSent {
		return fmt.Errorf("bob resolved %d of %d times", okBob, goodSent)
	}
	step("done: bob kept resolving through the whole attack. Everything started here is stopped and removed.")
	return nil
}

func waitPort(addr string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		if c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
			c.Close()
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("mapgate did not listen on %s", addr)
}

func indent(s string) string {
	return "      " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n      ") + "\n"
}

func oneLine(b []byte) string {
	s := strings.TrimSpace(string(b))
	s = strings.ReplaceAll(s, "\n", " | ")
	if s == "" {
		return "(not found)"
	}
	if len(s) > 160 {
		s = s[:160] + "..."
	}
	return s
}

func exitNote(err error) string {
	if err == nil {
		return ""
	}
	if ee, ok := err.(*exec.ExitError); ok {
		return fmt.Sprintf("  [exit %d]", ee.ExitCode())
	}
	return "  [" + err.Error() + "]"
}

// shown is a key as a person at a terminal would type it: printable
// characters as themselves (ほげ@example.jp), only what cannot be typed or
// shown (invalid UTF-8, control characters) escaped, padded to n terminal
// columns (wide characters take two). mapgate's own log lines stay escaped.
func shown(k string, n int) string {
	var b strings.Builder
	cols := 0
	for i := 0; i < len(k); {
		r, size := utf8.DecodeRuneInString(k[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			e := fmt.Sprintf(`\x%02x`, k[i])
			b.WriteString(e)
			cols += len(e)
		case !unicode.IsPrint(r):
			e := strings.Trim(strconv.QuoteRune(r), "'")
			b.WriteString(e)
			cols += len(e)
		default:
			b.WriteRune(r)
			cols++
			if w := width.LookupRune(r).Kind(); w == width.EastAsianWide || w == width.EastAsianFullwidth {
				cols++
			}
		}
		i += size
	}
	for ; cols < n; cols++ {
		b.WriteByte(' ')
	}
	return b.String()
}
