-- Rows for the iRedMail corpus schema (testdata/corpus/iredmail). Its
-- utf8mb4_general_ci ignores accents, so jose@ and josé@ cannot both own a
-- mailbox; forwardings keep both (address, forwarding) pairs.
INSERT INTO domain (domain, transport, backupmx, active) VALUES
 ('example.org', 'dovecot', 0, 1), ('münchen.de', 'dovecot', 0, 1), ('backup.example', 'relay:[mx.backup.example]', 1, 1);
INSERT INTO alias_domain (alias_domain, target_domain, active) VALUES ('example.com', 'example.org', 1);
INSERT INTO mailbox (username, password, name, storagebasedirectory, storagenode, maildir, domain, transport) VALUES
 ('alice@example.org', 'x', 'Alice', '/var/vmail', 'vmail1', 'example.org/a/l/i/alice', 'example.org', ''),
 ('josé@example.org', 'x', 'José', '/var/vmail', 'vmail1', 'example.org/j/o/s/jose', 'example.org', ''),
 ('müller@münchen.de', 'x', 'Müller', '/var/vmail', 'vmail1', 'münchen.de/m/u/l/mueller', 'münchen.de', 'smtp:[relay.example]');
INSERT INTO forwardings (address, forwarding, domain, dest_domain, is_forwarding, is_alias, is_list) VALUES
 ('alice@example.org', 'alice@example.org', 'example.org', 'example.org', 1, 0, 0),
 ('josé@example.org', 'josé@example.org', 'example.org', 'example.org', 1, 0, 0),
 ('jose@example.org', 'jose.plain@example.org', 'example.org', 'example.org', 0, 1, 0),
 ('müller@münchen.de', 'müller@münchen.de', 'münchen.de', 'münchen.de', 1, 0, 0),
 ('team@example.org', 'alice@example.org', 'example.org', 'example.org', 0, 0, 1),
 ('example.org', 'catchall@example.org', 'example.org', 'example.org', 0, 0, 0);
INSERT INTO maillists (address, domain, transport, mlid) VALUES ('list@example.org', 'example.org', 'mlmmj:example.org/list', 'x1');
INSERT INTO sender_bcc_domain (domain, bcc_address) VALUES ('example.org', 'archive@example.org');
INSERT INTO recipient_bcc_user (username, bcc_address, domain) VALUES ('josé@example.org', 'audit@example.org', 'example.org');
INSERT INTO sender_relayhost (account, relayhost) VALUES ('@münchen.de', '[smtp.münchen.de]:587'), ('alice@example.org', '[smtp.example.org]:587');
