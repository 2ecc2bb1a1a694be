package testdb

import (
	"fmt"
	"strings"
)

// User and Password of the read-only account that Schema creates, the kind
// of account an admin's .cf files use.
const (
	User     = "postfix"
	Password = "postfix"
)

// Schema returns SQL that creates a PostfixAdmin-style database named db
// (tables alias, mailbox, alias_domain, domain) with the given character set
// and collation, fills it with a small fixed data set, and grants SELECT on it
// to the read-only user postfix/postfix.
//
// The data set (all databases get the same rows, where the charset can hold them):
//
//	alias bob@example.jp → bob@example.jp
//	alias alice@example.jp → alice@example.jp,alice@example.com
//	alias josé@example.jp → jose@example.jp        (latin1 accent)
//	alias o'brien@example.jp → obrien@example.jp   (a quote in a key)
//	alias @example.com → catchall@example.jp       (catch-all)
//	alias inactive@example.jp, active = 0
//	alias ほげ@example.jp → hoge@example.jp          (utf8mb3 and utf8mb4 only)
//	alias 😀@example.jp → smile@example.jp         (utf8mb4 only)
//	alias_domain example.net → example.jp
//	mailbox bob@example.jp, alice@example.jp
func Schema(db, charset, collation string) string {
	var b strings.Builder
	tbl := fmt.Sprintf("ENGINE=InnoDB DEFAULT CHARSET=%s COLLATE=%s", charset, collation)
	fmt.Fprintf(&b, "CREATE DATABASE IF NOT EXISTS `%s` DEFAULT CHARACTER SET %s COLLATE %s;\n", db, charset, collation)
	fmt.Fprintf(&b, "USE `%s`;\n", db)
	fmt.Fprintf(&b, `CREATE TABLE alias (
  address varchar(255) NOT NULL default '',
  goto text NOT NULL,
  domain varchar(255) NOT NULL default '',
  active tinyint(1) NOT NULL default '1',
  PRIMARY KEY (address)
) %s;
CREATE TABLE mailbox (
  username varchar(255) NOT NULL default '',
  password varchar(255) NOT NULL default '',
  maildir varchar(255) NOT NULL default '',
  local_part varchar(255) NOT NULL default '',
  domain varchar(255) NOT NULL default '',
  active tinyint(1) NOT NULL default '1',
  PRIMARY KEY (username)
) %s;
CREATE TABLE alias_domain (
  alias_domain varchar(255) NOT NULL default '',
  target_domain varchar(255) NOT NULL default '',
  active tinyint(1) NOT NULL default '1',
  PRIMARY KEY (alias_domain)
) %s;
CREATE TABLE domain (
  domain varchar(255) NOT NULL default '',
  active tinyint(1) NOT NULL default '1',
  backupmx tinyint(1) NOT NULL default '0',
  PRIMARY KEY (domain)
) %s;
`, tbl, tbl, tbl, tbl)
	b.WriteString(`INSERT INTO domain (domain) VALUES ('example.jp'),('example.com'),('example.net');
INSERT INTO alias (address, goto, domain, active) VALUES
 ('bob@example.jp','bob@example.jp','example.jp',1),
 ('alice@example.jp','alice@example.jp,alice@example.com','example.jp',1),
 ('josé@example.jp','jose@example.jp','example.jp',1),
 ('o\'brien@example.jp','obrien@example.jp','example.jp',1),
 ('@example.com','catchall@example.jp','example.com',1),
 ('inactive@example.jp','inactive@example.jp','example.jp',0);
INSERT INTO mailbox (username, maildir, local_part, domain) VALUES
 ('bob@example.jp','example.jp/bob/','bob','example.jp'),
 ('alice@example.jp','example.jp/alice/','alice','example.jp');
INSERT INTO alias_domain (alias_domain, target_domain) VALUES ('example.net','example.jp');
`)
	cs := strings.ToLower(charset)
	if strings.HasPrefix(cs, "utf8") {
		b.WriteString("INSERT INTO alias (address, goto, domain) VALUES ('ほげ@example.jp','hoge@example.jp','example.jp');\n")
	}
	if cs == "utf8mb4" {
		b.WriteString("INSERT INTO alias (address, goto, domain) VALUES ('😀@example.jp','smile@example.jp','example.jp');\n")
	}
	b.WriteString(Grant(db))
	return b.String()
}

// Grant creates the read-only user (if needed) and grants it SELECT on db.
func Grant(db string) string {
	return fmt.Sprintf(`CREATE USER IF NOT EXISTS '%[1]s'@'127.0.0.1' IDENTIFIED BY '%[2]s';
CREATE USER IF NOT EXISTS '%[1]s'@'localhost' IDENTIFIED BY '%[2]s';
GRANT SELECT ON `+"`%[3]s`"+`.* TO '%[1]s'@'127.0.0.1';
GRANT SELECT ON `+"`%[3]s`"+`.* TO '%[1]s'@'localhost';
`, User, Password, db)
}

// BulkAliases returns SQL that adds n aliases user<i>@bulk.example to db's
// alias table (goto user<i>@dest.example), in batches.
func BulkAliases(db string, n int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "USE `%s`;\n", db)
	const batch = 2000
	for i := 0; i < n; i += batch {
		b.WriteString("INSERT INTO alias (address, goto, domain) VALUES ")
		for j := i; j < i+batch && j < n; j++ {
			if j > i {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, "('user%d@bulk.example','user%d@dest.example','bulk.example')", j, j)
		}
		b.WriteString(";\n")
	}
	return b.String()
}
