package migrate

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"mapgate/mysqlcf"
)

// Postfix is what migrate reads of a Postfix installation: everything the
// planners (NewPlan, NewFrontPlan) need, so that they read nothing
// themselves.
type Postfix struct {
	Values      map[string]string // main.cf's parameters (postconf -n)
	From        string            // where Values came from, for the output
	Services    []Service         // master.cf's services
	MasterKnown bool              // a master.cf was read
	Version     string            // mail_version, "" when postconf cannot say
}

// Source is where migrate reads Postfix's settings from: a main.cf (and
// the master.cf beside it), saved postconf -n output, or postconf itself
// (with ConfigDir, postconf -c DIR).
type Source struct {
	MainCF, PostconfOut, ConfigDir string
}

// Read reads Postfix's settings from s.
func (s Source) Read() (*Postfix, error) {
	p, from, err := s.params()
	if err != nil {
		return nil, err
	}
	pf := &Postfix{Values: p.Values, From: from}
	pf.Services, pf.MasterKnown = s.masterCF(p.Values)
	dir := s.ConfigDir
	if s.MainCF != "" {
		dir = filepath.Dir(s.MainCF)
	}
	if out, err := postconf(dir, "-h", "mail_version"); err == nil {
		pf.Version = strings.TrimSpace(string(out))
	}
	return pf, nil
}

// params returns the main.cf parameters and a name for where they came from.
func (s Source) params() (*mysqlcf.Params, string, error) {
	switch {
	case s.MainCF != "":
		p, err := mysqlcf.ReadParams(s.MainCF)
		return p, s.MainCF, err
	case s.PostconfOut != "":
		p, err := mysqlcf.ReadParams(s.PostconfOut)
		return p, s.PostconfOut, err
	}
	p, err := postconfN(s.ConfigDir)
	return p, "postconf -n", err
}

// masterCF returns master.cf's services, from the file beside main.cf or in
// the configuration directory; known is false when there is none to read
// (saved postconf -n output).
func (s Source) masterCF(vals map[string]string) ([]Service, bool) {
	switch {
	case s.MainCF != "":
		return readMasterCF(filepath.Dir(s.MainCF))
	case s.PostconfOut != "":
		return nil, false
	case s.ConfigDir != "":
		return readMasterCF(s.ConfigDir)
	}
	dir := defaultConfigDir
	if v, ok := vals["config_directory"]; ok {
		dir = expand(v, vals, 0)
	}
	return readMasterCF(dir)
}

// postconf runs postconf(1) with args (after -c dir when dir is set) and
// returns its output. Its error carries postconf's own message: on a
// machine where Postfix was installed with "No configuration" there is no
// main.cf, and postconf says so. It is migrate's one way to ask Postfix.
func postconf(dir string, args ...string) ([]byte, error) {
	if dir != "" {
		args = append([]string{"-c", dir}, args...)
	}
	cmd := exec.Command(Program("postconf"), args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = err.Error()
		}
		return nil, fmt.Errorf("postconf %s: %s", strings.Join(args, " "), msg)
	}
	return out, nil
}

// postconfN reads `postconf [-c DIR] -n`.
func postconfN(dir string) (*mysqlcf.Params, error) {
	out, err := postconf(dir, "-n")
	if err != nil {
		return nil, fmt.Errorf("%w (use --main-cf FILE or --config-dir DIR)", err)
	}
	f, err := os.CreateTemp("", "postconf-n")
	if err != nil {
		return nil, err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(out); err != nil {
		f.Close()
		return nil, err
	}
	if err := f.Close(); err != nil {
		return nil, err
	}
	return mysqlcf.ReadParams(f.Name())
}

// Program finds a Postfix program in PATH or /usr/sbin (often not in a
// non-root PATH).
func Program(name string) string {
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, d := range []string{"/usr/sbin", "/usr/local/sbin"} {
		if p := filepath.Join(d, name); fileExists(p) {
			return p
		}
	}
	return name
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}
