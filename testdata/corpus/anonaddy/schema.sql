-- anonaddy schema (MariaDB), the tables the check_access procedure and the
-- virtual domain query read, and the procedure itself.
-- Source: github.com/anonaddy/anonaddy
-- Commit: 87ab6933ca84a313aee549fcf13a68ac417d1e35 (2023-10-09)
-- Tables: database/migrations/*_create_aliases_table.php,
--   *_create_domains_table.php, *_create_additional_usernames_table.php
--   and the later migrations that add, rename or drop their columns
--   (local_part/domain, extension, emails_replied, aliasable_*,
--   emails_sent, domain_verified_at, default_recipient_id,
--   domain_sending_verified_at, catch_all, domain_mx_validated_at,
--   usernames (renamed from additional_usernames), can_login, the user_id
--   indexes), written out as the CREATE TABLE Laravel's MySQL grammar
--   produces with the published config/database.php (charset utf8mb4,
--   collation utf8mb4_unicode_ci, string() = varchar(255), uuid() =
--   char(36), boolean() = tinyint(1)), in the column order the "after"
--   clauses give. Only these three tables: users, recipients and the rest
--   are not read by Postfix.
-- Procedure: SELF-HOSTING.md, "CREATE PROCEDURE `check_access`", verbatim
--   between the DELIMITER lines. DELIMITER is a mysql(1) client
--   command, not SQL: sent as one multi-statement query, the server parses
--   the BEGIN ... END body itself, so it is left out, and so are USE
--   `anonaddy_database` and DROP PROCEDURE (a test selects its own
--   database). The parameter is VARCHAR(254) charset utf8 (utf8mb3):
--   a 4-byte character or a key over 254 characters fails the call
--   before the body runs (errors 1366 and 1406 in strict sql_mode).

CREATE TABLE `aliases` (
  `id` char(36) NOT NULL,
  `user_id` char(36) NOT NULL,
  `aliasable_id` char(36) DEFAULT NULL,
  `aliasable_type` varchar(255) DEFAULT NULL,
  `local_part` varchar(255) NOT NULL,
  `extension` varchar(255) DEFAULT NULL,
  `domain` varchar(255) NOT NULL,
  `email` varchar(255) NOT NULL,
  `active` tinyint(1) NOT NULL DEFAULT 1,
  `description` text DEFAULT NULL,
  `emails_forwarded` int(10) unsigned NOT NULL DEFAULT 0,
  `emails_blocked` int(10) unsigned NOT NULL DEFAULT 0,
  `emails_replied` int(10) unsigned NOT NULL DEFAULT 0,
  `emails_sent` int(10) unsigned NOT NULL DEFAULT 0,
  `created_at` timestamp NULL DEFAULT NULL,
  `updated_at` timestamp NULL DEFAULT NULL,
  `deleted_at` timestamp NULL DEFAULT NULL,
  PRIMARY KEY (`id`),
  UNIQUE KEY `aliases_email_unique` (`email`),
  KEY `aliases_aliasable_id_index` (`aliasable_id`),
  KEY `aliases_user_id_index` (`user_id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE `domains` (
  `id` char(36) NOT NULL,
  `user_id` char(36) NOT NULL,
  `default_recipient_id` char(36) DEFAULT NULL,
  `domain` varchar(255) NOT NULL,
  `description` text DEFAULT NULL,
  `active` tinyint(1) NOT NULL DEFAULT 1,
  `catch_all` tinyint(1) NOT NULL DEFAULT 1,
  `domain_verified_at` timestamp NULL DEFAULT NULL,
  `domain_mx_validated_at` timestamp NULL DEFAULT NULL,
  `domain_sending_verified_at` timestamp NULL DEFAULT NULL,
  `created_at` timestamp NULL DEFAULT NULL,
  `updated_at` timestamp NULL DEFAULT NULL,
  PRIMARY KEY (`id`),
  UNIQUE KEY `domains_domain_unique` (`domain`),
  KEY `domains_user_id_index` (`user_id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE `usernames` (
  `id` char(36) NOT NULL,
  `user_id` char(36) NOT NULL,
  `default_recipient_id` char(36) DEFAULT NULL,
  `username` varchar(255) NOT NULL,
  `description` text DEFAULT NULL,
  `active` tinyint(1) NOT NULL DEFAULT 1,
  `catch_all` tinyint(1) NOT NULL DEFAULT 1,
  `can_login` tinyint(1) NOT NULL DEFAULT 1,
  `created_at` timestamp NULL DEFAULT NULL,
  `updated_at` timestamp NULL DEFAULT NULL,
  PRIMARY KEY (`id`),
  UNIQUE KEY `usernames_username_unique` (`username`),
  KEY `usernames_user_id_index` (`user_id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE PROCEDURE `check_access`(alias_email VARCHAR(254) charset utf8)
BEGIN
    DECLARE no_alias_exists int(1);
    DECLARE alias_action varchar(30) charset utf8;
    DECLARE username_action varchar(30) charset utf8;
    DECLARE domain_action varchar(30) charset utf8;
    DECLARE alias_domain varchar(254) charset utf8;

    SET alias_domain = SUBSTRING_INDEX(alias_email, '@', -1);

    # We only want to carry out the checks if it is a full RCPT TO address without any + extension
    IF LOCATE('+',alias_email) = 0 THEN

        SET no_alias_exists = CASE WHEN NOT EXISTS(SELECT NULL FROM aliases WHERE email = alias_email) THEN 1 ELSE 0 END;

        # If there is an alias, check if it is deactivated or deleted
        IF NOT no_alias_exists THEN
            SET alias_action = (SELECT
                IF(deleted_at IS NULL,
                'DISCARD',
                'REJECT Address does not exist')
            FROM
                aliases
            WHERE
                email = alias_email
                AND (active = 0
                OR deleted_at IS NOT NULL));
        END IF;

        # If the alias is deactivated or deleted then increment its blocked count and return the alias_action
        IF alias_action IN('DISCARD','REJECT Address does not exist') THEN
            UPDATE
                aliases
            SET
                emails_blocked = emails_blocked + 1
            WHERE
                email = alias_email;

            SELECT alias_action;
        ELSE
            SELECT
            (
            SELECT
                CASE
                    WHEN no_alias_exists
                    AND catch_all = 0 THEN "REJECT Address does not exist"
                    WHEN active = 0 THEN "DISCARD"
                    ELSE NULL
                END
            FROM
                usernames
            WHERE
                alias_domain IN ( CONCAT(username, '.example.com')) ),
            (
            SELECT
                CASE
                    WHEN no_alias_exists
                    AND catch_all = 0 THEN "REJECT Address does not exist"
                    WHEN active = 0 THEN "DISCARD"
                    ELSE NULL
                END
            FROM
                domains
            WHERE
                domain = alias_domain) INTO username_action, domain_action;

            # If all actions are NULL then we can return 'DUNNO' which will prevent Postfix from trying substrings of the alias
            IF username_action IS NULL AND domain_action IS NULL THEN
                SELECT 'DUNNO';
            ELSEIF username_action IN('DISCARD','REJECT Address does not exist') THEN
                SELECT username_action;
            ELSE
                SELECT domain_action;
            END IF;
        END IF;
    ELSE
        # This means the alias must have a + extension so we will ignore it
        SELECT NULL;
    END IF;
 END;
