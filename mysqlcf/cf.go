package mysqlcf

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
)

// DefaultUnixSocket is the socket used for the host "localhost" (also when
// written "inet:localhost" or with a port) and for an empty hosts list. The
// MySQL client library connects to "localhost" over its compiled-in UNIX
// socket, not over TCP; this is that socket on Debian and most distributions.
const DefaultUnixSocket = "/run/mysqld/mysqld.sock"

// Host is one database server from the hosts parameter of a mysql_table(5) file.
type Host struct {
	// Network is "unix" or "tcp".
	Network string
	// Addr is a socket path for "unix", or host:port for "tcp" (IPv6
	// addresses in brackets, as net.JoinHostPort writes them).
	Addr string
	// Spec is the entry as written in the file.
	Spec string
}

// TLSSettings holds the tls_* parameters of a mysql_table(5) file. Empty
// strings mean "not set".
type TLSSettings struct {
	CertFile, KeyFile, CAFile, CAPath, Ciphers string
	// VerifyCert is tls_verify_cert. Postfix distinguishes "no" from
	// "unset" (it then leaves the client library's default); both are
	// false here.
	VerifyCert bool
}

// File is a parsed mysql_table(5) configuration file.
//
// Query and ResultFormat are parsed together, as Postfix does with one
// shared context (db_common.c): the key requirements of both templates
// (a domain for %d %D %1-%9, a localpart for %u %U, the highest label
// number) apply to both. For example, result_format = %D suppresses the
// query for keys without a domain even when the query only uses %s.
type File struct {
	// Path is the file name given to ParseCF.
	Path string
	// Hosts lists UNIX sockets first, then TCP hosts, each group in the
	// order written. Postfix picks at random within each group; mapgate keeps
	// this order (package hosts). A single host is not duplicated. Never empty.
	Hosts []Host
	// User, Password and DBName are the credentials and database.
	// Charset defaults to "utf8mb4".
	User, Password, DBName, Charset string
	// QueryText is the query as written, or as built from the legacy
	// select_field, table, where_field and additional_conditions.
	QueryText string
	// Query is QueryText as a parameterised template.
	Query *Template
	// ResultFormat is result_format, default "%s".
	ResultFormat *ResultFormat
	// Domain holds the raw entries of the domain list (names, !names,
	// /file paths, type:table) as listed; nil when unset. Postfix folds
	// plain names to lower case when it builds the match list.
	Domain []string
	// ExpansionLimit is expansion_limit; 0 or less means no limit.
	ExpansionLimit int
	// OptionFile is option_file ("" = none). OptionGroup is option_group,
	// default "client"; an explicit empty value means no group.
	OptionFile, OptionGroup string
	// TLS holds the tls_* parameters.
	TLS TLSSettings
	// IdleInterval and RetryInterval default to 60s; the minimum is 1s.
	IdleInterval, RetryInterval time.Duration
	// RequireResultSet is require_result_set, default true.
	RequireResultSet bool
	// Line maps each parameter present in the file to the first line of
	// the logical line that defined it last.
	Line map[string]int
	// Unknown lists parameters Postfix does not know, in order of first
	// appearance. Postfix ignores them silently; the caller may warn.
	Unknown []string
	// Warnings lists what Postfix would log as a warning while reading
	// the file (overridden entries, text that is ignored), as
	// "FILE:LINE: text".
	Warnings []string
}

// Error is an error in a mysql_table(5) file. Line is 0 when the error
// is not tied to one line (a missing parameter); Param is "" for a syntax
// error that names no parameter.
type Error struct {
	File  string
	Line  int
	Param string
	Msg   string
}

// Error formats the error as "FILE:LINE: PARAM: MSG", leaving out an
// empty part.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		b.WriteByte(':')
		b.WriteString(strconv.Itoa(e.Line))
	}
	if e.Param != "" {
		b.WriteString(": ")
		b.WriteString(e.Param)
	}
	b.WriteString(": ")
	b.WriteString(e.Msg)
	return b.String()
}

// cfKnown lists every parameter dict_mysql.c and db_common.c read.
var cfKnown = map[string]bool{
	"hosts": true, "user": true, "password": true, "dbname": true,
	"charset": true, "idle_interval": true, "retry_interval": true,
	"query": true, "result_format": true, "domain": true,
	"expansion_limit": true, "option_file": true, "option_group": true,
	"tls_cert_file": true, "tls_key_file": true, "tls_CAfile": true,
	"tls_CApath": true, "tls_ciphers": true, "tls_verify_cert": true,
	"require_result_set": true, "select_field": true, "table": true,
	"where_field": true, "additional_conditions": true,
}

// Parse reads and parses a mysql_table(5) file.
func Parse(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseBytes(path, data)
}

// cfParser holds the name = value pairs of one file.
type cfParser struct {
	path string
	vals map[string]string
	cf   *File
}

// ParseBytes parses the contents of a mysql_table(5) file, read the way
// Postfix reads it (cfg_parser.c, dict_load_fp, readllines, split_nameval):
// logical "name = value" lines; blank lines and lines whose first non-blank
// character is '#' are skipped, also between continuation lines; a line
// starting with white space continues the previous one (its leading white
// space is kept); a later definition overrides an earlier one; there is
// no $name expansion and no trailing comment ("a = b # c" has the value
// "b # c"). path is used in error messages only.
func ParseBytes(path string, data []byte) (*File, error) {
	cf := &File{Path: path, Line: map[string]int{}}
	p := &cfParser{path: path, vals: map[string]string{}, cf: cf}
	if err := p.read(data); err != nil {
		return nil, err
	}
	if err := p.build(); err != nil {
		return nil, err
	}
	return cf, nil
}

// cfSpace is C isspace() in the "C" locale.
func cfSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}

func (p *cfParser) warn(line int, format string, args ...any) {
	p.cf.Warnings = append(p.cf.Warnings, fmt.Sprintf("%s:%d: ", p.path, line)+fmt.Sprintf(format, args...))
}

// read splits data into logical lines and records name = value pairs.
func (p *cfParser) read(data []byte) error {
	var (
		logical []byte
		first   int
	)
	flush := func() error {
		if len(logical) == 0 {
			return nil
		}
		defer func() { logical = logical[:0] }()
		if cfSpace(logical[0]) {
			// Only possible for the first logical line of the file.
			p.warn(first, "logical line must not start with whitespace: %q", logical)
			return nil
		}
		if i := strings.IndexByte(string(logical), 0); i >= 0 {
			p.warn(first, "text after null byte may be ignored")
			logical = logical[:i]
		}
		return p.nameval(first, string(logical))
	}
	lineno := 0
	for len(data) > 0 {
		var line []byte
		if i := strings.IndexByte(string(data), '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			line, data = data, nil
		}
		lineno++
		j := 0
		for j < len(line) && cfSpace(line[j]) {
			j++
		}
		if j == len(line) || line[j] == '#' {
			continue // comment, blank or empty line
		}
		if j == 0 {
			if err := flush(); err != nil {
				return err
			}
			first = lineno
		} else if len(logical) == 0 {
			first = lineno
		}
		logical = append(logical, line...)
	}
	return flush()
}

// nameval is split_nameval plus dict_load_fp's override rule.
func (p *cfParser) nameval(line int, s string) error {
	i := 0
	for i < len(s) && cfSpace(s[i]) {
		i++
	}
	if i == len(s) || s[i] == '=' {
		return &Error{File: p.path, Line: line, Msg: "missing attribute name"}
	}
	start := i
	for i < len(s) && !cfSpace(s[i]) && s[i] != '=' {
		i++
	}
	name := s[start:i]
	for i < len(s) && cfSpace(s[i]) {
		i++
	}
	if i == len(s) || s[i] != '=' {
		return &Error{File: p.path, Line: line, Param: name, Msg: "missing '=' after attribute name"}
	}
	i++
	for i < len(s) && cfSpace(s[i]) {
		i++
	}
	end := len(s)
	for end > i && cfSpace(s[end-1]) {
		end--
	}
	val := s[i:end]
	if old, ok := p.vals[name]; ok {
		if old != val {
			p.warn(line, "overriding earlier entry: %s=%s", name, old)
		}
	} else if !cfKnown[name] {
		p.cf.Unknown = append(p.cf.Unknown, name)
	}
	p.vals[name] = val
	p.cf.Line[name] = line
	return nil
}

func (p *cfParser) errf(name, format string, args ...any) error {
	return &Error{File: p.path, Line: p.cf.Line[name], Param: name, Msg: fmt.Sprintf(format, args...)}
}

// str is cfg_get_str with Postfix's minimum length; a missing parameter
// gets def.
func (p *cfParser) str(name, def string, min int) (string, error) {
	v, ok := p.vals[name]
	if !ok {
		v = def
	}
	if len(v) < min {
		if !ok {
			return "", p.errf(name, "parameter is required")
		}
		return "", p.errf(name, "bad string length %d < %d", len(v), min)
	}
	return v, nil
}

// integer is cfg_get_int (CfgInt).
func (p *cfParser) integer(name string, def, min int) (int, error) {
	n, problem := CfgInt(p.vals, name, def, min)
	if problem != "" {
		return 0, p.errf(name, "%s", problem)
	}
	return n, nil
}

// CfgInt is Postfix's cfg_get_int for the parameter name of a table file
// (vals): strtol in base 10, the whole value, in int range; def when the
// parameter is not set; min 0 means no minimum. problem says what is wrong
// with the value ("" when n is good), for the reader to report with the
// file and line.
func CfgInt(vals map[string]string, name string, def, min int) (n int, problem string) {
	v, ok := vals[name]
	if !ok {
		return def, ""
	}
	i, err := strconv.ParseInt(v, 10, 32)
	if err != nil {
		return 0, fmt.Sprintf("bad numerical configuration: %q", v)
	}
	if min != 0 && int(i) < min {
		return 0, fmt.Sprintf("invalid value %d < %d", i, min)
	}
	return int(i), ""
}

// boolean is cfg_get_bool: "yes" or "no", any case.
func (p *cfParser) boolean(name string, def bool) (bool, error) {
	v, ok := p.vals[name]
	if !ok {
		return def, nil
	}
	switch {
	case strings.EqualFold(v, "yes"):
		return true, nil
	case strings.EqualFold(v, "no"):
		return false, nil
	}
	return false, p.errf(name, "bad boolean configuration: %q (want yes or no)", v)
}

func (p *cfParser) build() error {
	cf := p.cf
	var err error
	cf.User = p.vals["user"]
	cf.Password = p.vals["password"]
	if cf.DBName, err = p.str("dbname", "", 1); err != nil {
		return err
	}
	if cf.Charset, err = p.str("charset", "utf8mb4", 1); err != nil {
		return err
	}
	retry, err := p.integer("retry_interval", 60, 1)
	if err != nil {
		return err
	}
	idle, err := p.integer("idle_interval", 60, 1)
	if err != nil {
		return err
	}
	cf.RetryInterval = time.Duration(retry) * time.Second
	cf.IdleInterval = time.Duration(idle) * time.Second
	if cf.ExpansionLimit, err = p.integer("expansion_limit", 0, 0); err != nil {
		return err
	}
	resultFormat, err := p.str("result_format", "%s", 1)
	if err != nil {
		return err
	}
	cf.OptionFile = p.vals["option_file"]
	cf.OptionGroup = "client"
	if v, ok := p.vals["option_group"]; ok {
		cf.OptionGroup = v
	}
	cf.TLS = TLSSettings{
		CertFile: p.vals["tls_cert_file"],
		KeyFile:  p.vals["tls_key_file"],
		CAFile:   p.vals["tls_CAfile"],
		CAPath:   p.vals["tls_CApath"],
		Ciphers:  p.vals["tls_ciphers"],
	}
	if cf.TLS.VerifyCert, err = p.boolean("tls_verify_cert", false); err != nil {
		return err
	}
	if cf.RequireResultSet, err = p.boolean("require_result_set", true); err != nil {
		return err
	}

	// query; an empty query counts as unset (cfg_get_str with a NULL default).
	queryParam := "query"
	if q := p.vals["query"]; q != "" {
		cf.QueryText = q
		for _, legacy := range []string{"select_field", "table", "where_field", "additional_conditions"} {
			if _, ok := p.vals[legacy]; ok {
				p.warn(cf.Line[legacy], "%s is ignored because query is set", legacy)
			}
		}
	} else {
		if cf.QueryText, queryParam, err = p.legacyQuery(); err != nil {
			return err
		}
	}
	if cf.Query, err = ParseQuery(cf.QueryText); err != nil {
		return p.errf(queryParam, "%v", err)
	}
	if cf.ResultFormat, err = ParseResultFormat(resultFormat); err != nil {
		return p.errf("result_format", "%v", err)
	}
	req := cf.Query.req.merge(cf.ResultFormat.key)
	cf.Query.req, cf.ResultFormat.key = req, req

	cf.Domain = cfSplitDomain(p.vals["domain"], func(rest string) {
		p.warn(cf.Line["domain"], "ignoring text starting with '#': %q", rest)
	})
	if cf.Hosts, err = parseHosts(p.vals["hosts"]); err != nil {
		return p.errf("hosts", "%v", err)
	}
	return nil
}

// legacyQuery builds the query like db_common_sql_build_query. It returns
// the parameter to blame for template errors.
func (p *cfParser) legacyQuery() (q, blame string, err error) {
	q, blame, bad := LegacyQuery(p.vals)
	switch bad {
	case "":
		return q, blame, nil
	case "query":
		return "", "", p.errf("query", "parameter is required (or the legacy table, select_field and where_field)")
	}
	return "", "", p.errf(bad, "parameter not defined (query is not set)")
}

// LegacyQuery builds the query of a file without one from its legacy
// table, select_field, where_field and additional_conditions parameters
// (vals), as db_common.c's db_common_sql_build_query does for every SQL
// table type. blame is the parameter that template errors are blamed on.
// bad names what is wrong: "query" when none of the three is set, else
// the one that is missing or empty; "" when q was built.
func LegacyQuery(vals map[string]string) (q, blame, bad string) {
	_, hasT := vals["table"]
	_, hasS := vals["select_field"]
	_, hasW := vals["where_field"]
	if !hasT && !hasS && !hasW {
		return "", "", "query"
	}
	var parts [3]string
	for i, name := range []string{"table", "select_field", "where_field"} {
		if parts[i] = vals[name]; parts[i] == "" {
			return "", "", name
		}
	}
	q = "SELECT " + parts[1] + " FROM " + parts[0] + " WHERE " + parts[2] + "='%s' " + vals["additional_conditions"]
	blame = "where_field"
	if _, ok := vals["additional_conditions"]; ok {
		blame = "additional_conditions"
	}
	return q, blame, ""
}

// cfSplitDomain splits a match list like match_list_parse: on commas and
// white space, keeping {...} groups whole; a token starting with '#' ends
// the list (Postfix warns and ignores the rest).
func cfSplitDomain(s string, warn func(rest string)) []string {
	var out []string
	i := 0
	for {
		for i < len(s) && cfListSep(s[i]) {
			i++
		}
		if i == len(s) {
			return out
		}
		start, level := i, 0
		for ; i < len(s); i++ {
			c := s[i]
			if c == '{' {
				level++
			} else if level > 0 && c == '}' {
				level--
			} else if level == 0 && cfListSep(c) {
				break
			}
		}
		if s[start] == '#' {
			warn(s[start:])
			return out
		}
		out = append(out, s[start:i])
	}
}

// cfListSep is CHARS_COMMA_SP.
func cfListSep(c byte) bool {
	return c == ',' || c == ' ' || c == '\t' || c == '\r' || c == '\n'
}

// parseHosts is host_init for each entry of hosts, ordered UNIX first.
func parseHosts(s string) ([]Host, error) {
	var unix, tcp []Host
	specs := strings.FieldsFunc(s, func(r rune) bool { return r < 0x80 && cfListSep(byte(r)) })
	if len(specs) == 0 {
		specs = []string{"localhost"}
	}
	for _, spec := range specs {
		h, err := parseHost(spec)
		if err != nil {
			return nil, err
		}
		if h.Network == "unix" {
			unix = append(unix, h)
		} else {
			tcp = append(tcp, h)
		}
	}
	return append(unix, tcp...), nil
}

// parseHost parses "unix:/path", "inet:host[:port]" or "host[:port]".
// "localhost" (any case, with or without inet: or a port) means the
// default UNIX socket, as with the MySQL client library. Unlike Postfix,
// "[v6addr]:port" is understood, and a bare IPv6 address is an error
// (Postfix would split it at its last colon).
func parseHost(spec string) (Host, error) {
	h := Host{Spec: spec}
	if path, ok := strings.CutPrefix(spec, "unix:"); ok {
		h.Network, h.Addr = "unix", path
		if strings.EqualFold(path, "localhost") {
			h.Addr = DefaultUnixSocket
		}
		if h.Addr == "" {
			return h, fmt.Errorf("%q: empty socket path", spec)
		}
		return h, nil
	}
	name := strings.TrimPrefix(spec, "inet:")
	port := ""
	if strings.HasPrefix(name, "[") {
		end := strings.IndexByte(name, ']')
		if end < 0 {
			return h, fmt.Errorf("%q: missing ']'", spec)
		}
		rest := name[end+1:]
		name = name[1:end]
		if rest != "" {
			var ok bool
			if port, ok = strings.CutPrefix(rest, ":"); !ok {
				return h, fmt.Errorf("%q: unexpected text after ']'", spec)
			}
			if port == "" {
				return h, fmt.Errorf("%q: empty port", spec)
			}
		}
	} else if i := strings.LastIndexByte(name, ':'); i >= 0 {
		name, port = name[:i], name[i+1:]
		if strings.IndexByte(name, ':') >= 0 {
			return h, fmt.Errorf("%q: write an IPv6 address in brackets, [addr]:port", spec)
		}
		if port == "" {
			return h, fmt.Errorf("%q: empty port", spec)
		}
	}
	if name == "" {
		return h, fmt.Errorf("%q: empty host name", spec)
	}
	if strings.EqualFold(name, "localhost") {
		h.Network, h.Addr = "unix", DefaultUnixSocket
		return h, nil
	}
	n := 3306
	if port != "" {
		var err error
		if n, err = cfPort(port); err != nil {
			return h, fmt.Errorf("%q: %v", spec, err)
		}
	}
	h.Network, h.Addr = "tcp", net.JoinHostPort(name, strconv.Itoa(n))
	return h, nil
}

// cfPort is find_inet_service: a number or a service name.
func cfPort(s string) (int, error) {
	if s[0] >= '0' && s[0] <= '9' {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 65535 {
			return 0, fmt.Errorf("bad port %q", s)
		}
		return n, nil
	}
	n, err := net.LookupPort("tcp", s)
	if err != nil {
		return 0, fmt.Errorf("unknown service: %s/tcp", s)
	}
	return n, nil
}

// ExpansionLimitExceeded reports whether a lookup that produced elements
// result elements exceeds expansion_limit. An element is one call of
// ResultFormat.Append that was not skipped, i.e. one formatted column
// value, not one comma-separated address inside it (dict_mysql.c). Postfix
// then fails the lookup with a temporary error.
func (c *File) ExpansionLimitExceeded(elements int) bool {
	return c.ExpansionLimit > 0 && elements > c.ExpansionLimit
}
