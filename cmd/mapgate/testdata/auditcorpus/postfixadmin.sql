-- Rows for the PostfixAdmin corpus schema (testdata/corpus/postfixadmin):
-- accented twins (jose/josé, muller/müller), a stored mixed-case address,
-- catch-alls, an alias domain, an inactive alias, DKIM keys tied to domains.
INSERT INTO domain (domain, description, transport, active) VALUES
 ('example.org', 'main', 'virtual', 1),
 ('münchen.de', 'IDN in Unicode', 'virtual', 1),
 ('example.net', 'catch-all only', 'virtual', 1),
 ('relay.example', 'relayed', 'relay:[mx.relay.example]', 1),
 ('old.example', 'inactive', 'virtual', 0);
INSERT INTO alias (address, goto, domain, active) VALUES
 ('postmaster@example.org', 'admin@example.org', 'example.org', 1),
 ('jose@example.org', 'jose.plain@example.org', 'example.org', 1),
 ('josé@example.org', 'jose.accent@example.org', 'example.org', 1),
 ('Alice@Example.org', 'alice@example.org', 'example.org', 1),
 ('straße@example.org', 'strasse@example.org', 'example.org', 1),
 ('zoë@example.org', 'zoe@example.org', 'example.org', 1),
 ('inactive@example.org', 'nobody@example.org', 'example.org', 0),
 ('@example.org', 'catchall@example.org', 'example.org', 1),
 ('info@münchen.de', 'info@example.org', 'münchen.de', 1),
 ('müller@münchen.de', 'mueller@example.org', 'münchen.de', 1),
 ('muller@münchen.de', 'muller@example.org', 'münchen.de', 1),
 ('@example.net', 'catchall-net@example.org', 'example.net', 1);
INSERT INTO alias_domain (alias_domain, target_domain, active) VALUES
 ('example.com', 'example.org', 1),
 ('münchen.example', 'münchen.de', 1);
INSERT INTO mailbox (username, password, name, maildir, quota, local_part, domain, active) VALUES
 ('alice@example.org', 'x', 'Alice', 'example.org/alice/', 0, 'alice', 'example.org', 1),
 ('jose@example.org', 'x', 'Jose', 'example.org/jose/', 0, 'jose', 'example.org', 1),
 ('josé@example.org', 'x', 'José', 'example.org/jose2/', 0, 'josé', 'example.org', 1),
 ('müller@münchen.de', 'x', 'Müller', 'xn--mnchen-3ya.de/mueller/', 1024, 'müller', 'münchen.de', 1),
 ('gone@example.org', 'x', 'Gone', 'example.org/gone/', 0, 'gone', 'example.org', 0);
INSERT INTO dkim (domain_name, description, selector, private_key, public_key) VALUES
 ('example.org', 'main key', 'default', 'priv', 'pub'),
 ('münchen.de', '', 'default', 'priv', 'pub');
INSERT INTO dkim_signing (author, dkim_id) VALUES ('example.org', 1), ('münchen.de', 2), ('josé@example.org', 1);
