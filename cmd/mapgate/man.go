package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"strings"
)

// writeMan writes the manual page mapgate(8) as roff (mapgate help man).
// Its synopses, flags and parameters come from the same sources as the
// help texts: the commands table, each command's own -h output (its
// FlagSet), and the params table. So the two cannot drift; the prose sections
// below are the manual's own.
func writeMan(w io.Writer) {
	m := &manWriter{w: w}
	m.raw(`.TH MAPGATE 8 "" "mapgate ` + roffEscape(versionString()) + `" "System Manager's Manual"`)
	m.raw(".SH NAME")
	m.raw(`mapgate \- safe socketmap server for Postfix's MySQL lookup tables`)
	m.raw(".SH SYNOPSIS")
	for _, c := range commands {
		m.raw(".B mapgate " + roffEscape(c.name))
		if c.name != "version" && c.name != "help" {
			m.raw(".RI [ flags ]")
		}
		m.raw(".br")
	}
	m.section("DESCRIPTION", manDescription)

	m.raw(".SH COMMANDS")
	for _, c := range commands {
		m.raw(".SS " + roffEscape(c.name))
		m.text(c.summary)
		if c.name == "version" || c.name == "help" {
			continue
		}
		var buf bytes.Buffer
		run([]string{c.name, "-h"}, io.Discard, &buf)
		m.flagHelp(buf.String())
	}

	m.raw(".SH CONFIGURATION")
	var cfg bytes.Buffer
	configHelp(&cfg)
	m.flagHelp(cfg.String())

	m.section("SOCKET ACTIVATION", manActivation)
	m.section("WHO CAN CONNECT", manSecurity)
	m.section("SIGNALS", manSignals)
	m.section("WHERE MAPGATE STOPS, AND WHAT COVERS THE REST", manOperator)
	m.section("FILES", manFiles)
	m.section("SEE ALSO", manSeeAlso)
}

type manWriter struct{ w io.Writer }

func (m *manWriter) raw(s string) { fmt.Fprintln(m.w, s) }

// text writes prose: one roff line per source line, escaped.
func (m *manWriter) text(s string) {
	for _, l := range strings.Split(strings.TrimSpace(s), "\n") {
		m.raw(roffEscape(strings.TrimSpace(l)))
	}
}

// section writes a titled section of paragraphs (blank-line separated);
// lines beginning "- " are bullets.
func (m *manWriter) section(title, body string) {
	m.raw(".SH " + roffEscape(title))
	for _, para := range strings.Split(strings.TrimSpace(body), "\n\n") {
		if strings.HasPrefix(para, "- ") {
			for _, item := range strings.Split(para, "\n- ") {
				m.raw(`.IP \(bu 2`)
				m.text(strings.TrimPrefix(item, "- "))
			}
			continue
		}
		m.raw(".PP")
		m.text(para)
	}
}

// flagHelp turns the output of a FlagSet's Usage (and of configHelp) into
// roff: a "usage:" line and the text before the first flag as synopsis and
// paragraphs, each "  -name type" / "    \tusage" pair as a tagged
// paragraph, and text after the flags as paragraphs.
func (m *manWriter) flagHelp(help string) {
	sc := bufio.NewScanner(strings.NewReader(help))
	var para []string
	flush := func() {
		if len(para) > 0 {
			m.raw(".PP")
			m.text(strings.Join(para, "\n"))
			para = nil
		}
	}
	inUsage := false
	for sc.Scan() {
		l := sc.Text()
		switch {
		case strings.HasPrefix(l, "usage: ") || inUsage && strings.HasPrefix(l, "       "):
			flush()
			if !inUsage {
				m.raw(".PP")
			}
			inUsage = true
			m.raw(".nf")
			m.raw(roffEscape(strings.TrimSpace(strings.TrimPrefix(l, "usage: "))))
			m.raw(".fi")
		case strings.HasPrefix(l, "    \t"):
			m.text(strings.TrimPrefix(l, "    \t"))
		case strings.HasPrefix(l, "  ") && !strings.HasPrefix(l, "   "):
			flush()
			inUsage = false
			name, usage, _ := strings.Cut(strings.TrimPrefix(l, "  "), "\t")
			m.raw(".TP")
			m.raw(".B " + roffEscape(name))
			if usage != "" {
				m.text(usage)
			}
		case strings.TrimSpace(l) == "":
			inUsage = false
			flush()
		default:
			inUsage = false
			para = append(para, l)
		}
	}
	flush()
}

// roffEscape makes s safe as roff text: backslashes and hyphens escaped, a
// leading control character neutralised, non-ASCII as \[uXXXX].
func roffEscape(s string) string {
	var b strings.Builder
	for i, r := range s {
		switch {
		case r == '\\':
			b.WriteString(`\e`)
		case r == '-':
			b.WriteString(`\-`)
		case i == 0 && (r == '.' || r == '\''):
			b.WriteString(`\&`)
			b.WriteRune(r)
		case r > 0x7e:
			fmt.Fprintf(&b, `\[u%04X]`, r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

const manDescription = `
mapgate answers Postfix's lookups in MySQL or MariaDB tables over Postfix's socketmap protocol
(socketmap_table(5)), from your existing mysql_table(5) files, unchanged. Unlike Postfix's own
mysql: client, it checks each key against the columns it is compared with before it queries, so a
key the column's character set cannot hold (an attack, or a sender's typo) is answered NOTFOUND
without a query, instead of failing the query and marking the database host down for every
recipient. Queries are parameterised; database hosts get circuit breakers and failover.

In main.cf a map becomes socketmap:unix:mapgate/mapgate.sock:NAME, where NAME is a map given to
mapgate serve (--map NAME=FILE, or maps in the configuration file).`

const manActivation = `
Under systemd, mapgate.socket owns the listening sockets and passes them to mapgate.service
(LISTEN_FDS, LISTEN_PID, LISTEN_FDNAMES; sd_listen_fds(3)). mapgate serves every socket it is
given and does not use its listen setting; it never removes an inherited socket file. While
mapgate restarts (an upgrade, systemctl restart, a crash) the sockets stay open, and Postfix's
connections wait in their backlog until the new process accepts them, instead of being refused
and answered 451. Without socket activation mapgate opens the listen endpoints itself.`

const manSecurity = `
A unix socket opened by mapgate gets mode 0660 (socket_mode) and, unless socket_group says
otherwise, the group Postfix's daemons run as: the primary group of postconf -h mail_owner,
normally postfix. mapgate must be root or in that group to give it; otherwise it warns and the
socket keeps mapgate's own group. mapgate.socket creates its socket with the same mode and group.
Other local users cannot connect, so they cannot ask which addresses exist or where their mail goes.

A TCP listener is opt-in. Every local user can connect to one, even on 127.0.0.1: any process on
the host, a compromised web application too. Use one only where Postfix cannot reach the socket.`

const manSignals = `
- SIGHUP re-reads the configuration and every .cf file and swaps the new maps in whole; a broken
configuration is refused and the old one keeps serving. Listeners are not changed by a reload.
- SIGTERM or SIGINT stops accepting, lets lookups in flight finish (bounded by lookup_timeout
plus 2 seconds), and exits 0. A second signal exits at once.`

const manOperator = `
mapgate protects one path: the lookup of an address in a MySQL table. The attacks that frame the
project include others, which Postfix's own features or well-known tools handle:

- SMTP AUTH dictionary attacks: smtpd_client_auth_rate_limit (anvil(8)) caps AUTH commands per
client and time unit (anvil_rate_time_unit); a log watcher such as fail2ban blocks repeat offenders.
- Connection floods from many addresses: postscreen(8) in front of smtpd (postscreen_dnsbl_sites,
postscreen_greet_action, postscreen_pipelining_enable), and anvil(8) limits per client:
smtpd_client_connection_rate_limit, smtpd_client_connection_count_limit,
smtpd_client_message_rate_limit, smtpd_client_recipient_rate_limit.
- Stolen accounts sending through port 587: a policy service (check_policy_service in
smtpd_recipient_restrictions or smtpd_data_restrictions, for example postfwd or policyd) that
limits messages and recipients per SASL login, since anvil counts per client address, not per
account.
- A web shell filling the queue: queue-size monitoring (qshape(1), mailq, or an exporter's queue
gauges, with an alert), and limits on the local submission path (authorized_submit_users).

What mapgate adds on the lookup path: a flood of keys the database cannot hold no longer defers
every recipient, and it becomes visible, in mapgate_keys_rejected_total and the
MapgateRejectedKeyFlood alert (/usr/share/doc/mapgate/alerts.yml), instead of hours later in the
queue.`

const manFiles = `
- /etc/mapgate/mapgate.cf: the configuration (mapgate serve --config).
- /lib/systemd/system/mapgate.socket, /lib/systemd/system/mapgate.service: the systemd units.
- /var/spool/postfix/mapgate/mapgate.sock: the socket, inside Postfix's queue directory.
- /var/spool/postfix/mapgate/mysql.sock, /var/spool/postfix/mapgate/pg/.s.PGSQL.5432: the MySQL and PostgreSQL fronts' sockets (mapgate-mysql.socket, mapgate-pgsql.socket).
- NAME.mapgate.cf beside an admin's NAME.cf: the front .cf that mapgate migrate --via mysql|pgsql|front --write writes (it never overwrites a file it did not write).
- /usr/share/doc/mapgate/alerts.yml: Prometheus alert rules.`

const manSeeAlso = `
postconf(5), mysql_table(5), pgsql_table(5), socketmap_table(5), postscreen(8), anvil(8), qshape(1),
systemd.socket(5), sd_listen_fds(3)`
