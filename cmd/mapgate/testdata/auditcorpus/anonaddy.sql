-- Rows for the anonaddy corpus schema (testdata/corpus/anonaddy): one
-- active alias, so that the procedure has something to find.
INSERT INTO aliases (id, user_id, local_part, domain, email, active) VALUES
 ('a1', 'u1', 'shop', 'johndoe.example.com', 'shop@johndoe.example.com', 1);
