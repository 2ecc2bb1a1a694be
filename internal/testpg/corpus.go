package testpg

import (
	"fmt"
	"regexp"
	"strings"
)

// The corpus of published pgsql_table(5) configurations
// (testdata/corpus/*-pgsql): a small data set in each project's own
// tables, the keys every file is asked, and the file's connection filled
// in for a private server. Shared by pgsqlcf's corpus test and the
// PostgreSQL engine's differential test.

// corpusUsers are the localparts every corpus database gets a mailbox (and
// an alias to it) for, in domain example.net, with example.org an alias
// domain of it. LATIN1 databases get only those Latin-1 can hold.
func corpusUsers(utf8 bool) []string {
	u := []string{"bob", "josé"}
	if utf8 {
		u = append(u, "ユーザー")
	}
	return u
}

// CorpusSeed is a small data set in each project's own tables.
func CorpusSeed(project string, utf8 bool) string {
	var b strings.Builder
	q := func(s string) string { return strings.ReplaceAll(s, "'", "''") }
	switch project {
	case "iredmail":
		b.WriteString("INSERT INTO domain (domain) VALUES ('example.net');\n")
		b.WriteString("INSERT INTO domain (domain, backupmx, transport) VALUES ('backup.example', 1, 'relay:[mx.example]');\n")
		b.WriteString("INSERT INTO alias_domain (alias_domain, target_domain) VALUES ('example.org', 'example.net');\n")
		b.WriteString("INSERT INTO forwardings (address, forwarding, domain, dest_domain) VALUES ('example.net', 'catchall@example.net', 'example.net', 'example.net');\n")
		for _, u := range corpusUsers(utf8) {
			a := q(u) + "@example.net"
			fmt.Fprintf(&b, "INSERT INTO mailbox (username, domain, storagenode, maildir) VALUES ('%s', 'example.net', '/var/vmail', 'example.net/%s');\n", a, q(u))
			fmt.Fprintf(&b, "INSERT INTO forwardings (address, forwarding, domain, dest_domain) VALUES ('%s', '%s', 'example.net', 'example.net');\n", a, a)
			fmt.Fprintf(&b, "INSERT INTO recipient_bcc_user (username, bcc_address, domain) VALUES ('%s', 'archive@example.net', 'example.net');\n", a)
			fmt.Fprintf(&b, "INSERT INTO sender_relayhost (account, relayhost) VALUES ('%s', '[relay.example]:587');\n", a)
		}
	case "postfixadmin":
		b.WriteString("INSERT INTO domain (domain, transport) VALUES ('example.net', 'virtual'), ('example.org', 'virtual');\n")
		b.WriteString("INSERT INTO domain (domain, backupmx, transport) VALUES ('backup.example', true, 'relay:[mx.example]');\n")
		b.WriteString("INSERT INTO alias_domain (alias_domain, target_domain) VALUES ('example.org', 'example.net');\n")
		b.WriteString("INSERT INTO alias (address, goto, domain) VALUES ('@example.net', 'catchall@example.net', 'example.net');\n")
		for _, u := range corpusUsers(utf8) {
			a := q(u) + "@example.net"
			fmt.Fprintf(&b, "INSERT INTO mailbox (username, maildir, quota, domain, local_part) VALUES ('%s', 'example.net/%s/', 1024, 'example.net', '%s');\n", a, q(u), q(u))
			fmt.Fprintf(&b, "INSERT INTO alias (address, goto, domain) VALUES ('%s', '%s', 'example.net');\n", a, a)
		}
	case "modoboa":
		b.WriteString("INSERT INTO admin_domain (id, name, quota, enabled, type) VALUES (1, 'example.net', 0, true, 'domain'), (2, 'relay.example', 0, true, 'relaydomain');\n")
		b.WriteString("INSERT INTO admin_domainalias (name, target_id, enabled) VALUES ('example.org', 1, true);\n")
		b.WriteString("INSERT INTO transport_transport (pattern, service, next_hop) VALUES ('relay.example', 'relay', '[mx.relay.example]');\n")
		b.WriteString("INSERT INTO relaydomains_recipientaccess (pattern, action) VALUES ('relay.example', 'reject_unverified_recipient');\n")
		for i, u := range corpusUsers(utf8) {
			id := i + 1
			a := q(u) + "@example.net"
			fmt.Fprintf(&b, "INSERT INTO core_user (id, username, email, is_active) VALUES (%d, '%s', '%s', true);\n", id, a, a)
			fmt.Fprintf(&b, "INSERT INTO admin_mailbox (id, address, quota, domain_id, user_id) VALUES (%d, '%s', 0, 1, %d);\n", id, q(u), id)
			fmt.Fprintf(&b, "INSERT INTO admin_alias (id, address, domain_id, enabled, internal) VALUES (%d, '%s', 1, true, true);\n", id, a)
			fmt.Fprintf(&b, "INSERT INTO modoboa_admin_aliasrecipient (address, alias_id, r_mailbox_id) VALUES ('%s', %d, %d);\n", a, id, id)
			fmt.Fprintf(&b, "INSERT INTO admin_senderaddress (address, mailbox_id) VALUES ('%s', %d);\n", strings.Replace(a, "@example.net", "@example.org", 1), id)
		}
		b.WriteString("INSERT INTO admin_mailboxoperation (mailbox_id, type, argument) VALUES (1, 'rename', 'x');\n")
	default:
		panic("no seed for " + project)
	}
	return b.String()
}

// CorpusASCIIKeys and CorpusOtherKeys are the lookups every corpus file
// gets; the ASCII ones are those every Postfix version sends faithfully.
var (
	CorpusASCIIKeys = []string{
		"bob@example.net", "bob@example.org", "nobody@example.net", "@example.net",
		"example.net", "example.org", "backup.example", "relay.example", "bob@relay.example",
		"bob", "o'brien@example.net", "a+b@example.net", "BOB@EXAMPLE.NET",
	}
	CorpusOtherKeys = []string{"josé@example.net", "ユーザー@example.net", "ユーザー@example.org", "😀@example.net", "\xe9@example.net"}
)

// cfConn matches the connection parameters of a published .cf file.
var cfConn = regexp.MustCompile(`(?m)^(hosts|user|password|dbname)(\s*)=.*$`)

// Instantiate fills in the connection parameters of a published .cf file
// for database db of s (TCP, the read-only role).
func Instantiate(text string, s *Server, db string) string {
	return cfConn.ReplaceAllStringFunc(text, func(line string) string {
		name := strings.TrimSpace(line[:strings.IndexByte(line, '=')])
		val := map[string]string{"hosts": fmt.Sprintf("inet:127.0.0.1:%d", s.Port), "user": User, "password": Password, "dbname": db}[name]
		return name + " = " + val
	})
}
