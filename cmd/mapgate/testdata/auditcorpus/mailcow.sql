-- Rows for the mailcow corpus schema (testdata/corpus/mailcow): a catch-all,
-- an alias domain, a sender ACL with send_as = '*' (a row that matches every
-- sender), BCC and recipient maps, a transport, a spam alias.
INSERT INTO domain (domain, description, backupmx, active) VALUES
 ('example.org', 'main', 0, 1), ('münchen.de', 'IDN', 0, 1), ('backup.example', 'backup MX', 1, 1);
INSERT INTO alias_domain (alias_domain, target_domain, active) VALUES ('example.com', 'example.org', 1);
INSERT INTO mailbox (username, password, name, local_part, domain, attributes) VALUES
 ('alice@example.org', 'x', 'Alice', 'alice', 'example.org', '{"mailbox_format": "maildir:", "tls_enforce_in": "1", "tls_enforce_out": "0", "relayhost": "0"}'),
 ('josé@example.org', 'x', 'José', 'josé', 'example.org', '{"mailbox_format": "maildir:", "tls_enforce_in": "0", "tls_enforce_out": "1", "relayhost": "0"}'),
 ('müller@münchen.de', 'x', 'Müller', 'müller', 'münchen.de', '{"mailbox_format": "maildir:", "tls_enforce_in": "0", "tls_enforce_out": "0", "relayhost": "0"}');
INSERT INTO alias (address, goto, domain, active, sender_allowed) VALUES
 ('alice@example.org', 'alice@example.org', 'example.org', 1, 1),
 ('josé@example.org', 'josé@example.org', 'example.org', 1, 1),
 ('info@example.org', 'alice@example.org', 'example.org', 1, 1),
 ('@example.org', 'alice@example.org', 'example.org', 1, 1),
 ('müller@münchen.de', 'müller@münchen.de', 'münchen.de', 1, 1);
INSERT INTO sender_acl (logged_in_as, send_as) VALUES
 ('alice@example.org', 'info@example.org'), ('alice@example.org', '@münchen.de'), ('admin@example.org', '*');
INSERT INTO bcc_maps (local_dest, bcc_dest, domain, type, active) VALUES
 ('josé@example.org', 'archive@example.org', 'example.org', 'rcpt', 1), ('alice@example.org', 'archive@example.org', 'example.org', 'sender', 1);
INSERT INTO recipient_maps (old_dest, new_dest, active) VALUES ('old@example.org', 'alice@example.org', 1);
INSERT INTO transports (destination, nexthop, active) VALUES ('relay.example', '[mx.relay.example]:25', 1);
INSERT INTO spamalias (address, goto, description, validity, permanent) VALUES ('xyz123@example.org', 'alice@example.org', 'shop', 0, 1);
INSERT INTO tls_policy_override (dest, policy, parameters) VALUES ('example.net', 'encrypt', '');
