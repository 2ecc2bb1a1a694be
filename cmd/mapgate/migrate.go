package main

import (
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strings"

	"mapgate/engine"
	"mapgate/migrate"
)

// cmdMigrate is mapgate migrate: its flags, and the printing of the plan
// that package migrate makes from Postfix's settings.
func cmdMigrate(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, `usage: mapgate migrate [--main-cf FILE | --postconf FILE | --config-dir DIR] [--via socketmap|mysql|pgsql|front] [--socket unix:/PATH]

Reads Postfix's settings (by default the output of 'postconf -n'), finds every
mysql:, proxy:mysql:, pgsql: and proxy:pgsql: table, and prints the mapgate
configuration that serves them and the 'postconf' commands that point Postfix
at mapgate. Nothing is changed but, with --write, the new .cf files: it is a
dry run; review the output, then apply it.

--via socketmap (the default): tables become socketmap: tables. Delivery
agents (virtual(8), local(8)) refuse socketmap tables: their maps stay on
mysql: or pgsql: through master.cf overrides, and the output says what stays
unprotected.

--via mysql, --via pgsql: every table of that type keeps its type (and its
proxy:) and gets a .cf beside the admin's that points Postfix's own client at
mapgate's MySQL or PostgreSQL front, delivery agents' tables included.
Tables of the other type are left as they are, and the output says so.
--via front: both, each table through the front of its type, with one mapgate
configuration for both fronts.

`)
		fs.PrintDefaults()
	}
	var src migrate.Source
	fs.StringVar(&src.MainCF, "main-cf", "", "read this main.cf (and the master.cf beside it) instead of running postconf -n")
	fs.StringVar(&src.PostconfOut, "postconf", "", "read saved 'postconf -n' output from this file")
	fs.StringVar(&src.ConfigDir, "config-dir", "", "Postfix configuration directory: postconf -c DIR -n, and DIR/master.cf")
	socket := fs.String("socket", "", "where mapgate will listen (default: unix:QUEUE_DIRECTORY/mapgate/mapgate.sock, contrib/mapgate.socket's; with --via mysql or front, the MySQL front's, QUEUE_DIRECTORY/mapgate/mysql.sock; with --via pgsql, the PostgreSQL front's)")
	pgSocket := fs.String("pgsql-socket", "", "with --via pgsql or front: where the PostgreSQL front listens, unix:/DIR/.s.PGSQL.PORT or inet:127.0.0.1:PORT (default: unix:QUEUE_DIRECTORY/mapgate/pg/.s.PGSQL.5432, contrib/mapgate-pgsql.socket's)")
	via := fs.String("via", "socketmap", "socketmap: point tables at mapgate's socketmap server; mysql, pgsql: keep every table of that type and point its .cf at mapgate's MySQL or PostgreSQL front (also protects virtual(8) and local(8)); front: both, each table through the front of its type")
	write := fs.Bool("write", false, "with --via mysql, pgsql or front: write the new .cf files beside the admin's (never overwriting a file migrate did not write)")
	user := fs.String("mysql-user", "postfix", "with --via mysql or front: the user Postfix gives the MySQL front")
	password := fs.String("mysql-password", "", "with --via mysql or front: its password (default: the one in front .cf files written before, else a random one)")
	pgUser := fs.String("pgsql-user", "postfix", "with --via pgsql or front: the user Postfix gives the PostgreSQL front")
	pgPassword := fs.String("pgsql-password", "", "with --via pgsql or front: its password (default: the one in front .cf files written before, else a random one)")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	fronts, ok := map[string][]*migrate.Front{"socketmap": nil, "mysql": {migrate.MySQLFront},
		"pgsql": {migrate.PgSQLFront}, "front": migrate.Fronts}[*via]
	if !ok {
		fmt.Fprintf(stderr, "mapgate migrate: --via %q: want socketmap, mysql, pgsql or front\n", *via)
		return exitUsage
	}
	pf, err := src.Read()
	if err != nil {
		fmt.Fprintf(stderr, "mapgate migrate: %v\n", err)
		return exitFailure
	}
	if fronts != nil {
		f := migrate.NewFrontPlan(pf, fronts...)
		listen := map[*migrate.Front]string{migrate.MySQLFront: *socket, migrate.PgSQLFront: *pgSocket}
		if *via == "pgsql" && *pgSocket == "" {
			listen[migrate.PgSQLFront] = *socket
		}
		creds := map[*migrate.Front][2]string{migrate.MySQLFront: {*user, *password}, migrate.PgSQLFront: {*pgUser, *pgPassword}}
		var setups []frontSetup
		access := map[*migrate.Front]migrate.FrontAccess{}
		for _, fr := range f.Fronts() {
			s := frontSetup{fr: fr, listen: listen[fr]}
			if s.listen == "" {
				s.listen = "unix:" + filepath.Join(f.QueueDir, "mapgate", fr.Socket)
			}
			s.access.User, s.access.Password = creds[fr][0], creds[fr][1]
			if s.access.Password == "" {
				s.access.Password = f.ReadPassword(fr)
			}
			if s.access.Password == "" {
				s.access.Password = randomPassword()
			}
			if s.access.Host, s.inQueue, err = f.ClientHost(fr, s.listen); err != nil {
				fmt.Fprintf(stderr, "mapgate migrate: %v\n", err)
				return exitUsage
			}
			access[fr] = s.access
			setups = append(setups, s)
		}
		if *write {
			if err := f.WriteFiles(access); err != nil {
				fmt.Fprintf(stderr, "mapgate migrate: %v\n", err)
				return exitFailure
			}
		}
		writeFrontPlan(stdout, f, *via, fronts, pf.From, setups, *write)
		return exitOK
	}
	m := migrate.NewPlan(pf)
	sock := *socket
	if sock == "" {
		sock = "unix:" + filepath.Join(m.QueueDir, "mapgate", "mapgate.sock")
	}
	writePlan(stdout, m, pf.From, sock)
	return exitOK
}

// writePlan prints the socketmap plan: mapgate's configuration, the
// postconf commands that apply it, and how to go back.
func writePlan(w io.Writer, m *migrate.Plan, src, socket string) {
	if len(m.Maps) == 0 {
		fmt.Fprintf(w, "# mapgate migrate: no mysql: or proxy:mysql: table to migrate in %s\n", src)
		writeLeft(w, m.Left)
		return
	}
	writeConfig(w, m, src, socket)
	client, inQueue := m.ClientSocket(socket)
	fmt.Fprintf(w, "\n# Then point Postfix at mapgate (review first; 'postfix reload' applies it):\n")
	if !inQueue {
		fmt.Fprintf(w, "# Warning: %s is outside queue_directory (%s): chrooted Postfix daemons cannot reach it.\n", socket, m.QueueDir)
	}
	for _, p := range m.Params {
		fmt.Fprintf(w, "postconf -e '%s = %s'\n", p.Name, strings.ReplaceAll(p.New, "SOCKET", client))
	}
	writeOverrides(w, m)
	writeUnprotected(w, m)
	fmt.Fprintf(w, "\n# To go back:\n")
	for _, p := range append(append([]migrate.Param(nil), m.Params...), m.Limits...) {
		if p.Old == "" {
			fmt.Fprintf(w, "#   postconf -X '%s'\n", p.Name)
			continue
		}
		fmt.Fprintf(w, "#   postconf -e '%s = %s'\n", p.Name, strings.Join(strings.Fields(p.Old), " "))
	}
	for _, o := range m.Overrides {
		fmt.Fprintf(w, "#   postconf -PX '%s/%s'\n", o.Service, o.Param)
	}
	writeLeft(w, m.Left)
	for _, mm := range m.Maps {
		for _, p := range mm.Paths {
			if _, file, err := engine.Split(p); err == nil && !filepath.IsAbs(file) {
				fmt.Fprintf(w, "\n# Warning: %s is a relative path; give mapgate the absolute path.\n", p)
			}
		}
	}
}

// writeConfig writes mapgate's own configuration file.
func writeConfig(w io.Writer, m *migrate.Plan, src, socket string) {
	fmt.Fprintf(w, "# mapgate configuration, generated by 'mapgate migrate' from %s.\n", src)
	fmt.Fprintf(w, "# Save as /etc/mapgate/mapgate.cf and run: mapgate serve --config /etc/mapgate/mapgate.cf\n")
	fmt.Fprintf(w, "# The .cf files are used unchanged.\n\n")
	fmt.Fprintf(w, "listen = %s\n", socket)
	if strings.HasPrefix(socket, "unix:") {
		fmt.Fprintf(w, "socket_group = postfix\nsocket_mode = 0660\n")
	}
	fmt.Fprintf(w, "recipient_delimiter = %s\n", m.Delim)
	fmt.Fprintf(w, "maps =\n")
	var lines []string
	for _, mm := range m.Maps {
		for _, p := range mm.Paths {
			lines = append(lines, fmt.Sprintf("    %s=%s", mm.Name, p))
		}
	}
	fmt.Fprintln(w, strings.Join(lines, ",\n"))
	for _, mm := range m.Maps {
		used := strings.Join(mm.UsedBy, ", ")
		if mm.Propagate {
			fmt.Fprintf(w, "# %s: Postfix propagates unmatched extensions into its results (propagate_unmatched_extensions)\n", used)
			fmt.Fprintf(w, "%s_propagate_extension = yes\n", mm.Name)
		}
		switch mm.Search {
		case migrate.SearchExact:
			fmt.Fprintf(w, "# %s: Postfix asks every table each key as it is (%s): no address search\n", mm.Name, used)
			fmt.Fprintf(w, "%s_address_search = no\n", mm.Name)
		case migrate.SearchDomainList:
			form := "parent.example"
			if mm.DomainSearch == "dot" {
				form = ".parent.example"
			}
			fmt.Fprintf(w, "# %s is a domain list (%s): Postfix asks mysql: each parent domain as %q; mapgate does the same\n", mm.Name, used, form)
			fmt.Fprintf(w, "%s_domain_search = %s\n", mm.Name, mm.DomainSearch)
		}
	}
}

// writeOverrides writes the master.cf overrides that keep delivery agents
// on their own tables.
func writeOverrides(w io.Writer, m *migrate.Plan) {
	if len(m.Overrides) == 0 {
		return
	}
	fmt.Fprintf(w, "\n# Delivery agents refuse socketmap tables for the maps they read as security-sensitive\n")
	fmt.Fprintf(w, "# (DICT_FLAG_PARANOID: virtual.c:481-492, local.c:914; dict_sockmap.c:349-352), and a proxy:\n")
	fmt.Fprintf(w, "# prefix is dropped there (dict_proxy.c:444). The services that run them keep the original\n")
	fmt.Fprintf(w, "# tables, and each of their processes makes one delivery (max_use=1) to one recipient, so a\n")
	fmt.Fprintf(w, "# failed query in their own mysql: client blocks nothing but the delivery that caused it:\n")
	if !m.MasterKnown {
		fmt.Fprintf(w, "# (no master.cf was read: Postfix's stock service names are assumed)\n")
	}
	for _, o := range m.Overrides {
		fmt.Fprintf(w, "postconf -P '%s/%s=%s'\n", o.Service, o.Param, o.Value)
	}
	for _, l := range m.Limits {
		fmt.Fprintf(w, "postconf -e '%s = %s'\n", l.Name, l.New)
	}
}

// writeUnprotected says what mapgate does not stand in front of, and why.
func writeUnprotected(w io.Writer, m *migrate.Plan) {
	fmt.Fprintf(w, "\n# What stays unprotected:\n")
	for _, u := range m.Unprotected {
		fmt.Fprintf(w, "#   - %s.\n", u)
	}
	if len(m.Overrides) > 0 {
		fmt.Fprintf(w, "#     smtpd checks recipients through mapgate, but mail submitted locally (sendmail, pickup)\n")
		fmt.Fprintf(w, "#     or expanded by virtual_alias_maps reaches the delivery agent unchecked. A key that the\n")
		fmt.Fprintf(w, "#     column cannot hold fails its query there: that mail is deferred (4.3.5), retried, and\n")
		fmt.Fprintf(w, "#     bounced after maximal_queue_lifetime; other deliveries go on.\n")
	}
	for _, l := range m.Left {
		fmt.Fprintf(w, "#   - %s in %s: left as it is (below).\n", l.Table, l.Param)
	}
	if len(m.Unprotected) == 0 && len(m.Left) == 0 {
		fmt.Fprintf(w, "#   nothing: every mysql: table is served by mapgate.\n")
	}
}

// writeLeft says which tables stay as they are, and why.
func writeLeft(w io.Writer, left []migrate.Left) {
	for _, l := range left {
		fmt.Fprintf(w, "\n# Left as it is: %s in %s:\n#   %s\n", l.Table, l.Param, l.Why)
	}
}

// frontSetup is one front of a --via plan: where it listens and how
// Postfix's client reaches it.
type frontSetup struct {
	fr      *migrate.Front
	listen  string
	access  migrate.FrontAccess
	inQueue bool
}

// typeList is "mysql:", "pgsql:" or "mysql: and pgsql:" (or "or").
func typeList(fronts []*migrate.Front, and string) string {
	var ts []string
	for _, fr := range fronts {
		ts = append(ts, fr.Type+":")
	}
	return strings.Join(ts, " "+and+" ")
}

// writeFrontPlan prints a --via mysql, pgsql or front plan: fronts are the
// chosen ones, setups those that serve a table.
func writeFrontPlan(w io.Writer, f *migrate.FrontPlan, via string, fronts []*migrate.Front, src string, setups []frontSetup, wrote bool) {
	if len(f.Tables) == 0 {
		var ts []string
		for _, fr := range fronts {
			ts = append(ts, fr.Type+": or proxy:"+fr.Type+":")
		}
		fmt.Fprintf(w, "# mapgate migrate --via %s: no %s table in %s\n", via, strings.Join(ts, " and no "), src)
		writeLeft(w, f.Left)
		return
	}
	used := f.Fronts()
	this, only := "this front", "only this front protects"
	if len(used) > 1 {
		this, only = "the front of its type", "only these fronts protect"
	}
	fmt.Fprintf(w, "# mapgate configuration, generated by 'mapgate migrate --via %s' from %s.\n", via, src)
	fmt.Fprintf(w, "# Save as /etc/mapgate/mapgate.cf (mode 0640: it holds a password) and run:\n#   mapgate serve --config /etc/mapgate/mapgate.cf\n\n")
	unix := false
	for _, s := range setups {
		t := s.fr.Type
		fmt.Fprintf(w, "%s_listen = %s\n%s_user = %s\n%s_password = %s\n", t, s.listen, t, s.access.User, t, s.access.Password)
		unix = unix || strings.HasPrefix(s.listen, "unix:")
	}
	if unix {
		fmt.Fprintf(w, "socket_group = postfix\nsocket_mode = 0660\n")
	}
	fmt.Fprintf(w, "maps =\n")
	var lines []string
	for _, t := range f.Tables {
		lines = append(lines, fmt.Sprintf("    %s=%s", t.Name, t.MapPath()))
	}
	fmt.Fprintln(w, strings.Join(lines, ",\n"))

	verb := "Written"
	if !wrote {
		verb = "To write (run again with --write)"
	}
	fmt.Fprintf(w, "\n# %s beside the admin's .cf files (which stay unchanged), one per table:\n", verb)
	for _, t := range f.Tables {
		fmt.Fprintf(w, "#   %s  (map %s, for %s)\n", t.Front, t.Name, t.Orig)
	}
	for _, s := range setups {
		if !s.inQueue {
			fmt.Fprintf(w, "# Warning: %s is outside queue_directory (%s): chrooted Postfix daemons cannot reach it.\n", s.listen, f.QueueDir)
		}
		if s.fr == migrate.PgSQLFront && strings.HasPrefix(s.listen, "unix:") {
			writePgSocket(w, f, s)
		}
	}
	fmt.Fprintf(w, "\n# Then point Postfix at the new files (review first; 'postfix reload' applies it).\n")
	fmt.Fprintf(w, "# Table types stay %s, so Postfix keeps its own search semantics for every parameter.\n", typeList(used, "and"))
	for _, p := range f.Params {
		fmt.Fprintf(w, "postconf -e '%s = %s'\n", p.Name, p.New)
	}
	if len(f.Overrides) == 0 {
		fmt.Fprintf(w, "# master.cf: no change is needed (no service names a %s table with -o).\n", typeList(used, "or"))
	} else {
		fmt.Fprintf(w, "# master.cf: the services that name these tables with -o, pointed at the new files:\n")
		for _, o := range f.Overrides {
			fmt.Fprintf(w, "postconf -P '%s/%s=%s'\n", o.Service, o.Param, strings.ReplaceAll(o.New, ", ", ","))
		}
	}

	fmt.Fprintf(w, "\n# Which front for which map:\n")
	var agents []string
	for _, t := range f.Tables {
		for _, d := range t.Delivery {
			param := d[strings.LastIndexByte(d, '/')+1:]
			agents = append(agents, d+" ("+migrate.DeliveryAgent(param)+"(8))")
		}
	}
	if len(agents) > 0 {
		sort.Strings(agents)
		fmt.Fprintf(w, "#   - %s: %s. socketmap cannot serve them: the delivery agent opens them\n", strings.Join(dedupe(agents), ", "), this)
		fmt.Fprintf(w, "#     as security-sensitive and refuses socketmap (virtual.c:481-492, local.c:914,\n#     dict_sockmap.c:349-352), so %s virtual(8) and local(8), and mail\n#     submitted with sendmail, which smtpd never checks.\n", only)
	}
	fmt.Fprintf(w, "#   - every other map: %s too. Postfix runs its own address search, parent-domain\n", this)
	fmt.Fprintf(w, "#     matching, case folding and extension propagation, so nothing of Postfix's semantics is\n")
	fmt.Fprintf(w, "#     re-created, and one mode serves every daemon. 'mapgate migrate' (socketmap) remains\n")
	fmt.Fprintf(w, "#     for maps you want answered without a host-down state in Postfix:\n")
	read, known := migrate.RetryIntervalRead(f.Version)
	switch {
	case read:
		fmt.Fprintf(w, "#     with Postfix %s an error from mapgate (only when the database is down or too slow,\n#     or the map fails for every key) skips the table for retry_interval = 1 s.\n", f.Version)
	case known:
		fmt.Fprintf(w, "#     Postfix %s does not read retry_interval (3.9 and later do): an error from mapgate\n", f.Version)
		fmt.Fprintf(w, "#     (only when the database is down or too slow, or the map fails for every key; never\n#     for one key) skips the table for 60 s\n")
		fmt.Fprintf(w, "#     in that process, as a down database does today; socketmap's TEMP does not linger.\n")
	default:
		fmt.Fprintf(w, "#     Postfix's version is unknown: 3.9 and later skip the table for retry_interval = 1 s\n#     after an error, older versions for 60 s.\n")
	}
	fmt.Fprintf(w, "\n# To go back:\n")
	for _, p := range f.Params {
		fmt.Fprintf(w, "#   postconf -e '%s = %s'\n", p.Name, strings.Join(strings.Fields(p.Old), " "))
	}
	for _, o := range f.Overrides {
		fmt.Fprintf(w, "#   postconf -P '%s/%s=%s'\n", o.Service, o.Param, o.Old)
	}
	writeLeft(w, f.Left)
}

// writePgSocket says what the PostgreSQL front's unix socket needs: its
// directory, and, for tables a daemon's own pgsql: client looks up, a
// daemon that is not chrooted (libpq takes an absolute directory only).
func writePgSocket(w io.Writer, f *migrate.FrontPlan, s frontSetup) {
	dir := filepath.Dir(strings.TrimPrefix(s.listen, "unix:"))
	fmt.Fprintf(w, "# The PostgreSQL front's socket directory %s must exist: contrib/mapgate-pgsql.socket\n", dir)
	fmt.Fprintf(w, "# makes it; without it: install -d -o mapgate -g postfix -m 0750 %s\n", dir)
	uses, maybe := f.ChrootedUses(migrate.PgSQLFront)
	if len(uses) == 0 {
		return
	}
	who := "master.cf runs " + strings.Join(f.Chrooted, ", ") + " chrooted"
	if maybe {
		who = "if master.cf runs a daemon chrooted (no master.cf was read)"
	}
	fmt.Fprintf(w, "# Warning: %s. libpq takes an absolute socket directory,\n", who)
	fmt.Fprintf(w, "# which a daemon chrooted to the queue directory does not see, and these tables are\n")
	fmt.Fprintf(w, "# looked up by the daemon's own pgsql: client (no proxy:, or a delivery agent's):\n")
	for _, u := range uses {
		fmt.Fprintf(w, "#   %s\n", u)
	}
	fmt.Fprintf(w, "# A chrooted daemon's lookup there fails: make them proxy:pgsql: (proxymap never runs\n")
	fmt.Fprintf(w, "# chrooted; list them in proxy_read_maps), or let the front listen on loopback\n")
	fmt.Fprintf(w, "# (--pgsql-socket inet:127.0.0.1:PORT).\n")
}

func dedupe(s []string) []string {
	var out []string
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}

// randomPassword is the front's password when none is given.
func randomPassword() string {
	b := make([]byte, 18)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
