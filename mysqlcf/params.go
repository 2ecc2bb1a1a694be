package mysqlcf

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// Params is a file of Postfix-style "name = value" lines (main.cf syntax),
// read with the same rules as a mysql_table(5) file. mapgate's own
// configuration file uses it.
type Params struct {
	Path     string
	Values   map[string]string
	Line     map[string]int
	Warnings []string
}

// ReadParams reads a Postfix-style parameter file.
func ReadParams(path string) (*Params, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	cf := &File{Path: path, Line: map[string]int{}}
	p := &cfParser{path: path, vals: map[string]string{}, cf: cf}
	if err := p.read(data); err != nil {
		return nil, err
	}
	return &Params{Path: path, Values: p.vals, Line: cf.Line, Warnings: cf.Warnings}, nil
}

// Errorf returns an error naming the file, line and parameter.
func (p *Params) Errorf(name, format string, args ...any) error {
	return &Error{File: p.Path, Line: p.Line[name], Param: name, Msg: fmt.Sprintf(format, args...)}
}

// Bool parses a Postfix boolean (yes/no, true/false, 1/0).
func ParseBool(s string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "yes", "true", "1", "on":
		return true, nil
	case "no", "false", "0", "off":
		return false, nil
	}
	return false, fmt.Errorf("%q is not a boolean (yes or no)", s)
}

// ParseDuration parses a Postfix-style time value: a number with an
// optional unit (s, m, h, d, or Go's ms), default seconds.
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if n, err := strconv.Atoi(s); err == nil {
		return time.Duration(n) * time.Second, nil
	}
	if strings.HasSuffix(s, "d") {
		if n, err := strconv.Atoi(strings.TrimSuffix(s, "d")); err == nil {
			return time.Duration(n) * 24 * time.Hour, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a time (e.g. 5s, 500ms, 2m)", s)
	}
	return d, nil
}

// SplitList splits a parameter's value into its elements, as Postfix
// splits a list: at commas, blanks, tabs and newlines.
func SplitList(v string) []string {
	return strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' })
}
