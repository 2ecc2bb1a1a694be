-- mailcow-dockerized schema, the tables the Postfix .cf queries read plus the
-- tables whose foreign keys reference domain or mailbox.
-- Source: github.com/mailcow/mailcow-dockerized, data/web/inc/init_db.inc.php
-- Commit: 06424670fa5d60fee851f58bfc49f66086d5f0a6 (db_version 19022026_1220)
-- Built with php2sql.py (this directory): the same string assembly as
-- init_db_schema()'s 'Create table if it is missing' branch, one statement per
-- table. mailcow runs mariadb:10.11 with character-set-server = utf8mb4,
-- collation-server = utf8mb4_general_ci (data/conf/mysql/my.cnf).

CREATE TABLE IF NOT EXISTS `relayhosts` (`id` INT NOT NULL AUTO_INCREMENT,`hostname` VARCHAR(255) NOT NULL,`username` VARCHAR(255) NOT NULL,`password` VARCHAR(255) NOT NULL,`active` TINYINT(1) NOT NULL DEFAULT '1',PRIMARY KEY (`id`),KEY `hostname` (`hostname`)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 ROW_FORMAT=DYNAMIC;

CREATE TABLE IF NOT EXISTS `transports` (`id` INT NOT NULL AUTO_INCREMENT,`destination` VARCHAR(255) NOT NULL,`nexthop` VARCHAR(255) NOT NULL,`username` VARCHAR(255) NOT NULL DEFAULT '',`password` VARCHAR(255) NOT NULL DEFAULT '',`is_mx_based` TINYINT(1) NOT NULL DEFAULT '0',`active` TINYINT(1) NOT NULL DEFAULT '1',PRIMARY KEY (`id`),KEY `destination` (`destination`),KEY `nexthop` (`nexthop`)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 ROW_FORMAT=DYNAMIC;

CREATE TABLE IF NOT EXISTS `alias` (`id` INT NOT NULL AUTO_INCREMENT,`address` VARCHAR(255) NOT NULL,`goto` TEXT NOT NULL,`domain` VARCHAR(255) NOT NULL,`created` DATETIME(0) NOT NULL DEFAULT NOW(0),`modified` DATETIME ON UPDATE CURRENT_TIMESTAMP,`private_comment` TEXT,`public_comment` TEXT,`sogo_visible` TINYINT(1) NOT NULL DEFAULT '1',`internal` TINYINT(1) NOT NULL DEFAULT '0',`sender_allowed` TINYINT(1) NOT NULL DEFAULT '1',`active` TINYINT(1) NOT NULL DEFAULT '1',PRIMARY KEY (`id`),UNIQUE KEY `address` (`address`),KEY `domain` (`domain`)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 ROW_FORMAT=DYNAMIC;

CREATE TABLE IF NOT EXISTS `sender_acl` (`id` INT NOT NULL AUTO_INCREMENT,`logged_in_as` VARCHAR(255) NOT NULL,`send_as` VARCHAR(255) NOT NULL,`external` TINYINT(1) NOT NULL DEFAULT '0',PRIMARY KEY (`id`)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 ROW_FORMAT=DYNAMIC;

CREATE TABLE IF NOT EXISTS `domain` (`domain` VARCHAR(255) NOT NULL,`description` VARCHAR(255),`aliases` INT(10) NOT NULL DEFAULT '0',`mailboxes` INT(10) NOT NULL DEFAULT '0',`defquota` BIGINT(20) NOT NULL DEFAULT '3072',`maxquota` BIGINT(20) NOT NULL DEFAULT '102400',`quota` BIGINT(20) NOT NULL DEFAULT '102400',`relayhost` VARCHAR(255) NOT NULL DEFAULT '0',`backupmx` TINYINT(1) NOT NULL DEFAULT '0',`gal` TINYINT(1) NOT NULL DEFAULT '1',`relay_all_recipients` TINYINT(1) NOT NULL DEFAULT '0',`relay_unknown_only` TINYINT(1) NOT NULL DEFAULT '0',`created` DATETIME(0) NOT NULL DEFAULT NOW(0),`modified` DATETIME ON UPDATE CURRENT_TIMESTAMP,`active` TINYINT(1) NOT NULL DEFAULT '1',PRIMARY KEY (`domain`)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 ROW_FORMAT=DYNAMIC;

CREATE TABLE IF NOT EXISTS `tags_domain` (`tag_name` VARCHAR(255) NOT NULL,`domain` VARCHAR(255) NOT NULL,FOREIGN KEY `fk_tags_domain` (domain) REFERENCES `domain` (`domain`)
                ON DELETE CASCADE ON UPDATE NO ACTION,UNIQUE KEY `tag_name` (`tag_name`, `domain`)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 ROW_FORMAT=DYNAMIC;

CREATE TABLE IF NOT EXISTS `tls_policy_override` (`id` INT NOT NULL AUTO_INCREMENT,`dest` VARCHAR(255) NOT NULL,`policy` ENUM('none', 'may', 'encrypt', 'dane', 'dane-only', 'fingerprint', 'verify', 'secure') NOT NULL,`parameters` VARCHAR(255) DEFAULT '',`created` DATETIME(0) NOT NULL DEFAULT NOW(0),`modified` DATETIME ON UPDATE CURRENT_TIMESTAMP,`active` TINYINT(1) NOT NULL DEFAULT '1',PRIMARY KEY (`id`),UNIQUE KEY `dest` (`dest`)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 ROW_FORMAT=DYNAMIC;

CREATE TABLE IF NOT EXISTS `mailbox` (`username` VARCHAR(255) NOT NULL,`password` VARCHAR(255) NOT NULL,`name` VARCHAR(255),`description` VARCHAR(255),`mailbox_path_prefix` VARCHAR(150) DEFAULT '/var/vmail/',`quota` BIGINT(20) NOT NULL DEFAULT '102400',`local_part` VARCHAR(255) NOT NULL,`domain` VARCHAR(255) NOT NULL,`attributes` JSON,`custom_attributes` JSON NOT NULL DEFAULT ('{}'),`kind` VARCHAR(100) NOT NULL DEFAULT '',`multiple_bookings` INT NOT NULL DEFAULT -1,`authsource` ENUM('mailcow', 'keycloak', 'generic-oidc', 'ldap') DEFAULT 'mailcow',`created` DATETIME(0) NOT NULL DEFAULT NOW(0),`modified` DATETIME ON UPDATE CURRENT_TIMESTAMP,`active` TINYINT(1) NOT NULL DEFAULT '1',PRIMARY KEY (`username`),KEY `domain` (`domain`),KEY `kind` (`kind`)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 ROW_FORMAT=DYNAMIC;

CREATE TABLE IF NOT EXISTS `tags_mailbox` (`tag_name` VARCHAR(255) NOT NULL,`username` VARCHAR(255) NOT NULL,FOREIGN KEY `fk_tags_mailbox` (username) REFERENCES `mailbox` (`username`)
                ON DELETE CASCADE ON UPDATE NO ACTION,UNIQUE KEY `tag_name` (`tag_name`, `username`)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 ROW_FORMAT=DYNAMIC;

CREATE TABLE IF NOT EXISTS `sieve_filters` (`id` INT NOT NULL AUTO_INCREMENT,`username` VARCHAR(255) NOT NULL,`script_desc` VARCHAR(255) NOT NULL,`script_name` ENUM('active','inactive'),`script_data` TEXT NOT NULL,`filter_type` ENUM('postfilter','prefilter'),`created` DATETIME(0) NOT NULL DEFAULT NOW(0),`modified` DATETIME ON UPDATE CURRENT_TIMESTAMP,PRIMARY KEY (`id`),KEY `username` (`username`),KEY `script_desc` (`script_desc`),FOREIGN KEY `fk_username_sieve_global_before` (username) REFERENCES `mailbox` (`username`)
                ON DELETE CASCADE ON UPDATE NO ACTION) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 ROW_FORMAT=DYNAMIC;

CREATE TABLE IF NOT EXISTS `app_passwd` (`id` INT NOT NULL AUTO_INCREMENT,`name` VARCHAR(255) NOT NULL,`mailbox` VARCHAR(255) NOT NULL,`domain` VARCHAR(255) NOT NULL,`password` VARCHAR(255) NOT NULL,`created` DATETIME(0) NOT NULL DEFAULT NOW(0),`modified` DATETIME ON UPDATE CURRENT_TIMESTAMP,`imap_access` TINYINT(1) NOT NULL DEFAULT '1',`smtp_access` TINYINT(1) NOT NULL DEFAULT '1',`dav_access` TINYINT(1) NOT NULL DEFAULT '1',`eas_access` TINYINT(1) NOT NULL DEFAULT '1',`pop3_access` TINYINT(1) NOT NULL DEFAULT '1',`sieve_access` TINYINT(1) NOT NULL DEFAULT '1',`active` TINYINT(1) NOT NULL DEFAULT '1',PRIMARY KEY (`id`),KEY `mailbox` (`mailbox`),KEY `password` (`password`),KEY `domain` (`domain`),FOREIGN KEY `fk_username_app_passwd` (mailbox) REFERENCES `mailbox` (`username`)
                ON DELETE CASCADE ON UPDATE NO ACTION) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 ROW_FORMAT=DYNAMIC;

CREATE TABLE IF NOT EXISTS `user_acl` (`username` VARCHAR(255) NOT NULL,`spam_alias` TINYINT(1) NOT NULL DEFAULT '1',`tls_policy` TINYINT(1) NOT NULL DEFAULT '1',`spam_score` TINYINT(1) NOT NULL DEFAULT '1',`spam_policy` TINYINT(1) NOT NULL DEFAULT '1',`delimiter_action` TINYINT(1) NOT NULL DEFAULT '1',`syncjobs` TINYINT(1) NOT NULL DEFAULT '0',`eas_reset` TINYINT(1) NOT NULL DEFAULT '1',`sogo_profile_reset` TINYINT(1) NOT NULL DEFAULT '0',`pushover` TINYINT(1) NOT NULL DEFAULT '1',`quarantine` TINYINT(1) NOT NULL DEFAULT '1',`quarantine_attachments` TINYINT(1) NOT NULL DEFAULT '1',`quarantine_notification` TINYINT(1) NOT NULL DEFAULT '1',`quarantine_category` TINYINT(1) NOT NULL DEFAULT '1',`app_passwds` TINYINT(1) NOT NULL DEFAULT '1',`pw_reset` TINYINT(1) NOT NULL DEFAULT '1',PRIMARY KEY (`username`),FOREIGN KEY `fk_username` (username) REFERENCES `mailbox` (`username`)
                ON DELETE CASCADE ON UPDATE NO ACTION) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 ROW_FORMAT=DYNAMIC;

CREATE TABLE IF NOT EXISTS `alias_domain` (`alias_domain` VARCHAR(255) NOT NULL,`target_domain` VARCHAR(255) NOT NULL,`created` DATETIME(0) NOT NULL DEFAULT NOW(0),`modified` DATETIME ON UPDATE CURRENT_TIMESTAMP,`active` TINYINT(1) NOT NULL DEFAULT '1',PRIMARY KEY (`alias_domain`),KEY `active` (`active`),KEY `target_domain` (`target_domain`)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 ROW_FORMAT=DYNAMIC;

CREATE TABLE IF NOT EXISTS `spamalias` (`address` VARCHAR(255) NOT NULL,`goto` TEXT NOT NULL,`description` TEXT NOT NULL,`created` DATETIME(0) NOT NULL DEFAULT NOW(0),`modified` DATETIME ON UPDATE CURRENT_TIMESTAMP,`validity` INT(11),`permanent` TINYINT(1) NOT NULL DEFAULT '0',PRIMARY KEY (`address`)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 ROW_FORMAT=DYNAMIC;

CREATE TABLE IF NOT EXISTS `bcc_maps` (`id` INT NOT NULL AUTO_INCREMENT,`local_dest` VARCHAR(255) NOT NULL,`bcc_dest` VARCHAR(255) NOT NULL,`domain` VARCHAR(255) NOT NULL,`type` ENUM('sender','rcpt'),`created` DATETIME(0) NOT NULL DEFAULT NOW(0),`modified` DATETIME ON UPDATE CURRENT_TIMESTAMP,`active` TINYINT(1) NOT NULL DEFAULT '0',PRIMARY KEY (`id`),KEY `local_dest` (`local_dest`)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 ROW_FORMAT=DYNAMIC;

CREATE TABLE IF NOT EXISTS `recipient_maps` (`id` INT NOT NULL AUTO_INCREMENT,`old_dest` VARCHAR(255) NOT NULL,`new_dest` VARCHAR(255) NOT NULL,`created` DATETIME(0) NOT NULL DEFAULT NOW(0),`modified` DATETIME ON UPDATE CURRENT_TIMESTAMP,`active` TINYINT(1) NOT NULL DEFAULT '0',PRIMARY KEY (`id`),KEY `local_dest` (`old_dest`)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 ROW_FORMAT=DYNAMIC;

