-- Rows for the CyberPanel corpus schema (testdata/corpus/cyberpanel): the
-- pairs a latin1_swedish_ci table keeps apart and UCA collations do not
-- (straße/strasse, y/ÿ), and a plain address that ignorable characters
-- would reach (bob).
INSERT INTO e_domains (domain) VALUES ('example.com');
INSERT INTO e_users (email, password, mail, DiskUsage, emailOwner_id) VALUES
 ('straße@example.com', 'x', 'maildir', '0', 'example.com'),
 ('y@example.com', 'x', 'maildir', '0', 'example.com'),
 ('bob@example.com', 'x', 'maildir', '0', 'example.com');
INSERT INTO e_forwardings (source, destination) VALUES
 ('strasse@example.com', 'strasse@elsewhere.example'),
 ('ÿ@example.com', 'ydiaeresis@elsewhere.example'),
 ('bob@example.com', 'bob@elsewhere.example');
