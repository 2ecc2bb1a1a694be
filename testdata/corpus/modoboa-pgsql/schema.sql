-- Modoboa's mail tables as Django's PostgreSQL backend creates them from the
-- models, reduced to the columns the Postfix maps read (plus keys). Modoboa
-- publishes no SQL schema: its tables come from Django migrations. Types as
-- Django maps the fields: AutoField -> serial (DEFAULT_AUTO_FIELD of
-- modoboa/core/commands/templates/settings.py.tpl), CharField(max_length=n)
-- -> varchar(n), EmailField -> varchar(254), PositiveIntegerField -> integer
-- CHECK (>= 0), BooleanField -> boolean, DateTimeField -> timestamp with
-- time zone, TextField -> text, ForeignKey/OneToOneField -> integer.
--
-- Source: github.com/modoboa/modoboa, modoboa/core/models.py (User),
-- modoboa/admin/models/{domain,domain_alias,alias,mailbox}.py,
-- modoboa/relaydomains/models.py, modoboa/transport/models.py
-- Commit: 9ec749703cde97636ea5a9db95f4accea63b8a87

CREATE TABLE core_user (
    id serial PRIMARY KEY,
    username varchar(254) NOT NULL UNIQUE,
    email varchar(254) NOT NULL,
    is_active boolean NOT NULL
);
CREATE INDEX core_user_email ON core_user (email);
CREATE INDEX core_user_email_is_active ON core_user (email, is_active);

CREATE TABLE transport_transport (
    id serial PRIMARY KEY,
    pattern varchar(253) NOT NULL UNIQUE,
    service varchar(30) NOT NULL,
    next_hop varchar(100) NOT NULL
);

CREATE TABLE admin_domain (
    id serial PRIMARY KEY,
    name varchar(253) NOT NULL UNIQUE,
    quota integer NOT NULL CHECK (quota >= 0),
    enabled boolean NOT NULL,
    type varchar(20) NOT NULL,
    transport_id integer NULL UNIQUE REFERENCES transport_transport (id)
);

CREATE TABLE admin_domainalias (
    id serial PRIMARY KEY,
    name varchar(100) NOT NULL UNIQUE,
    target_id integer NOT NULL REFERENCES admin_domain (id),
    enabled boolean NOT NULL
);

CREATE TABLE admin_mailbox (
    id serial PRIMARY KEY,
    address varchar(252) NOT NULL,
    quota integer NOT NULL CHECK (quota >= 0),
    domain_id integer NOT NULL REFERENCES admin_domain (id),
    user_id integer NOT NULL UNIQUE REFERENCES core_user (id)
);

CREATE TABLE admin_alias (
    id serial PRIMARY KEY,
    address varchar(254) NOT NULL,
    domain_id integer NULL REFERENCES admin_domain (id),
    enabled boolean NOT NULL,
    internal boolean NOT NULL,
    expire_at timestamp with time zone NULL
);

CREATE TABLE modoboa_admin_aliasrecipient (
    id serial PRIMARY KEY,
    address varchar(254) NOT NULL,
    alias_id integer NOT NULL REFERENCES admin_alias (id),
    r_mailbox_id integer NULL REFERENCES admin_mailbox (id),
    r_alias_id integer NULL REFERENCES admin_alias (id)
);

CREATE TABLE admin_senderaddress (
    id serial PRIMARY KEY,
    address varchar(254) NOT NULL,
    mailbox_id integer NOT NULL REFERENCES admin_mailbox (id)
);

CREATE TABLE admin_mailboxoperation (
    id serial PRIMARY KEY,
    mailbox_id integer NULL REFERENCES admin_mailbox (id),
    type varchar(20) NOT NULL,
    argument text NOT NULL
);

CREATE TABLE relaydomains_recipientaccess (
    id serial PRIMARY KEY,
    pattern varchar(254) NOT NULL UNIQUE,
    action varchar(40) NOT NULL
);
