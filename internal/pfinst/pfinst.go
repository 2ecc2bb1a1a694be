// Package pfinst runs a private, throwaway Postfix instance for mapgate's
// end-to-end tests and the benchmark harness: its own config_directory,
// queue_directory and data_directory under /var/tmp/mgpf-XXXX, an smtpd on a
// free 127.0.0.1 port, the domains of internal/testdb's data set as
// virtual_alias_domains, and every delivery to the discard transport (or,
// with Options.VirtualMailboxes, virtual(8) writing maildirs). The system's
// own Postfix (if any) is never touched.
//
// Postfix insists on a few things for a non-default instance (see
// ../shared/lab/REPORT.md), which New takes care of:
//   - the config directory must be listed in alternate_config_directories of
//     the default main.cf (/etc/postfix/main.cf), which the set-gid postdrop
//     and postqueue check: New adds it (under a lock, so that several test
//     processes can share the file) and Stop removes it again. On a machine
//     whose Postfix has no main.cf ("No configuration"), the file is created
//     with the first instance and removed with the last;
//   - maillog_file must be under /var (or /dev/stdout), or Postfix exits
//     without a word;
//   - the data directory must be owned by the postfix user and every parent
//     directory traversable by it (hence /var/tmp, mode 0755);
//   - Debian's master.cf chroots most services, which needs copies of /etc
//     files inside the queue directory: the instance's master.cf chroots
//     nothing.
//
// Everything an instance starts is stopped by PID (the master from its
// master.pid, leftovers by their MAIL_CONFIG environment) and its directory
// removed, in a cleanup registered on the testing.TB, even when the test
// fails. Instances left behind by a test process that died (a go test timeout
// skips cleanups) are swept by the next New.
//
// It needs root (Postfix's master runs as root), the postfix user and the
// postdrop group that the Debian package creates, and postfix-mysql for
// mysql: maps ("make deps" installs them).
package pfinst

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/textproto"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"mapgate/internal/testdb"
)

// Paths and bounds.
const (
	// DefaultMainCF is the default instance's main.cf, where the private
	// config directory must be listed in alternate_config_directories.
	DefaultMainCF = "/etc/postfix/main.cf"
	// BaseDir holds the instances (short paths; under /var for maillog_file).
	BaseDir = "/var/tmp"
	// dirPrefix names each instance's directory under BaseDir.
	dirPrefix = "mgpf-"

	startTimeout   = 30 * time.Second
	stopTimeout    = 15 * time.Second
	sessionTimeout = 60 * time.Second // one SMTP session (a lookup may wait on MySQL)
	commandTimeout = 60 * time.Second // one postmap/sendmail/postqueue run
)

// Options configures an instance. The zero value is a working instance whose
// virtual alias domains have no alias map (every recipient unknown).
type Options struct {
	// VirtualAliasMaps is the value of virtual_alias_maps, e.g.
	// "proxy:mysql:/path/alias.cf" or "socketmap:inet:127.0.0.1:PORT:virtual_alias".
	// Empty: none.
	VirtualAliasMaps string
	// VirtualMailboxes makes virtual(8) deliver for real: a maildir base
	// MailDir owned by the nobody user, virtual_transport = virtual, and
	// virtual_uid_maps/virtual_gid_maps static:65534 (nobody/nogroup).
	// The caller sets virtual_mailbox_domains and virtual_mailbox_maps in
	// Extra. False: everything is discarded.
	VirtualMailboxes bool
	// Extra main.cf parameters, applied after the defaults (so they override
	// them). Nil: none.
	Extra map[string]string
}

// mailboxUID owns the maildirs virtual(8) writes (nobody; virtual(8)
// refuses uids below virtual_minimum_uid, 100).
const mailboxUID = 65534

// Instance is one running private Postfix.
type Instance struct {
	Dir       string // the instance's root, /var/tmp/mgpf-XXXX
	ConfigDir string // config_directory: main.cf, master.cf
	QueueDir  string // queue_directory
	DataDir   string // data_directory
	MailLog   string // maillog_file
	// MailDir is virtual_mailbox_base with Options.VirtualMailboxes, else "".
	MailDir string
	// Addr is the smtpd listener, "127.0.0.1:PORT".
	Addr string

	stopOnce sync.Once
	stopErr  error
}

// New creates, configures and starts an instance, and registers its Stop as a
// cleanup on tb. It fails tb when Postfix is not installed ("run make deps"),
// when it is not root, or when the instance does not start.
func New(tb testing.TB, opts Options) *Instance {
	tb.Helper()
	in, err := Start(opts)
	if err != nil {
		tb.Fatalf("pfinst: %v", err)
	}
	tb.Cleanup(func() {
		if err := in.Stop(); err != nil {
			tb.Errorf("pfinst: stop: %v", err)
		}
	})
	return in
}

// Start is New for programs without a testing.TB (the benchmark harness):
// the caller must call Stop. On error, whatever was started is stopped and
// removed again, and the error carries the end of the maillog.
func Start(opts Options) (*Instance, error) {
	in, err := start(opts)
	if err != nil && in != nil {
		log := in.Log()
		if serr := in.Stop(); serr != nil {
			err = errors.Join(err, serr)
		}
		if log != "" {
			err = fmt.Errorf("%w\nmaillog:\n%s", err, lastLines(log, 30))
		}
	}
	if err != nil {
		return nil, err
	}
	return in, nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// Installed reports whether the Postfix programs the package runs are
// present; the error says what is missing and to run make deps.
func Installed() error {
	var missing []string
	for _, p := range []string{"postfix", "postmap", "postqueue", "sendmail", "postconf"} {
		if _, err := lookPath(p); err != nil {
			missing = append(missing, p)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("Postfix programs missing: %s (run make deps)", strings.Join(missing, ", "))
	}
	if _, err := user.Lookup("postfix"); err != nil {
		return fmt.Errorf("no postfix user (run make deps): %v", err)
	}
	if _, err := user.LookupGroup("postdrop"); err != nil {
		return fmt.Errorf("no postdrop group (run make deps): %v", err)
	}
	return nil
}

// lookPath finds a Postfix program in PATH or /usr/sbin (often not in a
// non-root PATH).
func lookPath(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, d := range []string{"/usr/sbin", "/usr/local/sbin", "/usr/bin"} {
		p := filepath.Join(d, name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, nil
		}
	}
	return "", fmt.Errorf("pfinst: %s not found (run make deps)", name)
}

func start(opts Options) (*Instance, error) {
	if err := Installed(); err != nil {
		return nil, err
	}
	if os.Geteuid() != 0 {
		return nil, errors.New("a private Postfix instance needs root (its master runs as root)")
	}
	pw, err := user.Lookup("postfix")
	if err != nil {
		return nil, err
	}
	uid, _ := strconv.Atoi(pw.Uid)
	gid, _ := strconv.Atoi(pw.Gid)

	sweep()

	dir, err := os.MkdirTemp(BaseDir, dirPrefix)
	if err != nil {
		return nil, err
	}
	in := &Instance{
		Dir:       dir,
		ConfigDir: filepath.Join(dir, "etc"),
		QueueDir:  filepath.Join(dir, "spool"),
		DataDir:   filepath.Join(dir, "data"),
		MailLog:   filepath.Join(dir, "maillog"),
	}
	// From here on, Stop undoes whatever was done.
	if err := os.Chmod(dir, 0o755); err != nil {
		return in, err
	}
	if err := os.WriteFile(filepath.Join(dir, "owner"), []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		return in, err
	}
	for _, d := range []string{in.ConfigDir, in.QueueDir, in.DataDir} {
		if err := os.Mkdir(d, 0o755); err != nil {
			return in, err
		}
	}
	if err := os.Chown(in.DataDir, uid, gid); err != nil {
		return in, err
	}
	if opts.VirtualMailboxes {
		in.MailDir = filepath.Join(dir, "mail")
		if err := os.Mkdir(in.MailDir, 0o755); err != nil {
			return in, err
		}
		if err := os.Chown(in.MailDir, mailboxUID, mailboxUID); err != nil {
			return in, err
		}
	}
	port, err := testdb.FreePort()
	if err != nil {
		return in, err
	}
	in.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	if err := os.WriteFile(filepath.Join(in.ConfigDir, "main.cf"), in.mainCF(opts), 0o644); err != nil {
		return in, err
	}
	if err := os.WriteFile(filepath.Join(in.ConfigDir, "master.cf"), in.masterCF(), 0o644); err != nil {
		return in, err
	}
	if err := editAlternates(in.ConfigDir, true); err != nil {
		return in, err
	}
	if out, err := in.run(nil, "postfix", "start"); err != nil {
		return in, fmt.Errorf("postfix -c %s start: %v\n%s", in.ConfigDir, err, out)
	}
	return in, in.waitReady()
}

// params are the instance's main.cf defaults, in order.
func (in *Instance) params(opts Options) [][2]string {
	ps := [][2]string{
		{"compatibility_level", "3.6"},
		{"queue_directory", in.QueueDir},
		{"data_directory", in.DataDir},
		{"maillog_file", in.MailLog},
		{"syslog_name", filepath.Base(in.Dir)},
		{"myhostname", "mx.example.org"},
		{"mydomain", "example.org"},
		{"myorigin", "$myhostname"},
		{"mydestination", ""},
		{"inet_interfaces", "127.0.0.1"},
		{"inet_protocols", "ipv4"},
		{"mynetworks", "127.0.0.0/8"},
		{"smtpd_banner", "$myhostname ESMTP"},
		{"smtputf8_enable", "yes"},
		{"biff", "no"},
		{"alias_maps", ""},
		{"alias_database", ""},
		{"local_recipient_maps", ""},
		{"virtual_alias_domains", "example.jp example.com example.net"},
		{"virtual_alias_maps", opts.VirtualAliasMaps},
		{"proxy_read_maps", "$virtual_alias_maps $virtual_alias_domains $virtual_mailbox_maps $virtual_mailbox_domains " +
			"$relay_recipient_maps $relay_domains $transport_maps $canonical_maps $sender_canonical_maps " +
			"$recipient_canonical_maps $relocated_maps $local_recipient_maps $mynetworks"},
		{"smtpd_recipient_restrictions", "permit_mynetworks, reject_unauth_destination"},
		{"default_transport", "discard"},
		{"relay_transport", "discard"},
		{"virtual_transport", "discard"},
		{"local_transport", "discard"},
	}
	if opts.VirtualMailboxes {
		ps = setParam(ps, "virtual_alias_domains", "")
		ps = setParam(ps, "virtual_transport", "virtual")
		ps = setParam(ps, "virtual_mailbox_base", in.MailDir)
		ps = setParam(ps, "virtual_uid_maps", fmt.Sprintf("static:%d", mailboxUID))
		ps = setParam(ps, "virtual_gid_maps", fmt.Sprintf("static:%d", mailboxUID))
	}
	return ps
}

// setParam replaces name's value in ps, or appends it.
func setParam(ps [][2]string, name, value string) [][2]string {
	for i := range ps {
		if ps[i][0] == name {
			ps[i][1] = value
			return ps
		}
	}
	return append(ps, [2]string{name, value})
}

func (in *Instance) mainCF(opts Options) []byte {
	var b bytes.Buffer
	b.WriteString("# A private Postfix instance for mapgate's tests (internal/pfinst). Removed on stop.\n")
	seen := map[string]bool{}
	for _, kv := range in.params(opts) {
		v := kv[1]
		if x, ok := opts.Extra[kv[0]]; ok {
			v = x
		}
		seen[kv[0]] = true
		fmt.Fprintf(&b, "%s = %s\n", kv[0], v)
	}
	var extra []string
	for k := range opts.Extra {
		if !seen[k] {
			extra = append(extra, k)
		}
	}
	sort.Strings(extra)
	for _, k := range extra {
		fmt.Fprintf(&b, "%s = %s\n", k, opts.Extra[k])
	}
	return b.Bytes()
}

// masterCF lists the services the instance needs, none chrooted.
func (in *Instance) masterCF() []byte {
	return []byte(`# service type private unpriv chroot wakeup maxproc command
` + in.Addr + ` inet n - n - - smtpd
pickup    unix  n - n 60 1 pickup
cleanup   unix  n - n -  0 cleanup
qmgr      unix  n - n 300 1 qmgr
rewrite   unix  - - n -  - trivial-rewrite
bounce    unix  - - n -  0 bounce
defer     unix  - - n -  0 bounce
trace     unix  - - n -  0 bounce
verify    unix  - - n -  1 verify
flush     unix  n - n 1000? 0 flush
proxymap  unix  - - n -  - proxymap
proxywrite unix - - n -  1 proxymap
showq     unix  n - n -  - showq
error     unix  - - n -  - error
retry     unix  - - n -  - error
discard   unix  - - n -  - discard
virtual   unix  - n n -  - virtual
anvil     unix  - - n -  1 anvil
scache    unix  - - n -  1 scache
postlog   unix-dgram n - n - 1 postlogd
`)
}

// waitReady waits until the master runs and smtpd greets.
func (in *Instance) waitReady() error {
	deadline := time.Now().Add(startTimeout)
	for {
		if pid := in.masterPID(); pid > 0 && alive(pid) {
			c, err := net.DialTimeout("tcp", in.Addr, time.Second)
			if err == nil {
				_ = c.SetDeadline(time.Now().Add(10 * time.Second))
				code, _, err := textproto.NewReader(bufio.NewReader(c)).ReadResponse(220)
				c.Close()
				if err == nil && code == 220 {
					return nil
				}
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("postfix instance %s: smtpd on %s not ready after %v", in.ConfigDir, in.Addr, startTimeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Command returns a Postfix command (postfix, postmap, postqueue, postconf,
// postcat, postsuper, sendmail...) that works on this instance: "-c DIR" is
// inserted before args (sendmail gets "-C DIR"), and MAIL_CONFIG is set.
func (in *Instance) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	path, err := lookPath(name)
	if err != nil {
		path = name // exec reports the error on Run
	}
	flag := "-c"
	if name == "sendmail" {
		flag = "-C"
	}
	cmd := exec.CommandContext(ctx, path, append([]string{flag, in.ConfigDir}, args...)...)
	cmd.Env = append(os.Environ(), "MAIL_CONFIG="+in.ConfigDir)
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// run runs a Postfix command with stdin and returns its combined output.
func (in *Instance) run(stdin []byte, name string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	cmd := in.Command(ctx, name, args...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	return cmd.CombinedOutput()
}

// Postmap runs `postmap -c DIR args...` with stdin (may be empty) and returns
// its stdout and stderr. err is an *exec.ExitError when postmap exits non-zero
// (1 is "not found" for -q).
func (in *Instance) Postmap(stdin string, args ...string) (stdout, stderr string, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	cmd := in.Command(ctx, "postmap", args...)
	cmd.Stdin = strings.NewReader(stdin)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	return o.String(), e.String(), err
}

// RCPT runs one SMTP session against the instance's smtpd: EHLO, MAIL FROM
// (with SMTPUTF8 when rcpt is not ASCII), RCPT TO:<rcpt>, QUIT. It returns the
// RCPT reply code and its last line ("550 5.1.1 <x>: Recipient address
// rejected: ..."). Code 0 means the session failed before a RCPT reply; the
// line then says why.
func (in *Instance) RCPT(rcpt string) (code int, line string) {
	return in.session(rcpt, "")
}

// Send is RCPT followed, when the recipient is accepted, by DATA with a
// short message (Subject: and body). It returns the RCPT reply when that is
// not 250, else the reply to the end of DATA ("250 2.0.0 Ok: queued as
// ...").
func (in *Instance) Send(rcpt, body string) (code int, line string) {
	return in.session(rcpt, body)
}

// session runs one SMTP transaction; with body "" it stops after RCPT.
func (in *Instance) session(rcpt, body string) (code int, line string) {
	nc, err := net.DialTimeout("tcp", in.Addr, 10*time.Second)
	if err != nil {
		return 0, "connect: " + err.Error()
	}
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(sessionTimeout))
	c := textproto.NewConn(nc)
	step := func(expect int, format string, args ...any) error {
		if format != "" {
			if err := c.PrintfLine(format, args...); err != nil {
				return err
			}
		}
		_, _, err := c.ReadResponse(expect)
		return err
	}
	if err := step(220, ""); err != nil {
		return 0, "greeting: " + err.Error()
	}
	if err := step(250, "EHLO client.example.org"); err != nil {
		return 0, "EHLO: " + err.Error()
	}
	mail := "MAIL FROM:<root@example.org>"
	if !isASCII(rcpt) {
		mail += " SMTPUTF8"
	}
	if err := step(250, "%s", mail); err != nil {
		return 0, "MAIL: " + err.Error()
	}
	if err := c.PrintfLine("RCPT TO:<%s>", rcpt); err != nil {
		return 0, "RCPT: " + err.Error()
	}
	code, line = readReply(c, "RCPT")
	if code == 250 && body != "" {
		code, line = sendData(c, step, rcpt, body)
	}
	_ = step(221, "QUIT")
	return code, line
}

// readReply reads one reply and returns its code and "CODE last-line".
func readReply(c *textproto.Conn, what string) (int, string) {
	code, msg, err := c.ReadResponse(0)
	if code == 0 {
		return 0, fmt.Sprintf("%s: %v", what, err)
	}
	if i := strings.LastIndexByte(msg, '\n'); i >= 0 {
		msg = msg[i+1:]
	}
	return code, fmt.Sprintf("%d %s", code, msg)
}

// sendData sends DATA and a short message, and returns the final reply.
func sendData(c *textproto.Conn, step func(int, string, ...any) error, rcpt, body string) (int, string) {
	if err := step(354, "DATA"); err != nil {
		return 0, "DATA: " + err.Error()
	}
	w := c.DotWriter()
	fmt.Fprintf(w, "From: root@example.org\r\nTo: %s\r\nSubject: pfinst test\r\n\r\n%s\r\n", rcpt, body)
	if err := w.Close(); err != nil {
		return 0, "DATA: " + err.Error()
	}
	return readReply(c, "end of DATA")
}

// Restart stops and starts the instance's Postfix, so that every daemon
// reads main.cf and master.cf again (after `postfix reload`, running
// processes may still serve one more client with the old settings).
func (in *Instance) Restart() error {
	if pid := in.masterPID(); pid > 0 && alive(pid) {
		if out, err := in.run(nil, "postfix", "stop"); err != nil {
			return fmt.Errorf("postfix -c %s stop: %v\n%s", in.ConfigDir, err, out)
		}
		if !waitGone(pid, stopTimeout) {
			return fmt.Errorf("postfix -c %s stop: master %d still runs after %v", in.ConfigDir, pid, stopTimeout)
		}
	}
	if out, err := in.run(nil, "postfix", "start"); err != nil {
		return fmt.Errorf("postfix -c %s start: %v\n%s", in.ConfigDir, err, out)
	}
	return in.waitReady()
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// Sendmail submits a message locally, as the seed's loop did: `sendmail -C DIR
// -t -i` with headers From: root@example.org and To: to, and body. It returns
// once postdrop has queued the message in maildrop; pickup and cleanup then
// handle it asynchronously (see Log and Queue).
func (in *Instance) Sendmail(to, body string) error {
	msg := "From: root@example.org\nTo: " + to + "\nSubject: pfinst test\n\n" + body + "\n"
	out, err := in.run([]byte(msg), "sendmail", "-t", "-i")
	if err != nil {
		return fmt.Errorf("sendmail -C %s -t: %v: %s", in.ConfigDir, err, out)
	}
	return nil
}

// QueueCount counts the queue files in one queue directory ("maildrop",
// "incoming", "active", "deferred", "hold", ...), subdirectories included.
func (in *Instance) QueueCount(queue string) (int, error) {
	n := 0
	err := filepath.WalkDir(filepath.Join(in.QueueDir, queue), func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if d.Type().IsRegular() {
			n++
		}
		return nil
	})
	return n, err
}

// Queue counts the messages in the deferred, active and incoming queues.
// Mail that cleanup refused to accept (a lookup error) stays in maildrop
// instead: see QueueCount("maildrop").
func (in *Instance) Queue() (deferred, active, incoming int, err error) {
	if deferred, err = in.QueueCount("deferred"); err != nil {
		return
	}
	if active, err = in.QueueCount("active"); err != nil {
		return
	}
	incoming, err = in.QueueCount("incoming")
	return
}

// Message is one queued message as `postqueue -j` describes it.
type Message struct {
	Queue      string      `json:"queue_name"`
	ID         string      `json:"queue_id"`
	Sender     string      `json:"sender"`
	Recipients []Recipient `json:"recipients"`
}

// Recipient of a queued message; DelayReason is set for deferred mail.
type Recipient struct {
	Address     string `json:"address"`
	DelayReason string `json:"delay_reason"`
}

// Messages lists the queue with `postqueue -c DIR -j` (maildrop included).
func (in *Instance) Messages() ([]Message, error) {
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	cmd := in.Command(ctx, "postqueue", "-j")
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("postqueue -c %s -j: %v: %s", in.ConfigDir, err, e.String())
	}
	var ms []Message
	dec := json.NewDecoder(&o)
	for dec.More() {
		var m Message
		if err := dec.Decode(&m); err != nil {
			return ms, fmt.Errorf("postqueue -j: %w", err)
		}
		ms = append(ms, m)
	}
	return ms, nil
}

// Log returns the instance's maillog so far ("" if none yet).
func (in *Instance) Log() string {
	b, _ := os.ReadFile(in.MailLog)
	return string(b)
}

// Stop stops the instance (`postfix -c DIR stop`, then the master and any
// process left with MAIL_CONFIG=DIR killed by PID), removes its entry from
// alternate_config_directories and removes its directory. It is idempotent;
// New registers it as a cleanup.
func (in *Instance) Stop() error {
	in.stopOnce.Do(func() { in.stopErr = in.stop() })
	return in.stopErr
}

func (in *Instance) stop() error {
	var errs []error
	if pid := in.masterPID(); pid > 0 && alive(pid) {
		if out, err := in.run(nil, "postfix", "stop"); err != nil {
			errs = append(errs, fmt.Errorf("postfix stop: %v: %s", err, out))
		}
		if !waitGone(pid, stopTimeout) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			waitGone(pid, 5*time.Second)
		}
	}
	killByConfig(in.ConfigDir)
	if err := editAlternates(in.ConfigDir, false); err != nil {
		errs = append(errs, err)
	}
	if err := os.RemoveAll(in.Dir); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func (in *Instance) masterPID() int {
	return readPID(filepath.Join(in.QueueDir, "pid", "master.pid"))
}

func readPID(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0
	}
	return pid
}

// alive reports whether pid runs (a zombie counts as gone: the daemonised
// master's parent may never reap it).
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// pid (comm) S ...: the state follows the last ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+2 >= len(s) {
		return false
	}
	st := s[i+2]
	return st != 'Z' && st != 'X'
}

func waitGone(pid int, limit time.Duration) bool {
	deadline := time.Now().Add(limit)
	for alive(pid) {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
	return true
}

// killByConfig SIGKILLs every process whose environment has
// MAIL_CONFIG=configDir (the master and all its children carry it).
func killByConfig(configDir string) {
	want := []byte("MAIL_CONFIG=" + configDir)
	self := os.Getpid()
	for range 3 {
		var pids []int
		ents, _ := os.ReadDir("/proc")
		for _, e := range ents {
			pid, err := strconv.Atoi(e.Name())
			if err != nil || pid == self {
				continue
			}
			env, err := os.ReadFile("/proc/" + e.Name() + "/environ")
			if err != nil {
				continue
			}
			for _, kv := range bytes.Split(env, []byte{0}) {
				if bytes.Equal(kv, want) {
					pids = append(pids, pid)
					break
				}
			}
		}
		live := 0
		for _, pid := range pids {
			if alive(pid) {
				live++
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		if live == 0 {
			return
		}
		for _, pid := range pids {
			waitGone(pid, 2*time.Second)
		}
	}
}

// sweep stops and removes instances whose owning test process is gone.
func sweep() {
	dirs, _ := filepath.Glob(filepath.Join(BaseDir, dirPrefix+"*"))
	for _, d := range dirs {
		owner := readPID(filepath.Join(d, "owner"))
		if owner == 0 || alive(owner) {
			continue
		}
		in := &Instance{Dir: d, ConfigDir: filepath.Join(d, "etc"), QueueDir: filepath.Join(d, "spool")}
		if pid := in.masterPID(); pid > 0 && alive(pid) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			waitGone(pid, 5*time.Second)
		}
		killByConfig(in.ConfigDir)
		_ = editAlternates(in.ConfigDir, false)
		_ = os.RemoveAll(d)
	}
}

// HasMapType reports whether Postfix supports the lookup table type (such
// as "mysql", from postfix-mysql). It asks `postconf -c DIR -m` with a
// private, empty main.cf: without -c, postconf reads /etc/postfix/main.cf,
// which a Postfix installed with "No configuration" does not have.
func HasMapType(typ string) error {
	postconf, err := lookPath("postconf")
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "pfinst-postconf-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if err := os.WriteFile(filepath.Join(dir, "main.cf"), nil, 0o644); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, postconf, "-c", dir, "-m")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("postconf -c %s -m: %v: %s", dir, err, strings.TrimSpace(stderr.String()))
	}
	for _, t := range strings.Fields(string(out)) {
		if t == typ {
			return nil
		}
	}
	return fmt.Errorf("Postfix has no %s: map type (postconf -m lists %s; install postfix-%s: run make deps)",
		typ, strings.Join(strings.Fields(string(out)), " "), typ)
}
