// Package migrate plans moving a Postfix installation's mysql: and pgsql:
// tables to mapgate: from Postfix's settings (main.cf's parameters,
// master.cf's services, mail_version; see Source and Postfix) to a Plan for
// socketmap or a FrontPlan for the MySQL and PostgreSQL fronts. The planners are pure; mapgate migrate
// prints what they plan.
package migrate

import (
	"fmt"
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

// Plan is what migrate makes of one main.cf (and its master.cf) for
// socketmap: the parameters pointed at mapgate, the maps mapgate serves, the
// master.cf overrides that keep delivery agents on their own tables, and
// what stays as it is, with why.
type Plan struct {
	Params      []Param // main.cf parameters pointed at mapgate
	Maps        []Map
	Left        []Left
	Overrides   []Override // master.cf -o for delivery agents
	Limits      []Param    // main.cf settings that go with the overrides
	Unprotected []string
	Delim       string
	QueueDir    string
	MasterKnown bool // master.cf was read
	services    []Service
	byTables    map[string]string // joined paths → map name
	used        map[string]bool   // map names given out
}

// Param is a main.cf parameter's change: its value before and after.
type Param struct {
	Name string
	Old  string // "" when main.cf does not set it
	New  string
}

// Map is one mapgate map the plan makes: its .cf files, asked in order,
// and the search mapgate runs for it.
type Map struct {
	Name         string
	Paths        []string
	Search       Search
	DomainSearch string // for SearchDomainList: "parent" or "dot"
	Propagate    bool   // Postfix propagates unmatched extensions into results
	UsedBy       []string
}

// Left is a table that stays as it is, and why.
type Left struct {
	Param, Table, Why string
}

// Override is a master.cf "-o param=value" for one service.
type Override struct {
	Service, Param, Value string
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
	for _, n := range mysqlcf.SplitList(list) {
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
	for _, c := range mysqlcf.SplitList(expand(classes, vals, 0)) {
		switch c {
		case "canonical":
			out["canonical_maps"], out["sender_canonical_maps"], out["recipient_canonical_maps"] = true, true, true
		case "virtual":
			out["virtual_alias_maps"] = true
		}
	}
	return out
}

// NewPlan plans serving pf's mysql: and proxy:mysql: tables over
// socketmap. It reads nothing: all it knows is in pf.
func NewPlan(pf *Postfix) *Plan {
	vals := pf.Values
	m := &Plan{
		byTables: map[string]string{}, used: map[string]bool{}, Delim: vals["recipient_delimiter"],
		QueueDir: defaultQueueDir, services: pf.Services, MasterKnown: pf.MasterKnown,
	}
	if v, ok := vals["queue_directory"]; ok {
		m.QueueDir = filepath.Clean(expand(v, vals, 0))
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
				m.Left = append(m.Left, Left{Param: param, Table: t, Why: notMigrated(param)})
			}
			if agent, ok := deliveryMaps[param]; ok {
				m.isolate(agent, vals)
				also := ""
				if param == "alias_maps" {
					also = ", and smtpd's through local_recipient_maps (default: proxy:unix:passwd.byname $alias_maps)"
				}
				m.Unprotected = append(m.Unprotected, fmt.Sprintf(
					"%s: %s(8)'s own %s client (left as it is; max_use=1 above)%s", param, agent, clientTypes(tables), also))
			}
			continue
		}
		if !m.serve(param, sp, vals) {
			for _, t := range tables {
				m.Left = append(m.Left, Left{Param: param, Table: t, Why: "it reaches this table through a $name reference, which stays a reference: migrate the parameter that names the table"})
			}
			continue
		}
		if agent, ok := deliveryMaps[param]; ok {
			m.keepForAgent(param, agent, vals)
		}
	}
	return m
}

// servedPath returns the table of a mysql:, proxy:mysql:, pgsql: or
// proxy:pgsql: table as mapgate's maps name it: the bare .cf path for
// mysql:, "pgsql:PATH" for pgsql: (the PostgreSQL engine).
func servedPath(tok string) (string, bool) {
	fr, path, _, ok := tablePath(tok)
	if !ok {
		return "", false
	}
	return fr.mapPath(path), true
}

// mysqlTables returns the tables of a value that mapgate serves (mysql:,
// pgsql:, with or without proxy:), with $name references expanded.
func mysqlTables(raw string, vals map[string]string) []string {
	var out []string
	for _, t := range mysqlcf.SplitList(expand(raw, vals, 0)) {
		if _, ok := servedPath(t); ok {
			out = append(out, t)
		}
	}
	return out
}

// serve points param at mapgate: each run of consecutive mysql: tables
// becomes one mapgate map (Postfix's order is kept inside it); other
// tables and $name references stay where they are. It reports false, and
// changes nothing, when the value names no mysql: table itself.
func (m *Plan) serve(param string, sp servedParam, vals map[string]string) bool {
	served := false
	for _, tok := range mysqlcf.SplitList(vals[param]) {
		if _, ok := servedPath(expand(tok, vals, 0)); ok && !isReference(tok) {
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
	for _, tok := range mysqlcf.SplitList(vals[param]) {
		if isReference(tok) {
			flush()
			out = append(out, tok)
			continue
		}
		if p, ok := servedPath(expand(tok, vals, 0)); ok {
			run = append(run, p)
			continue
		}
		flush()
		out = append(out, tok)
	}
	flush()
	m.Params = append(m.Params, Param{Name: param, Old: vals[param], New: strings.Join(out, ", ")})
	return true
}

// mapFor returns the mapgate map that serves these tables for param,
// creating it when no earlier parameter has the same tables.
func (m *Plan) mapFor(param string, sp servedParam, paths []string, vals map[string]string) string {
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
		mm := Map{Name: name, Paths: append([]string(nil), paths...), Search: sp.Search, Propagate: propagate}
		if sp.Search == SearchDomainList {
			mm.DomainSearch = parentStyle(param, vals)
		}
		m.Maps = append(m.Maps, mm)
	}
	for i := range m.Maps {
		if m.Maps[i].Name == name {
			m.Maps[i].UsedBy = append(m.Maps[i].UsedBy, param)
		}
	}
	return name
}

// clientTypes names the clients of tables: "mysql:", "pgsql:", "mysql: and
// pgsql:".
func clientTypes(tables []string) string {
	var out []string
	for _, fr := range Fronts {
		for _, t := range tables {
			if f, _, _, ok := tablePath(t); ok && f == fr {
				out = append(out, fr.Type+":")
				break
			}
		}
	}
	return strings.Join(out, " and ")
}

// keepForAgent keeps a delivery agent's map on its original tables: a
// master.cf override for every service that runs the agent.
func (m *Plan) keepForAgent(param, agent string, vals map[string]string) {
	value := strings.Join(mysqlcf.SplitList(vals[param]), ",")
	for _, svc := range agentServices(m.services, m.MasterKnown, agent) {
		m.addOverride(svc, param, value)
	}
	m.isolate(agent, vals)
	m.Unprotected = append(m.Unprotected, fmt.Sprintf(
		"%s: %s(8) refuses socketmap tables and keeps its own %s client (the master.cf override above)", param, agent, clientTypes(mysqlTables(vals[param], vals))))
}

// isolate confines a failed query in a delivery agent's own mysql: client
// (and Postfix's 60 s host block that follows it) to the one delivery that
// caused it: each process of the agent's services makes one delivery
// (max_use=1), to one recipient (NAME_destination_recipient_limit, read by
// qmgr from main.cf).
func (m *Plan) isolate(agent string, vals map[string]string) {
	for _, svc := range agentServices(m.services, m.MasterKnown, agent) {
		m.addOverride(svc, "max_use", "1")
		name := strings.SplitN(svc, "/", 2)[0]
		limit := name + "_destination_recipient_limit"
		// local_destination_recipient_limit is 1 by default (mail_params.h).
		if !m.hasLimit(limit) && vals[limit] != "1" && !(name == "local" && vals[limit] == "") {
			m.Limits = append(m.Limits, Param{Name: limit, Old: vals[limit], New: "1"})
		}
	}
}

func (m *Plan) addOverride(svc, param, value string) {
	for _, o := range m.Overrides {
		if o.Service == svc && o.Param == param {
			return
		}
	}
	m.Overrides = append(m.Overrides, Override{Service: svc, Param: param, Value: value})
}

func (m *Plan) hasLimit(name string) bool {
	for _, l := range m.Limits {
		if l.Name == name {
			return true
		}
	}
	return false
}

// ClientSocket is how Postfix names mapgate's socket: relative to the queue
// directory when it is inside it, so that chrooted daemons (smtpd, cleanup
// and trivial-rewrite on Debian) find it too, as Postfix's own
// private/proxymap. ok is false for a unix socket outside the queue
// directory.
func (m *Plan) ClientSocket(socket string) (client string, ok bool) {
	path, isUnix := strings.CutPrefix(socket, "unix:")
	if !isUnix {
		return socket, true
	}
	if rel, err := filepath.Rel(m.QueueDir, filepath.Clean(path)); err == nil && filepath.IsLocal(rel) {
		return "unix:" + rel, true
	}
	return socket, false
}
