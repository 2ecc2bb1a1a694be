-- Rows for the ISPConfig corpus schema (testdata/corpus/ispconfig), server_id 1:
-- mailboxes, an alias, a forward, a catch-all, an alias domain, access rules.
INSERT INTO mail_domain (server_id, domain, active) VALUES (1, 'example.org', 'y'), (1, 'münchen.de', 'y'), (1, 'example.com', 'y');
INSERT INTO mail_user (server_id, email, login, password, name, uid, gid, maildir, homedir, cc, sender_cc, postfix, disabledeliver, disablesmtp, forward_in_lda) VALUES
 (1, 'alice@example.org', 'alice@example.org', 'x', 'Alice', 5000, 5000, '/var/vmail/example.org/alice', '/var/vmail', '', '', 'y', 'n', 'n', 'n'),
 (1, 'josé@example.org', 'jose', 'x', 'José', 5000, 5000, '/var/vmail/example.org/jose', '/var/vmail', 'jose.copy@example.net', 'archive@example.org', 'y', 'n', 'n', 'n'),
 (1, 'müller@münchen.de', 'mueller', 'x', 'Müller', 5000, 5000, '/var/vmail/münchen.de/mueller', '/var/vmail', '', '', 'y', 'n', 'n', 'n');
INSERT INTO mail_forwarding (server_id, source, destination, type, active, allow_send_as, greylisting) VALUES
 (1, 'jose@example.org', 'jose.plain@example.net', 'alias', 'y', 'y', 'n'),
 (1, 'info@münchen.de', 'müller@münchen.de', 'forward', 'y', 'n', 'y'),
 (1, '@example.org', 'alice@example.org', 'catchall', 'y', 'n', 'n'),
 (1, '@example.com', '@example.org', 'aliasdomain', 'y', 'n', 'n');
INSERT INTO mail_access (server_id, source, access, type, active) VALUES
 (1, 'spam.example', 'REJECT', 'client', 'y'), (1, 'josé@example.org', 'OK', 'sender', 'y'), (1, 'blocked@example.org', 'REJECT', 'recipient', 'y');
INSERT INTO mail_transport (server_id, domain, transport, active) VALUES (1, 'relay.example', 'smtp:[mx.relay.example]', 'y');
INSERT INTO mail_relay_recipient (server_id, source, access, active) VALUES (1, 'josé@relay.example', 'OK', 'y');
