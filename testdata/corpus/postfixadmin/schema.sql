-- PostfixAdmin MySQL schema, mail tables only, as public/upgrade.php builds it
-- on a fresh install (every upgrade_N_mysql / _mysql_pgsql / plain upgrade_N
-- function run in order). Placeholders substituted with the MySQL values from
-- db_query_parsed(): {COLLATE} = CHARACTER SET latin1 COLLATE latin1_general_ci,
-- {LATIN1} = /*!40100 CHARACTER SET latin1 COLLATE latin1_general_ci */,
-- {UTF-8} = /*!40100 CHARACTER SET utf8mb4 */, {DATETIME} = datetime NOT NULL
-- default '2000-01-01 00:00:00', {AUTOINCREMENT} = int(11) not null
-- auto_increment, {PRIMARY} = primary key, {BOOLEAN_TRUE} = tinyint(1) NOT NULL
-- DEFAULT '1'.
--
-- Source: github.com/postfixadmin/postfixadmin, public/upgrade.php
-- Commit: 65b10f7285524bc6753f604bd11ff3c3de5cbf97 (2026-08-07)
--
-- Reduced to the tables the Postfix .cf queries read (domain, alias,
-- alias_domain, mailbox) and the DKIM tables whose foreign keys tie them
-- together (dkim.domain_name -> domain.domain, dkim_signing.dkim_id -> dkim.id).
-- Statements on other tables (admin, log, fetchmail, vacation, quota, ...)
-- are left out; the statements kept are verbatim apart from the placeholders.

-- upgrade_5_mysql
CREATE TABLE IF NOT EXISTS alias (
    `address` varchar(255) NOT NULL default '',
    `goto` text NOT NULL,
    `domain` varchar(255) NOT NULL default '',
    `created` datetime NOT NULL default '2000-01-01 00:00:00',
    `modified` datetime NOT NULL default '2000-01-01 00:00:00',
    `active` tinyint(1) NOT NULL default '1',
    PRIMARY KEY  (`address`),
    KEY address (`address`)
) CHARACTER SET latin1 COLLATE latin1_general_ci COMMENT='Postfix Admin - Virtual Aliases';

CREATE TABLE IF NOT EXISTS domain (
    `domain` varchar(255) NOT NULL default '',
    `description` varchar(255) NOT NULL default '',
    `aliases` int(10) NOT NULL default '0',
    `mailboxes` int(10) NOT NULL default '0',
    `maxquota` int(10) NOT NULL default '0',
    `quota` int(10) NOT NULL default '0',
    `transport` varchar(255) default NULL,
    `backupmx` tinyint(1) NOT NULL default '0',
    `created` datetime NOT NULL default '2000-01-01 00:00:00',
    `modified` datetime NOT NULL default '2000-01-01 00:00:00',
    `active` tinyint(1) NOT NULL default '1',
    PRIMARY KEY  (`domain`),
    KEY domain (`domain`)
) CHARACTER SET latin1 COLLATE latin1_general_ci COMMENT='Postfix Admin - Virtual Domains';

CREATE TABLE IF NOT EXISTS mailbox (
    `username` varchar(255) NOT NULL default '',
    `password` varchar(255) NOT NULL default '',
    `name` varchar(255) NOT NULL default '',
    `maildir` varchar(255) NOT NULL default '',
    `quota` int(10) NOT NULL default '0',
    `domain` varchar(255) NOT NULL default '',
    `created` datetime NOT NULL default '2000-01-01 00:00:00',
    `modified` datetime NOT NULL default '2000-01-01 00:00:00',
    `active` tinyint(1) NOT NULL default '1',
    PRIMARY KEY  (`username`),
    KEY username (`username`)
) CHARACTER SET latin1 COLLATE latin1_general_ci COMMENT='Postfix Admin - Virtual Mailboxes';

-- upgrade_79_mysql
ALTER TABLE alias DROP INDEX address;
ALTER TABLE domain DROP INDEX domain;
ALTER TABLE mailbox DROP INDEX username;

-- upgrade_169_mysql
ALTER TABLE domain MODIFY COLUMN `quota` bigint(20) NOT NULL default '0';
ALTER TABLE domain MODIFY COLUMN `maxquota` bigint(20) NOT NULL default '0';
ALTER TABLE mailbox MODIFY COLUMN `quota` bigint(20) NOT NULL default '0';

-- upgrade_438_mysql
CREATE TABLE IF NOT EXISTS alias_domain (
    `alias_domain` varchar(255) /*!40100 CHARACTER SET latin1 COLLATE latin1_general_ci */ NOT NULL default '',
    `target_domain` varchar(255) /*!40100 CHARACTER SET latin1 COLLATE latin1_general_ci */ NOT NULL default '',
    `created` datetime NOT NULL default '2000-01-01 00:00:00',
    `modified` datetime NOT NULL default '2000-01-01 00:00:00',
    `active` tinyint(1) NOT NULL default '1',
    PRIMARY KEY  (`alias_domain`),
    KEY `active` (`active`),
    KEY `target_domain` (`target_domain`)
) CHARACTER SET latin1 COLLATE latin1_general_ci COMMENT='Postfix Admin - Domain Aliases';

-- upgrade_373_mysql
ALTER TABLE domain  CHANGE `description`  `description` VARCHAR( 255 ) /*!40100 CHARACTER SET utf8mb4 */  NOT NULL;
ALTER TABLE mailbox CHANGE `name`         `name`        VARCHAR( 255 ) /*!40100 CHARACTER SET utf8mb4 */  NOT NULL;

-- upgrade_473_mysql (mail tables)
ALTER TABLE alias   CHANGE `address`       `address`       VARCHAR( 255 ) /*!40100 CHARACTER SET latin1 COLLATE latin1_general_ci */ NOT NULL;
ALTER TABLE alias   CHANGE `goto`          `goto`             TEXT        /*!40100 CHARACTER SET latin1 COLLATE latin1_general_ci */ NOT NULL;
ALTER TABLE alias   CHANGE `domain`        `domain`        VARCHAR( 255 ) /*!40100 CHARACTER SET latin1 COLLATE latin1_general_ci */ NOT NULL;
ALTER TABLE alias   DEFAULT                                               /*!40100 CHARACTER SET latin1 COLLATE latin1_general_ci */;
ALTER TABLE alias_domain  CHANGE `alias_domain`  `alias_domain`  VARCHAR( 255 ) /*!40100 CHARACTER SET latin1 COLLATE latin1_general_ci */ NOT NULL;
ALTER TABLE alias_domain  CHANGE `target_domain` `target_domain` VARCHAR( 255 ) /*!40100 CHARACTER SET latin1 COLLATE latin1_general_ci */ NOT NULL;
ALTER TABLE alias_domain  DEFAULT                                               /*!40100 CHARACTER SET latin1 COLLATE latin1_general_ci */;
ALTER TABLE domain  CHANGE `domain`         `domain`       VARCHAR( 255 ) /*!40100 CHARACTER SET latin1 COLLATE latin1_general_ci */ NOT NULL;
ALTER TABLE domain  CHANGE `transport`      `transport`    VARCHAR( 255 ) /*!40100 CHARACTER SET latin1 COLLATE latin1_general_ci */ NOT NULL;
ALTER TABLE domain  DEFAULT                                               /*!40100 CHARACTER SET latin1 COLLATE latin1_general_ci */;
ALTER TABLE mailbox CHANGE `username`       `username`     VARCHAR( 255 ) /*!40100 CHARACTER SET latin1 COLLATE latin1_general_ci */ NOT NULL;
ALTER TABLE mailbox CHANGE `password`       `password`     VARCHAR( 255 ) /*!40100 CHARACTER SET latin1 COLLATE latin1_general_ci */ NOT NULL;
ALTER TABLE mailbox CHANGE `maildir`        `maildir`      VARCHAR( 255 ) /*!40100 CHARACTER SET latin1 COLLATE latin1_general_ci */ NOT NULL;
ALTER TABLE mailbox CHANGE `domain`         `domain`       VARCHAR( 255 ) /*!40100 CHARACTER SET latin1 COLLATE latin1_general_ci */ NOT NULL;
ALTER TABLE mailbox DEFAULT                                               /*!40100 CHARACTER SET latin1 COLLATE latin1_general_ci */;

-- upgrade_495_mysql
ALTER TABLE mailbox add local_part varchar(255) AFTER quota;
UPDATE mailbox SET local_part = substring_index(username, '@', 1);
ALTER TABLE mailbox change local_part local_part varchar(255) NOT NULL;

-- upgrade_504_mysql
ALTER TABLE mailbox CHANGE `local_part` `local_part` VARCHAR( 255 ) /*!40100 CHARACTER SET latin1 COLLATE latin1_general_ci */ NOT NULL;

-- upgrade_655_mysql_pgsql
ALTER TABLE mailbox ADD INDEX `domain` ( `domain` );
ALTER TABLE alias ADD INDEX `domain` ( `domain` );

-- upgrade_1835_mysql (mail tables)
ALTER TABLE alias CHANGE `created` `created` datetime NOT NULL default '2000-01-01 00:00:00', CHANGE `modified` `modified` datetime NOT NULL default '2000-01-01 00:00:00';
ALTER TABLE alias_domain CHANGE `created` `created` datetime NOT NULL default '2000-01-01 00:00:00', CHANGE `modified` `modified` datetime NOT NULL default '2000-01-01 00:00:00';
ALTER TABLE domain CHANGE `created` `created` datetime NOT NULL default '2000-01-01 00:00:00', CHANGE `modified` `modified` datetime NOT NULL default '2000-01-01 00:00:00';
ALTER TABLE mailbox CHANGE `created` `created` datetime NOT NULL default '2000-01-01 00:00:00', CHANGE `modified` `modified` datetime NOT NULL default '2000-01-01 00:00:00';

-- upgrade_1836_mysql (mail tables)
ALTER TABLE alias_domain          CHANGE `alias_domain`    `alias_domain`  VARCHAR(255) /*!40100 CHARACTER SET latin1 COLLATE latin1_general_ci */ NOT NULL default '';
ALTER TABLE alias_domain          CHANGE `target_domain`   `target_domain` VARCHAR(255) /*!40100 CHARACTER SET latin1 COLLATE latin1_general_ci */ NOT NULL default '';

-- upgrade_1842
ALTER TABLE mailbox ADD COLUMN password_expiry datetime NOT NULL default '2000-01-01 00:00:00';
ALTER TABLE domain ADD COLUMN password_expiry int DEFAULT 0;

-- upgrade_1845 (mail tables)
alter table mailbox change name name varchar(255) charset utf8mb4 not null;

-- upgrade_1846_mysql (mail tables)
alter table alias collate latin1_general_ci;
alter table alias_domain collate latin1_general_ci;
alter table domain collate latin1_general_ci;
alter table mailbox collate latin1_general_ci;
ALTER TABLE alias MODIFY address varchar(255)  COLLATE latin1_general_ci NOT NULL;
ALTER TABLE alias MODIFY goto text  COLLATE latin1_general_ci NOT NULL;
ALTER TABLE alias MODIFY domain varchar(255)  COLLATE latin1_general_ci NOT NULL;
ALTER TABLE domain MODIFY domain varchar(255)  COLLATE latin1_general_ci NOT NULL;
ALTER TABLE domain MODIFY transport varchar(255)  COLLATE latin1_general_ci NOT NULL;
ALTER TABLE mailbox MODIFY username varchar(255)  COLLATE latin1_general_ci NOT NULL;
ALTER TABLE mailbox MODIFY password varchar(255)  COLLATE latin1_general_ci NOT NULL;
ALTER TABLE mailbox MODIFY maildir varchar(255)  COLLATE latin1_general_ci NOT NULL;
ALTER TABLE mailbox MODIFY local_part varchar(255)  COLLATE latin1_general_ci NOT NULL;
ALTER TABLE mailbox MODIFY domain varchar(255)  COLLATE latin1_general_ci NOT NULL;
ALTER TABLE alias_domain MODIFY alias_domain varchar(255)  COLLATE latin1_general_ci NOT NULL DEFAULT '';
ALTER TABLE alias_domain MODIFY target_domain varchar(255)  COLLATE latin1_general_ci NOT NULL DEFAULT '';

-- upgrade_1848_mysql: move_core_tables_to_innodb() (mail tables), then the DKIM tables
ALTER TABLE alias_domain Engine=InnoDB;
ALTER TABLE alias Engine=InnoDB;
ALTER TABLE domain Engine=InnoDB;
ALTER TABLE mailbox Engine=InnoDB;

CREATE TABLE IF NOT EXISTS dkim (
    `id` int(11) not null auto_increment primary key,
    `domain_name` varchar(255) NOT NULL,
    `description` varchar(255) DEFAULT '',
    `selector` varchar(63) NOT NULL DEFAULT 'default',
    `private_key` text,
    `public_key` text,
    `created` datetime NOT NULL default '2000-01-01 00:00:00',
    `modified` datetime NOT NULL default '2000-01-01 00:00:00',
    INDEX(domain_name, description),
    FOREIGN KEY (`domain_name`)
        REFERENCES domain(`domain`)
        ON DELETE CASCADE) CHARACTER SET latin1 COLLATE latin1_general_ci COMMENT='Postfix Admin - OpenDKIM Key Table';

CREATE TABLE IF NOT EXISTS dkim_signing (
    `id` int(11) not null auto_increment primary key,
    `author` varchar(255) NOT NULL DEFAULT '',
    `dkim_id` integer NOT NULL,
    `created` datetime NOT NULL default '2000-01-01 00:00:00',
    `modified` datetime NOT NULL default '2000-01-01 00:00:00',
    INDEX(author),
    FOREIGN KEY (`dkim_id`)
        REFERENCES dkim(`id`)
        ON DELETE CASCADE) CHARACTER SET latin1 COLLATE latin1_general_ci COMMENT='Postfix Admin - OpenDKIM Signing Table';

-- upgrade_1849_mysql (mail tables)
ALTER TABLE mailbox ADD COLUMN totp_secret VARCHAR(255) /*!40100 CHARACTER SET utf8mb4 */  DEFAULT NULL AFTER password_expiry;

-- upgrade_1850
ALTER TABLE mailbox ADD COLUMN smtp_active tinyint(1) NOT NULL DEFAULT '1';

-- upgrade_1854
ALTER TABLE alias ADD COLUMN description varchar(255) /*!40100 CHARACTER SET utf8mb4 */ NOT NULL DEFAULT '' AFTER domain;
ALTER TABLE alias_domain ADD COLUMN description varchar(255) /*!40100 CHARACTER SET utf8mb4 */ NOT NULL DEFAULT '' AFTER target_domain;
