-- usmannasir/cyberpanel mailServer/models.py @ e8a1387e6a1b2dcafd769551065f71738e4accbe
-- CyberPanel publishes its mail tables as Django models, not SQL: these are the
-- statements Django's MySQL backend runs for them (manage.py sqlmigrate), for the
-- tables the Postfix maps read. No character set is given, so the tables take the
-- server's default (latin1_swedish_ci on a server left at its defaults).
-- e_domains' own foreign keys (domainOwner_id, childOwner_id) reference
-- websiteFunctions tables outside the mail schema and are left out.
CREATE TABLE `e_domains` (`domain` varchar(50) NOT NULL PRIMARY KEY, `childOwner_id` integer NULL, `domainOwner_id` integer NULL);
CREATE TABLE `e_users` (`email` varchar(80) NOT NULL PRIMARY KEY, `password` varchar(200) NOT NULL, `mail` varchar(200) NOT NULL, `DiskUsage` varchar(200) NOT NULL, `emailOwner_id` varchar(50) NOT NULL);
CREATE TABLE `e_forwardings` (`id` integer AUTO_INCREMENT NOT NULL PRIMARY KEY, `source` varchar(80) NOT NULL, `destination` longtext NOT NULL);
CREATE TABLE `e_transport` (`id` integer AUTO_INCREMENT NOT NULL PRIMARY KEY, `domain` varchar(128) NOT NULL UNIQUE, `transport` varchar(128) NOT NULL);
ALTER TABLE `e_users` ADD CONSTRAINT `e_users_emailOwner_id_4f9a1c8e_fk_e_domains_domain` FOREIGN KEY (`emailOwner_id`) REFERENCES `e_domains` (`domain`);
