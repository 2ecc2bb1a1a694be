package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"

	"mapgate/lookup"
)

func init() { extraCommands["migrate"] = cmdMigrate }

// addressSearchParams are the parameters Postfix searches with
// mail_addr_find (full key, key without extension, @domain): mapgate runs
// that search for them.
var addressSearchParams = map[string]bool{
	"virtual_alias_maps": true, "virtual_mailbox_maps": true, "canonical_maps": true,
	"sender_canonical_maps": true, "recipient_canonical_maps": true, "relocated_maps": true,
	"smtpd_sender_login_maps": true, "virtual_uid_maps": true, "virtual_gid_maps": true,
	"sender_bcc_maps": true, "recipient_bcc_maps": true, "relay_recipient_maps": true,
}

// domainParams hold domain lists: Postfix looks up the whole domain, which
// a socketmap table receives too. No address search.
var domainParams = map[string]bool{
	"virtual_alias_domains": true, "virtual_mailbox_domains": true, "relay_domains": true,
	"mydestination": true, "permit_mx_backup_networks": false,
}

// notMigrated explains why other mysql: tables stay as they are.
func notMigrated(param string) string {
	switch {
	case param == "transport_maps", strings.HasSuffix(param, "_transport_maps"):
		return "Postfix asks a socketmap (pattern) table only the full address, never the domain keys a transport table holds"
	case strings.Contains(param, "restrictions"), strings.HasSuffix(param, "_access"):
		return "access tables are searched by Postfix with domain and parent-domain keys that a socketmap table never receives"
	case param == "alias_maps", param == "alias_database":
		return "local aliases are looked up by bare localpart; keep them where they are"
	}
	return "Postfix searches this table in its own way; mapgate does not know it safely replaces it"
}

// migration is what migrate found in one main.cf.
type migration struct {
	params   []paramPlan
	maps     []migratedMap
	left     []leftTable
	delim    string
	byTables map[string]string // joined paths → map name
}

type paramPlan struct {
	name     string
	oldValue string
	newValue string
}

type migratedMap struct {
	name          string
	paths         []string
	addressSearch bool
	usedBy        []string
}

type leftTable struct {
	param, table, why string
}

func cmdMigrate(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, `usage: mapgate migrate [--main-cf FILE | --postconf FILE] [--socket unix:/PATH]

Reads Postfix's settings (by default the output of 'postconf -n'), finds every
mysql: and proxy:mysql: table, and prints the mapgate configuration that serves
them and the 'postconf -e' commands that point Postfix at mapgate. Nothing is
changed: it is a dry run; review the output, then apply it.

`)
		fs.PrintDefaults()
	}
	mainCF := fs.String("main-cf", "", "read this main.cf instead of running postconf -n")
	postconfOut := fs.String("postconf", "", "read saved 'postconf -n' output from this file")
	configDir := fs.String("config-dir", "", "Postfix configuration directory for postconf -c")
	socket := fs.String("socket", "unix:/var/spool/postfix/mapgate/mapgate.sock", "where mapgate will listen (contrib/mapgate.socket's)")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	var (
		p   *lookup.Params
		err error
		src string
	)
	switch {
	case *mainCF != "":
		p, err = lookup.ReadParams(*mainCF)
		src = *mainCF
	case *postconfOut != "":
		p, err = lookup.ReadParams(*postconfOut)
		src = *postconfOut
	default:
		p, err = runPostconf(*configDir)
		src = "postconf -n"
	}
	if err != nil {
		fmt.Fprintf(stderr, "mapgate migrate: %v\n", err)
		return exitFailure
	}
	m := planMigration(p.Values)
	m.write(stdout, src, *socket)
	return exitOK
}

func runPostconf(dir string) (*lookup.Params, error) {
	args := []string{"-n"}
	if dir != "" {
		args = append(args, "-c", dir)
	}
	out, err := exec.Command("postconf", args...).Output()
	if err != nil {
		return nil, fmt.Errorf("postconf -n: %w (use --main-cf FILE)", err)
	}
	f, err := os.CreateTemp("", "postconf-n")
	if err != nil {
		return nil, err
	}
	defer os.Remove(f.Name())
	f.Write(out)
	f.Close()
	return lookup.ReadParams(f.Name())
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

func mapNameFor(param string) string {
	n := strings.TrimSuffix(param, "_maps")
	return strings.TrimSuffix(n, "_map")
}

func planMigration(vals map[string]string) *migration {
	m := &migration{byTables: map[string]string{}, delim: vals["recipient_delimiter"]}
	names := make([]string, 0, len(vals))
	for n := range vals {
		names = append(names, n)
	}
	sort.Strings(names)
	used := map[string]bool{}
	for _, param := range names {
		if param == "proxy_read_maps" || param == "proxy_write_maps" {
			continue // lists of tables proxymap may open, not lookups
		}
		raw := vals[param]
		toks := splitList(expand(raw, vals, 0))
		hasMySQL := false
		for _, t := range toks {
			if _, ok := mysqlPath(t); ok {
				hasMySQL = true
			}
		}
		if !hasMySQL {
			continue
		}
		search, domains := addressSearchParams[param], domainParams[param]
		if !search && !domains {
			for _, t := range toks {
				if _, ok := mysqlPath(t); ok {
					m.left = append(m.left, leftTable{param: param, table: t, why: notMigrated(param)})
				}
			}
			continue
		}
		// Consecutive mysql: tables become one mapgate map (Postfix's order
		// is kept inside it); other tables stay where they are.
		var out []string
		var run []string
		flush := func() {
			if len(run) == 0 {
				return
			}
			key := strings.Join(run, "\x00")
			name, ok := m.byTables[key]
			if !ok {
				base := mapNameFor(param)
				name = base
				for i := 2; used[name]; i++ {
					name = fmt.Sprintf("%s_%d", base, i)
				}
				used[name] = true
				m.byTables[key] = name
				m.maps = append(m.maps, migratedMap{name: name, paths: append([]string(nil), run...), addressSearch: search})
			}
			for i := range m.maps {
				if m.maps[i].name == name {
					m.maps[i].usedBy = append(m.maps[i].usedBy, param)
				}
			}
			out = append(out, "socketmap:SOCKET:"+name)
			run = run[:0]
		}
		for _, t := range toks {
			if p, ok := mysqlPath(t); ok {
				run = append(run, p)
				continue
			}
			flush()
			out = append(out, t)
		}
		flush()
		m.params = append(m.params, paramPlan{name: param, oldValue: raw, newValue: strings.Join(out, ", ")})
	}
	return m
}

func (m *migration) write(w io.Writer, src, socket string) {
	if len(m.maps) == 0 {
		fmt.Fprintf(w, "# mapgate migrate: no mysql: or proxy:mysql: table to migrate in %s\n", src)
		for _, l := range m.left {
			fmt.Fprintf(w, "# left as it is: %s in %s: %s\n", l.table, l.param, l.why)
		}
		return
	}
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
		if !mm.addressSearch {
			fmt.Fprintf(w, "# %s holds domains (%s): no address search\n", mm.name, strings.Join(mm.usedBy, ", "))
			fmt.Fprintf(w, "%s_address_search = no\n", mm.name)
		}
	}
	fmt.Fprintf(w, "\n# Then point Postfix at mapgate (review first; 'postfix reload' applies it):\n")
	client := socket
	const queueDir = "unix:/var/spool/postfix/"
	if strings.HasPrefix(socket, queueDir) {
		// Relative to the queue directory, so chrooted smtpd and cleanup
		// find it too (as Postfix's own private/proxymap).
		client = "unix:" + strings.TrimPrefix(socket, queueDir)
	}
	for _, p := range m.params {
		fmt.Fprintf(w, "postconf -e '%s = %s'\n", p.name, strings.ReplaceAll(p.newValue, "SOCKET", client))
	}
	fmt.Fprintf(w, "\n# To go back:\n")
	for _, p := range m.params {
		fmt.Fprintf(w, "#   postconf -e '%s = %s'\n", p.name, strings.Join(strings.Fields(p.oldValue), " "))
	}
	for _, l := range m.left {
		fmt.Fprintf(w, "\n# Left as it is: %s in %s:\n#   %s\n", l.table, l.param, l.why)
	}
	for _, mm := range m.maps {
		for _, p := range mm.paths {
			if !filepath.IsAbs(p) {
				fmt.Fprintf(w, "\n# Warning: %s is a relative path; give mapgate the absolute path.\n", p)
			}
		}
	}
}
