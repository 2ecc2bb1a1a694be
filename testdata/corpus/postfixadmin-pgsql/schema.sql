-- PostfixAdmin PostgreSQL schema, mail tables only, as public/upgrade.php
-- builds it on a fresh install: the CREATE TABLE statements of
-- upgrade_2_pgsql (domain, alias, mailbox) and upgrade_438_pgsql
-- (alias_domain), then the later pgsql changes to those tables
-- (upgrade_495_pgsql: mailbox.local_part; upgrade_968_pgsql: bigint quotas).
-- table_by_key('x') is the plain table name x (no database_prefix); the
-- statements are verbatim otherwise.
--
-- Source: github.com/postfixadmin/postfixadmin, public/upgrade.php
-- Commit: 65b10f7285524bc6753f604bd11ff3c3de5cbf97 (2026-08-07)

-- upgrade_2_pgsql
            CREATE TABLE domain (
                domain character varying(255) NOT NULL,
                description character varying(255) NOT NULL default '',
                aliases integer NOT NULL default 0,
                mailboxes integer NOT NULL default 0,
                maxquota integer NOT NULL default 0,
                quota integer NOT NULL default 0,
                transport character varying(255) default NULL,
                backupmx boolean NOT NULL default false,
                created timestamp with time zone default now(),
                modified timestamp with time zone default now(),
                active boolean NOT NULL default true,
                Constraint "domain_key" Primary Key ("domain")
            );
CREATE INDEX domain_domain_active ON domain(domain,active);
COMMENT ON TABLE domain IS 'Postfix Admin - Virtual Domains';

            CREATE TABLE alias (
             address character varying(255) NOT NULL,
             goto text NOT NULL,
             domain character varying(255) NOT NULL REFERENCES "domain",
             created timestamp with time zone default now(),
             modified timestamp with time zone default now(),
             active boolean NOT NULL default true,
             Constraint "alias_key" Primary Key ("address")
            );
CREATE INDEX alias_address_active ON alias(address,active);
COMMENT ON TABLE alias IS 'Postfix Admin - Virtual Aliases';

            CREATE TABLE mailbox (
                 username character varying(255) NOT NULL,
                 password character varying(255) NOT NULL default '',
                 name character varying(255) NOT NULL default '',
                 maildir character varying(255) NOT NULL default '',
                 quota integer NOT NULL default 0,
                 domain character varying(255) NOT NULL REFERENCES "domain",
                 created timestamp with time zone default now(),
                 modified timestamp with time zone default now(),
                 active boolean NOT NULL default true,
                 Constraint "mailbox_key" Primary Key ("username")
                );
CREATE INDEX mailbox_username_active ON mailbox(username,active);
COMMENT ON TABLE mailbox IS 'Postfix Admin - Virtual Mailboxes';

-- upgrade_438_pgsql
        CREATE TABLE alias_domain (
            alias_domain character varying(255) NOT NULL REFERENCES domain(domain) ON DELETE CASCADE,
            target_domain character varying(255) NOT NULL REFERENCES domain(domain) ON DELETE CASCADE,
            created timestamp with time zone default now(),
            modified timestamp with time zone default now(),
            active boolean NOT NULL default true, 
            PRIMARY KEY(alias_domain));
CREATE INDEX alias_domain_active ON alias_domain(alias_domain,active);
COMMENT ON TABLE alias_domain IS 'Postfix Admin - Domain Aliases';

-- upgrade_495_pgsql
ALTER TABLE mailbox add column local_part varchar(255) ;
UPDATE mailbox SET local_part = substring(username from '^(.*)@');
ALTER TABLE mailbox alter column local_part SET NOT NULL;

-- upgrade_968_pgsql
ALTER TABLE domain  ALTER COLUMN quota    type bigint;
ALTER TABLE domain  ALTER COLUMN maxquota type bigint;
ALTER TABLE mailbox ALTER COLUMN quota    type bigint;
