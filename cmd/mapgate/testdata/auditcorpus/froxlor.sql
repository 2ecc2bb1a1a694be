-- Rows for the Froxlor corpus schema (testdata/corpus/froxlor): a mailbox
-- and an address that forwards to it.
INSERT INTO mail_users (email, username, homedir, maildir, domainid, customerid) VALUES
 ('alice@example.org', 'alice@example.org', '/var/customers/mail/', 'c1/example.org/alice/', 1, 1);
INSERT INTO mail_virtual (email, email_full, destination, domainid, customerid, popaccountid) VALUES
 ('alice@example.org', 'alice@example.org', 'alice@example.org', 1, 1, 1),
 ('info@example.org', 'info@example.org', 'alice@example.org', 1, 1, 0);
