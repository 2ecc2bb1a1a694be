package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"

	"mapgate/mysqlcf"
)

// Postfix's defaults that migrate needs (mail_params.h).
const (
	defaultQueueDir  = "/var/spool/postfix"
	defaultConfigDir = "/etc/postfix"
	// defaultParentStyle is DEF_PAR_DOM_MATCH (mail_params.h:2868).
	defaultParentStyle = "debug_peer_list,fast_flush_domains,mynetworks,permit_mx_backup_networks,qmqpd_authorized_clients,relay_domains,smtpd_access_maps"
)

// migration is what migrate found in one main.cf (and its master.cf).
type migration struct {
	params      []paramPlan // main.cf parameters pointed at mapgate
	maps        []migratedMap
	left        []leftTable
	overrides   []override  // master.cf -o for delivery agents
	limits      []paramPlan // main.cf settings that go with the overrides
	unprotected []string
	delim       string
	queueDir    string
	masterKnown bool // master.cf was read
	services    []masterService
	byTables    map[string]string // joined paths → map name
	used        map[string]bool   // map names given out
}

type paramPlan struct {
	name     string
	oldValue string
	newValue string
}

type migratedMap struct {
	name         string
	paths        []string
	search       searchKind
	domainSearch string // for searchDomainList: "parent" or "dot"
	propagate    bool   // Postfix propagates unmatched extensions into results
	usedBy       []string
}

type leftTable struct {
	param, table, why string
}

// override is a master.cf "-o param=value" for one service.
type override struct {
	service, param, value string
}

// migrateSource is where migrate reads Postfix's settings from.
type migrateSource struct {
	mainCF, postconfOut, configDir string
}

func cmdMigrate(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, `usage: mapgate migrate [--main-cf FILE | --postconf FILE | --config-dir DIR] [--socket unix:/PATH]

Reads Postfix's settings (by default the output of 'postconf -n'), finds every
mysql: and proxy:mysql: table, and prints the mapgate configuration that serves
them and the 'postconf' commands that point Postfix at mapgate. Delivery
agents (virtual(8), local(8)) refuse socketmap tables: their maps stay on
mysql: through master.cf overrides, and the output says what stays
unprotected. Nothing is changed: it is a dry run; review the output, then
apply it.

`)
		fs.PrintDefaults()
	}
	var src migrateSource
	fs.StringVar(&src.mainCF, "main-cf", "", "read this main.cf (and the master.cf beside it) instead of running postconf -n")
	fs.StringVar(&src.postconfOut, "postconf", "", "read saved 'postconf -n' output from this file")
	fs.StringVar(&src.configDir, "config-dir", "", "Postfix configuration directory: postconf -c DIR -n, and DIR/master.cf")
	socket := fs.String("socket", "", "where mapgate will listen (default: unix:QUEUE_DIRECTORY/mapgate/mapgate.sock, contrib/mapgate.socket's; with --via mysql, QUEUE_DIRECTORY/mapgate/mysql.sock)")
	via := fs.String("via", "socketmap", "socketmap: point tables at mapgate's socketmap server; mysql: keep every table mysql: and point its .cf at mapgate's MySQL front (also protects virtual(8) and local(8))")
	write := fs.Bool("write", false, "with --via mysql: write the new .cf files beside the admin's (never overwriting a file migrate did not write)")
	user := fs.String("mysql-user", "postfix", "with --via mysql: the user Postfix gives the MySQL front")
	password := fs.String("mysql-password", "", "with --via mysql: its password (default: the one in front .cf files written before, else a random one)")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if *via != "socketmap" && *via != "mysql" {
		fmt.Fprintf(stderr, "mapgate migrate: --via %q: want socketmap or mysql\n", *via)
		return exitUsage
	}
	p, what, err := src.read()
	if err != nil {
		fmt.Fprintf(stderr, "mapgate migrate: %v\n", err)
		return exitFailure
	}
	if *via == "mysql" {
		dir := src.configDir
		if src.mainCF != "" {
			dir = filepath.Dir(src.mainCF)
		}
		f := planFront(p.Values, postfixVersion(dir))
		sock := *socket
		if sock == "" {
			sock = "unix:" + filepath.Join(f.queueDir, "mapgate", "mysql.sock")
		}
		pw := *password
		if pw == "" {
			pw = f.readFrontPassword()
		}
		if pw == "" {
			pw = randomPassword()
		}
		client, _ := f.clientSocket(sock)
		if *write {
			if err := f.writeFiles(client, *user, pw); err != nil {
				fmt.Fprintf(stderr, "mapgate migrate: %v\n", err)
				return exitFailure
			}
		}
		f.write(stdout, what, sock, *user, pw, *write)
		return exitOK
	}
	services, known := src.masterCF(p.Values)
	m := planMigration(p.Values, services, known)
	sock := *socket
	if sock == "" {
		sock = "unix:" + filepath.Join(m.queueDir, "mapgate", "mapgate.sock")
	}
	m.write(stdout, what, sock)
	return exitOK
}

// read returns the main.cf parameters and a name for where they came from.
func (s migrateSource) read() (*mysqlcf.Params, string, error) {
	switch {
	case s.mainCF != "":
		p, err := mysqlcf.ReadParams(s.mainCF)
		return p, s.mainCF, err
	case s.postconfOut != "":
		p, err := mysqlcf.ReadParams(s.postconfOut)
		return p, s.postconfOut, err
	}
	p, err := runPostconf(s.configDir)
	return p, "postconf -n", err
}

// masterCF returns master.cf's services, from the file beside main.cf or in
// the configuration directory; known is false when there is none to read
// (saved postconf -n output).
func (s migrateSource) masterCF(vals map[string]string) ([]masterService, bool) {
	switch {
	case s.mainCF != "":
		return readMasterCF(filepath.Dir(s.mainCF))
	case s.postconfOut != "":
		return nil, false
	case s.configDir != "":
		return readMasterCF(s.configDir)
	}
	dir := defaultConfigDir
	if v, ok := vals["config_directory"]; ok {
		dir = expand(v, vals, 0)
	}
	return readMasterCF(dir)
}

// runPostconf reads `postconf [-c DIR] -n`. Its error carries postconf's
// own message: on a machine where Postfix was installed with "No
// configuration" there is no main.cf, and postconf says so.
func runPostconf(dir string) (*mysqlcf.Params, error) {
	args := []string{"-n"}
	if dir != "" {
		args = append([]string{"-c", dir}, args...)
	}
	cmd := exec.Command(postfixProgram("postconf"), args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = err.Error()
		}
		return nil, fmt.Errorf("postconf %s: %s (use --main-cf FILE or --config-dir DIR)", strings.Join(args, " "), msg)
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

// postfixProgram finds a Postfix program in PATH or /usr/sbin (often not in
// a non-root PATH).
func postfixProgram(name string) string {
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

// expand resolves $name and ${name} in a main.cf value (as Postfix does at
// run time), with Postfix's defaults for the directories.
func expand(v string, vals map[string]string, depth int) string {
	if depth > 10 || !strings.Contains(v, "$") {
		return v
	}
	defaults := map[string]string{"config_directory": "/etc/postfix", "queue_directory": "/var/spool/postfix"}
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		if v[i] != '$' || i+1 == len(v) {
			b.WriteByte(v[i])
			continue
		}
		j := i + 1
		var name string
		if v[j] == '{' || v[j] == '(' {
			close := byte('}')
			if v[j] == '(' {
				close = ')'
			}
			k := strings.IndexByte(v[j:], close)
			if k < 0 {
				b.WriteString(v[i:])
				break
			}
			name = v[j+1 : j+k]
			i = j + k
		} else {
			k := j
			for k < len(v) && (v[k] == '_' || v[k] >= 'a' && v[k] <= 'z' || v[k] >= '0' && v[k] <= '9') {
				k++
			}
			name = v[j:k]
			i = k - 1
		}
		if val, ok := vals[name]; ok {
			b.WriteString(expand(val, vals, depth+1))
		} else if d, ok := defaults[name]; ok {
			b.WriteString(d)
		} else {
			b.WriteString("$" + name)
		}
	}
	return b.String()
}

// mysqlPath returns the .cf path of a mysql: or proxy:mysql: table.
func mysqlPath(tok string) (string, bool) {
	tok = strings.TrimPrefix(tok, "proxy:")
	if !strings.HasPrefix(tok, "mysql:") {
		return "", false
	}
	return strings.TrimPrefix(tok, "mysql:"), true
}

// isReference reports whether a list element is a whole $name or ${name}
// reference: it stays a reference, never a frozen copy of today's value.
func isReference(tok string) bool {
	if len(tok) < 2 || tok[0] != '$' {
		return false
	}
	if tok[1] == '{' || tok[1] == '(' {
		return strings.IndexAny(tok, "})") == len(tok)-1
	}
	for _, r := range tok[1:] {
		if r != '_' && (r < 'a' || r > 'z') && (r < '0' || r > '9') && (r < 'A' || r > 'Z') {
			return false
		}
	}
	return true
}

func mapNameFor(param string) string {
	n := strings.TrimSuffix(param, "_maps")
	return strings.TrimSuffix(n, "_map")
}

// parentStyle reports whether param's domain list matches parent domains
// as "parent" (listed in parent_domain_matches_subdomains) or ".parent".
func parentStyle(param string, vals map[string]string) string {
	list := defaultParentStyle
	if v, ok := vals["parent_domain_matches_subdomains"]; ok {
		list = expand(v, vals, 0)
	}
	for _, n := range splitList(list) {
		if n == param {
			return "parent"
		}
	}
	return "dot"
}

// propagatingParams returns the parameters whose tables Postfix gives an
// unmatched address extension to (propagate_unmatched_extensions, default
// "canonical, virtual": cleanup's canonical maps and virtual_alias_maps).
// mapgate propagates for exactly these maps; never for one whose result is
// a maildir path or a transport.
func propagatingParams(vals map[string]string) map[string]bool {
	classes, ok := vals["propagate_unmatched_extensions"]
	if !ok {
		classes = "canonical, virtual"
	}
	out := map[string]bool{}
	for _, c := range splitList(expand(classes, vals, 0)) {
		switch c {
		case "canonical":
			out["canonical_maps"], out["sender_canonical_maps"], out["recipient_canonical_maps"] = true, true, true
		case "virtual":
			out["virtual_alias_maps"] = true
		}
	}
	return out
}

func planMigration(vals map[string]string, services []masterService, masterKnown bool) *migration {
	m := &migration{
		byTables: map[string]string{}, used: map[string]bool{}, delim: vals["recipient_delimiter"],
		queueDir: defaultQueueDir, services: services, masterKnown: masterKnown,
	}
	if v, ok := vals["queue_directory"]; ok {
		m.queueDir = filepath.Clean(expand(v, vals, 0))
	}
	names := make([]string, 0, len(vals))
	for n := range vals {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, param := range names {
		if param == "proxy_read_maps" || param == "proxy_write_maps" {
			continue // lists of tables proxymap may open, not lookups
		}
		tables := mysqlTables(vals[param], vals)
		if len(tables) == 0 {
			continue
		}
		sp, served := servedParams[param]
		if !served {
			for _, t := range tables {
				m.left = append(m.left, leftTable{param: param, table: t, why: notMigrated(param)})
			}
			if agent, ok := deliveryMaps[param]; ok {
				m.isolate(agent, vals)
				also := ""
				if param == "alias_maps" {
					also = ", and smtpd's through local_recipient_maps (default: proxy:unix:passwd.byname $alias_maps)"
				}
				m.unprotected = append(m.unprotected, fmt.Sprintf(
					"%s: %s(8)'s own mysql: client (left as it is; max_use=1 above)%s", param, agent, also))
			}
			continue
		}
		if !m.serve(param, sp, vals) {
			for _, t := range tables {
				m.left = append(m.left, leftTable{param: param, table: t, why: "it reaches this table through a $name reference, which stays a reference: migrate the parameter that names the table"})
			}
			continue
		}
		if agent, ok := deliveryMaps[param]; ok {
			m.keepForAgent(param, agent, vals)
		}
	}
	return m
}

// mysqlTables returns the mysql: and proxy:mysql: tables of a value, with
// $name references expanded.
func mysqlTables(raw string, vals map[string]string) []string {
	var out []string
	for _, t := range splitList(expand(raw, vals, 0)) {
		if _, ok := mysqlPath(t); ok {
			out = append(out, t)
		}
	}
	return out
}

// serve points param at mapgate: each run of consecutive mysql: tables
// becomes one mapgate map (Postfix's order is kept inside it); other
// tables and $name references stay where they are. It reports false, and
// changes nothing, when the value names no mysql: table itself.
func (m *migration) serve(param string, sp servedParam, vals map[string]string) bool {
	served := false
	for _, tok := range splitList(vals[param]) {
		if _, ok := mysqlPath(expand(tok, vals, 0)); ok && !isReference(tok) {
			served = true
		}
	}
	if !served {
		return false
	}
	var out, run []string
	flush := func() {
		if len(run) > 0 {
			out = append(out, "socketmap:SOCKET:"+m.mapFor(param, sp, run, vals))
			run = run[:0]
		}
	}
	for _, tok := range splitList(vals[param]) {
		if isReference(tok) {
			flush()
			out = append(out, tok)
			continue
		}
		if p, ok := mysqlPath(expand(tok, vals, 0)); ok {
			run = append(run, p)
			continue
		}
		flush()
		out = append(out, tok)
	}
	flush()
	m.params = append(m.params, paramPlan{name: param, oldValue: vals[param], newValue: strings.Join(out, ", ")})
	return true
}

// mapFor returns the mapgate map that serves these tables for param,
// creating it when no earlier parameter has the same tables.
func (m *migration) mapFor(param string, sp servedParam, paths []string, vals map[string]string) string {
	propagate := propagatingParams(vals)[param]
	key := fmt.Sprint(strings.Join(paths, "\x00"), propagate)
	name, ok := m.byTables[key]
	if !ok {
		base := mapNameFor(param)
		name = base
		for i := 2; m.used[name]; i++ {
			name = fmt.Sprintf("%s_%d", base, i)
		}
		m.used[name] = true
		m.byTables[key] = name
		mm := migratedMap{name: name, paths: append([]string(nil), paths...), search: sp.search, propagate: propagate}
		if sp.search == searchDomainList {
			mm.domainSearch = parentStyle(param, vals)
		}
		m.maps = append(m.maps, mm)
	}
	for i := range m.maps {
		if m.maps[i].name == name {
			m.maps[i].usedBy = append(m.maps[i].usedBy, param)
		}
	}
	return name
}

// keepForAgent keeps a delivery agent's map on its original tables: a
// master.cf override for every service that runs the agent.
func (m *migration) keepForAgent(param, agent string, vals map[string]string) {
	value := strings.Join(splitList(vals[param]), ",")
	for _, svc := range agentServices(m.services, m.masterKnown, agent) {
		m.addOverride(svc, param, value)
	}
	m.isolate(agent, vals)
	m.unprotected = append(m.unprotected, fmt.Sprintf(
		"%s: %s(8) refuses socketmap tables and keeps its own mysql: client (the master.cf override above)", param, agent))
}

// isolate confines a failed query in a delivery agent's own mysql: client
// (and Postfix's 60 s host block that follows it) to the one delivery that
// caused it: each process of the agent's services makes one delivery
// (max_use=1), to one recipient (NAME_destination_recipient_limit, read by
// qmgr from main.cf).
func (m *migration) isolate(agent string, vals map[string]string) {
	for _, svc := range agentServices(m.services, m.masterKnown, agent) {
		m.addOverride(svc, "max_use", "1")
		name := strings.SplitN(svc, "/", 2)[0]
		limit := name + "_destination_recipient_limit"
		// local_destination_recipient_limit is 1 by default (mail_params.h).
		if !m.hasLimit(limit) && vals[limit] != "1" && !(name == "local" && vals[limit] == "") {
			m.limits = append(m.limits, paramPlan{name: limit, oldValue: vals[limit], newValue: "1"})
		}
	}
}

func (m *migration) addOverride(svc, param, value string) {
	for _, o := range m.overrides {
		if o.service == svc && o.param == param {
			return
		}
	}
	m.overrides = append(m.overrides, override{service: svc, param: param, value: value})
}

func (m *migration) hasLimit(name string) bool {
	for _, l := range m.limits {
		if l.name == name {
			return true
		}
	}
	return false
}

// clientSocket is how Postfix names mapgate's socket: relative to the queue
// directory when it is inside it, so that chrooted daemons (smtpd, cleanup
// and trivial-rewrite on Debian) find it too, as Postfix's own
// private/proxymap. ok is false for a unix socket outside the queue
// directory.
func (m *migration) clientSocket(socket string) (client string, ok bool) {
	path, isUnix := strings.CutPrefix(socket, "unix:")
	if !isUnix {
		return socket, true
	}
	if rel, err := filepath.Rel(m.queueDir, filepath.Clean(path)); err == nil && filepath.IsLocal(rel) {
		return "unix:" + rel, true
	}
	return socket, false
}

func (m *migration) write(w io.Writer, src, socket string) {
	if len(m.maps) == 0 {
		fmt.Fprintf(w, "# mapgate migrate: no mysql: or proxy:mysql: table to migrate in %s\n", src)
		m.writeLeft(w)
		return
	}
	m.writeConfig(w, src, socket)
	client, inQueue := m.clientSocket(socket)
	fmt.Fprintf(w, "\n# Then point Postfix at mapgate (review first; 'postfix reload' applies it):\n")
	if !inQueue {
		fmt.Fprintf(w, "# Warning: %s is outside queue_directory (%s): chrooted Postfix daemons cannot reach it.\n", socket, m.queueDir)
	}
	for _, p := range m.params {
		fmt.Fprintf(w, "postconf -e '%s = %s'\n", p.name, strings.ReplaceAll(p.newValue, "SOCKET", client))
	}
	m.writeOverrides(w)
	m.writeUnprotected(w)
	fmt.Fprintf(w, "\n# To go back:\n")
	for _, p := range append(append([]paramPlan(nil), m.params...), m.limits...) {
		if p.oldValue == "" {
			fmt.Fprintf(w, "#   postconf -X '%s'\n", p.name)
			continue
		}
		fmt.Fprintf(w, "#   postconf -e '%s = %s'\n", p.name, strings.Join(strings.Fields(p.oldValue), " "))
	}
	for _, o := range m.overrides {
		fmt.Fprintf(w, "#   postconf -PX '%s/%s'\n", o.service, o.param)
	}
	m.writeLeft(w)
	for _, mm := range m.maps {
		for _, p := range mm.paths {
			if !filepath.IsAbs(p) {
				fmt.Fprintf(w, "\n# Warning: %s is a relative path; give mapgate the absolute path.\n", p)
			}
		}
	}
}

// writeConfig writes mapgate's own configuration file.
func (m *migration) writeConfig(w io.Writer, src, socket string) {
	fmt.Fprintf(w, "# mapgate configuration, generated by 'mapgate migrate' from %s.\n", src)
	fmt.Fprintf(w, "# Save as /etc/mapgate/mapgate.cf and run: mapgate serve --config /etc/mapgate/mapgate.cf\n")
	fmt.Fprintf(w, "# The .cf files are used unchanged.\n\n")
	fmt.Fprintf(w, "listen = %s\n", socket)
	if strings.HasPrefix(socket, "unix:") {
		fmt.Fprintf(w, "socket_group = postfix\nsocket_mode = 0660\n")
	}
	fmt.Fprintf(w, "recipient_delimiter = %s\n", m.delim)
	fmt.Fprintf(w, "maps =\n")
	var lines []string
	for _, mm := range m.maps {
		for _, p := range mm.paths {
			lines = append(lines, fmt.Sprintf("    %s=%s", mm.name, p))
		}
	}
	fmt.Fprintln(w, strings.Join(lines, ",\n"))
	for _, mm := range m.maps {
		used := strings.Join(mm.usedBy, ", ")
		if mm.propagate {
			fmt.Fprintf(w, "# %s: Postfix propagates unmatched extensions into its results (propagate_unmatched_extensions)\n", used)
			fmt.Fprintf(w, "%s_propagate_extension = yes\n", mm.name)
		}
		switch mm.search {
		case searchExact:
			fmt.Fprintf(w, "# %s: Postfix asks every table each key as it is (%s): no address search\n", mm.name, used)
			fmt.Fprintf(w, "%s_address_search = no\n", mm.name)
		case searchDomainList:
			form := "parent.example"
			if mm.domainSearch == "dot" {
				form = ".parent.example"
			}
			fmt.Fprintf(w, "# %s is a domain list (%s): Postfix asks mysql: each parent domain as %q; mapgate does the same\n", mm.name, used, form)
			fmt.Fprintf(w, "%s_domain_search = %s\n", mm.name, mm.domainSearch)
		}
	}
}

// writeOverrides writes the master.cf overrides that keep delivery agents
// on their own tables.
func (m *migration) writeOverrides(w io.Writer) {
	if len(m.overrides) == 0 {
		return
	}
	fmt.Fprintf(w, "\n# Delivery agents refuse socketmap tables for the maps they read as security-sensitive\n")
	fmt.Fprintf(w, "# (DICT_FLAG_PARANOID: virtual.c:481-492, local.c:914; dict_sockmap.c:349-352), and a proxy:\n")
	fmt.Fprintf(w, "# prefix is dropped there (dict_proxy.c:444). The services that run them keep the original\n")
	fmt.Fprintf(w, "# tables, and each of their processes makes one delivery (max_use=1) to one recipient, so a\n")
	fmt.Fprintf(w, "# failed query in their own mysql: client blocks nothing but the delivery that caused it:\n")
	if !m.masterKnown {
		fmt.Fprintf(w, "# (no master.cf was read: Postfix's stock service names are assumed)\n")
	}
	for _, o := range m.overrides {
		fmt.Fprintf(w, "postconf -P '%s/%s=%s'\n", o.service, o.param, o.value)
	}
	for _, l := range m.limits {
		fmt.Fprintf(w, "postconf -e '%s = %s'\n", l.name, l.newValue)
	}
}

// writeUnprotected says what mapgate does not stand in front of, and why.
func (m *migration) writeUnprotected(w io.Writer) {
	fmt.Fprintf(w, "\n# What stays unprotected:\n")
	for _, u := range m.unprotected {
		fmt.Fprintf(w, "#   - %s.\n", u)
	}
	if len(m.overrides) > 0 {
		fmt.Fprintf(w, "#     smtpd checks recipients through mapgate, but mail submitted locally (sendmail, pickup)\n")
		fmt.Fprintf(w, "#     or expanded by virtual_alias_maps reaches the delivery agent unchecked. A key that the\n")
		fmt.Fprintf(w, "#     column cannot hold fails its query there: that mail is deferred (4.3.5), retried, and\n")
		fmt.Fprintf(w, "#     bounced after maximal_queue_lifetime; other deliveries go on.\n")
	}
	for _, l := range m.left {
		fmt.Fprintf(w, "#   - %s in %s: left as it is (below).\n", l.table, l.param)
	}
	if len(m.unprotected) == 0 && len(m.left) == 0 {
		fmt.Fprintf(w, "#   nothing: every mysql: table is served by mapgate.\n")
	}
}

func (m *migration) writeLeft(w io.Writer) {
	for _, l := range m.left {
		fmt.Fprintf(w, "\n# Left as it is: %s in %s:\n#   %s\n", l.table, l.param, l.why)
	}
}
