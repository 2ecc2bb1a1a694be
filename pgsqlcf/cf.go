package pgsqlcf

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"mapgate/mysqlcf"
)

// DefaultSocketDir is libpq's compiled-in socket directory on Debian: the
// host of an empty "unix:" entry.
const DefaultSocketDir = "/var/run/postgresql"

// HostKind is how a hosts entry connects.
type HostKind uint8

// The kinds of hosts entries (dict_pgsql.c host_init).
const (
	Unix HostKind = iota // unix:/dir or /dir: a socket directory
	TCP                  // inet:name[:port] or name[:port]
	URI                  // postgresql://… or postgres://…
)

func (k HostKind) String() string { return [...]string{"unix", "tcp", "uri"}[k] }

// Host is one database server from the hosts parameter of a pgsql_table(5)
// file.
type Host struct {
	Kind HostKind
	// Host is libpq's host for Unix (the socket directory; the socket is
	// .s.PGSQL.PORT in it) and TCP (a name or address; IPv6 without
	// brackets). Empty for URI.
	Host string
	// Port is the port as written, "" for libpq's default (5432). For Unix
	// it is always "": Postfix passes no port for a socket.
	Port string
	// URI is the connection URI as written (URI only). Postfix passes it
	// to libpq as it is, and the file's user, password and dbname do not
	// apply to it: see URIFields.
	URI string
	// Spec is the entry as written in the file.
	Spec string
}

// Addr is host:port for TCP (the port defaulting to 5432) and the socket
// path for Unix; "" for URI.
func (h Host) Addr() string {
	switch h.Kind {
	case TCP:
		port := h.Port
		if port == "" {
			port = "5432"
		}
		return net.JoinHostPort(h.Host, port)
	case Unix:
		return h.Host + "/.s.PGSQL.5432"
	}
	return ""
}

// URIFields returns the user, password and database a URI entry names
// (empty when it names none: libpq then uses its defaults, the process's
// user name for both user and database). Query parameters (?user=…,
// ?password=…, ?dbname=…) override the parts before them, as in libpq.
func (h Host) URIFields() (user, password, dbname string, err error) {
	if h.Kind != URI {
		return "", "", "", errors.New("not a URI host")
	}
	u, err := url.Parse(h.URI)
	if err != nil {
		return "", "", "", err
	}
	if u.User != nil {
		user = u.User.Username()
		password, _ = u.User.Password()
	}
	dbname = strings.TrimPrefix(u.Path, "/")
	v := u.Query()
	if s, ok := v["user"]; ok {
		user = s[len(s)-1]
	}
	if s, ok := v["password"]; ok {
		password = s[len(s)-1]
	}
	if s, ok := v["dbname"]; ok {
		dbname = s[len(s)-1]
	}
	return user, password, dbname, nil
}

// ConnString is the libpq connection string Postfix's client uses for h:
// the URI as written (the file's user, password and dbname do not apply),
// or host, port (when written), user, password (when set) and dbname in
// keyword/value form, as PQsetdbLogin takes them. libpq's defaults and
// environment fill in the rest (port 5432, sslmode=prefer). pgx's
// ParseConfig reads both forms as libpq does. The client encoding is not
// in it: Postfix 3.8+ sets Encoding after connecting, 3.7 LATIN1.
func (c *File) ConnString(h Host) string {
	if h.Kind == URI {
		return h.URI
	}
	var b strings.Builder
	kv := func(k, v string) {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(k)
		b.WriteString("='")
		b.WriteString(strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(v))
		b.WriteByte('\'')
	}
	kv("host", h.Host)
	if h.Port != "" {
		kv("port", h.Port)
	}
	if c.User != "" {
		kv("user", c.User)
	}
	if c.Password != "" {
		kv("password", c.Password)
	}
	kv("dbname", c.DBName)
	return b.String()
}

// Error is an error in a pgsql_table(5) file: FILE:LINE: PARAM: MSG. It
// is mysqlcf's, the two files being read by the same cfg_parser.c.
type Error = mysqlcf.Error

// File is a parsed pgsql_table(5) configuration file.
//
// Query and ResultFormat are parsed together, as Postfix does with one
// shared context (db_common.c): the key requirements of both templates
// apply to both.
type File struct {
	// Path is the file name given to Parse.
	Path string
	// Hosts lists Unix sockets first, then TCP hosts, then URIs, each
	// group in the order written: Postfix prefers a connection in that
	// order and picks at random within a group, which is the caller's
	// job. A single host is not duplicated. Never empty: no hosts means
	// "localhost", which for libpq is TCP to localhost:5432 (unlike the
	// MySQL client, which takes a socket for "localhost").
	Hosts []Host
	// User, Password and DBName are the credentials and database for the
	// Unix and TCP hosts (empty: libpq's defaults). DBName is required
	// when there is any such host (Postfix 3.10 and later).
	User, Password, DBName string
	// Encoding is the client encoding Postfix 3.8 and later set
	// (encoding, default "UTF8"), as PostgreSQL names it (canonical:
	// "iso-8859-1" is "LATIN1"); EncodingSet says whether the file sets
	// it. Postfix 3.7 and older ignore the parameter and use LATIN1.
	Encoding    string
	EncodingSet bool
	// QueryText is the query as written, or as built from the legacy
	// select_function, or table, select_field, where_field and
	// additional_conditions.
	QueryText string
	// Query is QueryText as a parameterised template.
	Query *Template
	// ResultFormat is result_format, default "%s".
	ResultFormat *mysqlcf.ResultFormat
	// Domain holds the raw entries of the domain list, nil when unset
	// (see mysqlcf.File.Domain).
	Domain []string
	// ExpansionLimit is expansion_limit; 0 means no limit.
	ExpansionLimit int
	// IdleInterval and RetryInterval default to 60s; the minimum is 1s
	// (both from Postfix 3.9 on).
	IdleInterval, RetryInterval time.Duration
	// Line maps each parameter present in the file to the first line of
	// the logical line that defined it last.
	Line map[string]int
	// Unknown lists parameters Postfix does not know, in file order.
	Unknown []string
	// Warnings lists what Postfix would log as a warning while reading
	// the file, and what older Postfix versions read differently, as
	// "FILE:LINE: text".
	Warnings []string
}

// cfKnown lists every parameter dict_pgsql.c and db_common.c read.
var cfKnown = map[string]bool{
	"hosts": true, "user": true, "password": true, "dbname": true,
	"encoding": true, "idle_interval": true, "retry_interval": true,
	"query": true, "result_format": true, "domain": true,
	"expansion_limit": true, "select_function": true, "table": true,
	"select_field": true, "where_field": true, "additional_conditions": true,
}

// cfParser builds a File from the name = value pairs of one file.
type cfParser struct {
	vals map[string]string
	cf   *File
}

// Parse reads and parses a pgsql_table(5) file, read the way Postfix reads
// it (cfg_parser.c: the same rules as mysqlcf.ReadParams).
func Parse(path string) (*File, error) {
	params, err := mysqlcf.ReadParams(path)
	if err != nil {
		return nil, err
	}
	cf := &File{Path: path, Line: params.Line, Warnings: params.Warnings}
	for name := range params.Values {
		if !cfKnown[name] {
			cf.Unknown = append(cf.Unknown, name)
		}
	}
	sort.Slice(cf.Unknown, func(i, j int) bool { return cf.Line[cf.Unknown[i]] < cf.Line[cf.Unknown[j]] })
	p := &cfParser{vals: params.Values, cf: cf}
	if err := p.build(); err != nil {
		return nil, err
	}
	return cf, nil
}

func (p *cfParser) warn(name, format string, args ...any) {
	p.cf.Warnings = append(p.cf.Warnings, fmt.Sprintf("%s:%d: ", p.cf.Path, p.cf.Line[name])+fmt.Sprintf(format, args...))
}

func (p *cfParser) errf(name, format string, args ...any) error {
	return &Error{File: p.cf.Path, Line: p.cf.Line[name], Param: name, Msg: fmt.Sprintf(format, args...)}
}

// integer is cfg_get_int (mysqlcf.CfgInt).
func (p *cfParser) integer(name string, def, min int) (int, error) {
	n, problem := mysqlcf.CfgInt(p.vals, name, def, min)
	if problem != "" {
		return 0, p.errf(name, "%s", problem)
	}
	return n, nil
}

func (p *cfParser) build() error {
	cf := p.cf
	var err error
	cf.User = p.vals["user"]
	cf.Password = p.vals["password"]
	cf.DBName = p.vals["dbname"]
	enc, set := p.vals["encoding"]
	if !set {
		enc = "UTF8"
	}
	cf.EncodingSet = set
	if cf.Encoding, err = clientEncoding(enc); err != nil {
		return p.errf("encoding", "%v", err)
	}
	if set {
		p.warn("encoding", "encoding needs Postfix 3.8 or later; older Postfix ignores it and uses LATIN1")
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
	resultFormat, ok := p.vals["result_format"]
	if !ok {
		resultFormat = "%s"
	} else if resultFormat == "" {
		return p.errf("result_format", "bad string length 0 < 1")
	}

	queryParam := "query"
	if q := p.vals["query"]; q != "" {
		cf.QueryText = q
		for _, legacy := range []string{"select_function", "select_field", "table", "where_field", "additional_conditions"} {
			if _, ok := p.vals[legacy]; ok {
				p.warn(legacy, "%s is ignored because query is set", legacy)
			}
		}
	} else if cf.QueryText, queryParam, err = p.legacyQuery(); err != nil {
		return err
	}
	if cf.Query, err = ParseQuery(cf.QueryText); err != nil {
		return p.errf(queryParam, "%v", err)
	}
	if err := p.shared(resultFormat); err != nil {
		return err
	}
	if cf.Hosts, err = parseHosts(p.vals["hosts"]); err != nil {
		return p.errf("hosts", "%v", err)
	}
	nonURI := false
	for _, h := range cf.Hosts {
		if h.Kind != URI {
			nonURI = true
		} else if cf.DBName != "" || cf.User != "" || cf.Password != "" {
			p.warn("hosts", "%s: a URI host ignores the file's dbname, user and password", h.Spec)
		}
		if h.Kind == URI && !strings.HasPrefix(h.URI, "postgresql:") {
			p.warn("hosts", "%s: Postfix 3.7 and older know only postgresql:// URIs", h.Spec)
		}
	}
	if nonURI && cf.DBName == "" {
		return p.errf("dbname", "parameter is required (for the hosts that are not URIs)")
	}
	return nil
}

// shared reads the parts of the file that pgsql_table(5) and
// mysql_table(5) share, db_common.c's: the query's and result_format's %
// expansions with their common key requirements, and the domain list. They
// are handed to mysqlcf as a mysql_table(5) file of the same expansions.
func (p *cfParser) shared(resultFormat string) error {
	cf := p.cf
	var b strings.Builder
	// domain first, on line 1, so that its warnings can name the real line.
	if d, ok := p.vals["domain"]; ok {
		fmt.Fprintf(&b, "domain = %s\n", d)
	} else {
		b.WriteString("# no domain\n")
	}
	pp := &tmplParser{q: cf.QueryText}
	if err := pp.parse(); err != nil {
		return err // cannot happen: ParseQuery accepted it
	}
	fmt.Fprintf(&b, "dbname = -\nquery = %s\nresult_format = %s\n", pp.valuesQuery(), resultFormat)
	const synthetic = "(db_common)"
	m, err := mysqlcf.ParseBytes(synthetic, []byte(b.String()))
	if err != nil {
		var me *mysqlcf.Error
		if errors.As(err, &me) && me.Param == "result_format" {
			return p.errf("result_format", "%s", me.Msg)
		}
		return p.errf("query", "%v", err)
	}
	if err := cf.Query.adopt(m.Query); err != nil {
		return p.errf("query", "%v", err)
	}
	cf.ResultFormat = m.ResultFormat
	cf.Domain = m.Domain
	for _, w := range m.Warnings {
		if rest, ok := strings.CutPrefix(w, synthetic+":1: "); ok {
			p.warn("domain", "%s", rest)
		}
	}
	return nil
}

// legacyQuery builds the query as dict_pgsql.c does without a query:
// "SELECT select_function('%s')", else db_common_sql_build_query's
// "SELECT select_field FROM table WHERE where_field='%s' additional_conditions".
// It returns the parameter to blame for template errors.
func (p *cfParser) legacyQuery() (q, blame string, err error) {
	if fn, ok := p.vals["select_function"]; ok {
		if fn == "" {
			return "", "", p.errf("select_function", "empty function name")
		}
		for _, legacy := range []string{"select_field", "table", "where_field", "additional_conditions"} {
			if _, ok := p.vals[legacy]; ok {
				p.warn(legacy, "%s is ignored because select_function is set", legacy)
			}
		}
		return "SELECT " + fn + "('%s')", "select_function", nil
	}
	q, blame, bad := mysqlcf.LegacyQuery(p.vals)
	switch bad {
	case "":
		return q, blame, nil
	case "query":
		return "", "", p.errf("query", "parameter is required (or the legacy select_function, or table, select_field and where_field)")
	}
	return "", "", p.errf(bad, "parameter not defined (query is not set)")
}

// listSep is CHARS_COMMA_SP.
func listSep(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\r' || r == '\n' }

// parseHosts is host_init for each entry of hosts, ordered Unix, TCP, URI.
func parseHosts(s string) ([]Host, error) {
	var byKind [3][]Host
	specs := strings.FieldsFunc(s, listSep)
	if len(specs) == 0 {
		specs = []string{"localhost"}
	}
	for _, spec := range specs {
		h, err := parseHost(spec)
		if err != nil {
			return nil, err
		}
		byKind[h.Kind] = append(byKind[h.Kind], h)
	}
	return append(append(byKind[Unix], byKind[TCP]...), byKind[URI]...), nil
}

// uriScheme is valid_uri_scheme: ALPHA *( ALPHA / DIGIT / "+" / "-" ) "://".
func uriScheme(s string) (string, bool) {
	if s == "" || !(s[0] >= 'a' && s[0] <= 'z' || s[0] >= 'A' && s[0] <= 'Z') {
		return "", false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '+' || c == '-' {
			continue
		}
		if strings.HasPrefix(s[i:], "://") {
			return s[:i], true
		}
		break
	}
	return "", false
}

// parseHost parses one hosts entry as dict_pgsql.c's host_init: a URI
// (any scheme; libpq knows postgresql and postgres), else "unix:" or
// "inet:" stripped, and then a name starting with '/' (or empty) is a
// socket directory, anything else a host with an optional ":port" split at
// the last colon. Unlike Postfix, "[v6addr]:port" is understood, and a bare
// IPv6 address is an error (Postfix would split it at its last colon).
func parseHost(spec string) (Host, error) {
	h := Host{Spec: spec}
	if scheme, ok := uriScheme(spec); ok {
		if s := strings.ToLower(scheme); s != "postgresql" && s != "postgres" {
			return h, fmt.Errorf("%q: libpq knows only postgresql:// and postgres:// URIs", spec)
		}
		if _, err := url.Parse(spec); err != nil {
			return h, fmt.Errorf("%q: %v", spec, err)
		}
		h.Kind, h.URI = URI, spec
		return h, nil
	}
	name := spec
	if strings.HasPrefix(name, "unix:") || strings.HasPrefix(name, "inet:") {
		name = name[5:]
	}
	if name == "" || name[0] == '/' {
		h.Kind, h.Host = Unix, name
		if name == "" {
			h.Host = DefaultSocketDir
		}
		if base := name[strings.LastIndexByte(name, '/')+1:]; strings.HasPrefix(base, ".s.PGSQL.") {
			return h, fmt.Errorf("%q: name the socket's directory, not the socket (libpq adds .s.PGSQL.PORT)", spec)
		}
		return h, nil
	}
	h.Kind = TCP
	if strings.HasPrefix(name, "[") {
		end := strings.IndexByte(name, ']')
		if end < 0 {
			return h, fmt.Errorf("%q: missing ']'", spec)
		}
		rest := name[end+1:]
		h.Host = name[1:end]
		if rest != "" {
			var ok bool
			if h.Port, ok = strings.CutPrefix(rest, ":"); !ok {
				return h, fmt.Errorf("%q: unexpected text after ']'", spec)
			}
		}
	} else if i := strings.LastIndexByte(name, ':'); i >= 0 {
		h.Host, h.Port = name[:i], name[i+1:]
		if strings.IndexByte(h.Host, ':') >= 0 {
			return h, fmt.Errorf("%q: write an IPv6 address in brackets, [addr]:port", spec)
		}
	} else {
		h.Host = name
	}
	if h.Host == "" {
		return h, fmt.Errorf("%q: empty host name", spec)
	}
	if h.Port != "" {
		if n, err := strconv.Atoi(h.Port); err != nil || n < 1 || n > 65535 {
			return h, fmt.Errorf("%q: bad port %q (libpq takes a number)", spec, h.Port)
		}
	}
	return h, nil
}

// encodings maps PostgreSQL's encoding names and aliases, cleaned as
// clean_encoding_name does (letters and digits only, lower case), to the
// canonical names (src/common/encnames.c). Any of them is a valid client
// encoding.
var encodings = func() map[string]string {
	m := map[string]string{
		"abc": "WIN1258", "alt": "WIN866", "big5": "BIG5", "euccn": "EUC_CN",
		"eucjis2004": "EUC_JIS_2004", "eucjp": "EUC_JP", "euckr": "EUC_KR",
		"euctw": "EUC_TW", "gb18030": "GB18030", "gbk": "GBK",
		"iso88591": "LATIN1", "iso88592": "LATIN2", "iso88593": "LATIN3",
		"iso88594": "LATIN4", "iso88599": "LATIN5", "iso885910": "LATIN6",
		"iso885913": "LATIN7", "iso885914": "LATIN8", "iso885915": "LATIN9",
		"iso885916": "LATIN10", "iso88595": "ISO_8859_5", "iso88596": "ISO_8859_6",
		"iso88597": "ISO_8859_7", "iso88598": "ISO_8859_8", "johab": "JOHAB",
		"koi8": "KOI8R", "koi8r": "KOI8R", "koi8u": "KOI8U", "mskanji": "SJIS",
		"muleinternal": "MULE_INTERNAL", "shiftjis": "SJIS",
		"shiftjis2004": "SHIFT_JIS_2004", "sjis": "SJIS", "sqlascii": "SQL_ASCII",
		"tcvn": "WIN1258", "tcvn5712": "WIN1258", "uhc": "UHC", "unicode": "UTF8",
		"utf8": "UTF8", "vscii": "WIN1258", "win": "WIN1251", "win866": "WIN866",
		"win874": "WIN874", "win932": "SJIS", "win936": "GBK", "win949": "UHC",
		"win950": "BIG5", "windows866": "WIN866", "windows874": "WIN874",
		"windows932": "SJIS", "windows936": "GBK", "windows949": "UHC", "windows950": "BIG5",
	}
	for i := 1; i <= 10; i++ {
		m["latin"+strconv.Itoa(i)] = "LATIN" + strconv.Itoa(i)
	}
	for i := 1250; i <= 1258; i++ {
		m["win"+strconv.Itoa(i)] = "WIN" + strconv.Itoa(i)
		m["windows"+strconv.Itoa(i)] = "WIN" + strconv.Itoa(i)
	}
	return m
}()

// clientEncoding returns the canonical name of a client encoding.
// PQsetClientEncoding also takes "auto" (the encoding of the Postfix
// process's locale), which is kept as it is.
func clientEncoding(name string) (string, error) {
	if name == "" {
		return "", errors.New("bad string length 0 < 1")
	}
	if name == "auto" {
		return name, nil
	}
	var b strings.Builder
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'A' && c <= 'Z':
			b.WriteByte(c + 'a' - 'A')
		case c >= 'a' && c <= 'z' || c >= '0' && c <= '9':
			b.WriteByte(c)
		}
	}
	if enc, ok := encodings[b.String()]; ok {
		return enc, nil
	}
	return "", fmt.Errorf("%q is not a PostgreSQL encoding: the server refuses it and Postfix skips every host", name)
}
