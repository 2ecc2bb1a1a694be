package migrate

import "strings"

// How Postfix reads each parameter's tables, from Postfix's source
// (vdukhovni/postfix at 17830e5c, postfix-3.12; the same in 3.7). migrate
// rewrites a parameter only when a socketmap table receives every key a
// mysql: table would, or when mapgate runs the rest of the search itself.

// Search is the search Postfix runs on a parameter's tables.
type Search int

const (
	// searchAddress: mail_addr_find() (full key, without extension,
	// @domain); mapgate runs it (NAME_address_search).
	SearchAddress Search = iota
	// searchExact: a string list, match_string() (util/match_ops.c:124-133):
	// only the name itself, for mysql: and socketmap: alike.
	SearchExact
	// searchDomainList: a domain list, match_hostname()
	// (util/match_ops.c:168-191): the name, then parent domains, but only
	// for fixed tables such as mysql: (line 173); mapgate runs it
	// (NAME_domain_search).
	SearchDomainList
)

// servedParam is a parameter migrate points at mapgate.
type servedParam struct {
	Search  Search
	readers string // the daemons that read it, with the source
}

// servedParams are the parameters whose mysql: tables migrate moves to
// mapgate.
var servedParams = map[string]servedParam{
	"virtual_alias_maps":       {SearchAddress, "cleanup (cleanup_init.c:390), smtpd (smtpd_check.c:829)"},
	"virtual_mailbox_maps":     {SearchAddress, "smtpd (smtpd_check.c:832); virtual(8) keeps its own mysql: client (virtual.c:481)"},
	"canonical_maps":           {SearchAddress, "cleanup (cleanup_init.c:376), smtpd (smtpd_check.c:826)"},
	"sender_canonical_maps":    {SearchAddress, "cleanup (cleanup_init.c:381), smtpd (smtpd_check.c:820)"},
	"recipient_canonical_maps": {SearchAddress, "cleanup (cleanup_init.c:386), smtpd (smtpd_check.c:823)"},
	"relocated_maps":           {SearchAddress, "trivial-rewrite (resolve.c:722, mail_addr_find)"},
	"smtpd_sender_login_maps":  {SearchAddress, "smtpd (smtpd_check.c:859)"},
	"sender_bcc_maps":          {SearchAddress, "cleanup (cleanup_init.c:430)"},
	"recipient_bcc_maps":       {SearchAddress, "cleanup (cleanup_init.c:435)"},
	"relay_recipient_maps":     {SearchAddress, "smtpd (smtpd_check.c:836)"},
	// trivial-rewrite asks both with mail_addr_find() and the sender address.
	"sender_dependent_relayhost_maps":         {SearchAddress, "trivial-rewrite (resolve.c:594, mail_addr_find)"},
	"sender_dependent_default_transport_maps": {SearchAddress, "trivial-rewrite (resolve.c:565, mail_addr_find)"},
	// string_list_init: match_string, exact name only.
	"virtual_alias_domains":   {SearchExact, "trivial-rewrite (resolve.c:820), smtpd (smtpd_check.c:841): a string list, exact name"},
	"virtual_mailbox_domains": {SearchExact, "trivial-rewrite (resolve.c:825), smtpd (smtpd_check.c:843): a string list, exact name"},
	"mydestination":           {SearchExact, "trivial-rewrite, smtpd (resolve_local.c:72): a string list, exact name"},
	// smtp(8) asks every table, socketmap too, the next hop and then each
	// parent domain as ".parent": plain keys, exact.
	"smtp_tls_policy_maps": {SearchExact, "smtp(8) (smtp_tls_policy.c:211, 322, 614-617): the next hop, then each parent as .parent, asked of every table"},
	"lmtp_tls_policy_maps": {SearchExact, "lmtp(8) (smtp_tls_policy.c:211, 322, 614-617): the next hop, then each parent as .parent, asked of every table"},
	// domain_list_init: match_hostname, parent domains.
	"relay_domains": {SearchDomainList, "trivial-rewrite (resolve.c:830), smtpd (smtpd_check.c:802): a domain list with parent-domain search"},
}

// deliveryMaps are the parameters a delivery agent opens as
// security-sensitive (DICT_FLAG_PARANOID, which includes
// DICT_FLAG_NO_UNAUTH and DICT_FLAG_NO_PROXY, util/dict.h:150): dict_sockmap
// refuses them ("map is not allowed for security-sensitive data",
// util/dict_sockmap.c:349-352) and a proxy: prefix is dropped there
// (global/dict_proxy.c:444). The value names the agent's command in
// master.cf.
var deliveryMaps = map[string]string{
	"virtual_mailbox_maps": "virtual", // virtual.c:481
	"virtual_uid_maps":     "virtual", // virtual.c:486
	"virtual_gid_maps":     "virtual", // virtual.c:491
	"alias_maps":           "local",   // local.c:914
	"mailbox_command_maps": "local",   // mailbox.c:341
}

// notMigrated explains why a parameter's mysql: tables stay as they are.
func notMigrated(param string) string {
	switch param {
	case "virtual_uid_maps", "virtual_gid_maps":
		return "only virtual(8) reads it, as security-sensitive data (virtual.c:486-492); it refuses socketmap tables (dict_sockmap.c:349)"
	case "alias_maps":
		return "local(8) reads it as security-sensitive data (local.c:914) and refuses socketmap tables (dict_sockmap.c:349); smtpd also asks it bare localparts through local_recipient_maps, which mapgate cannot emulate"
	case "mailbox_command_maps":
		return "local(8) reads it as security-sensitive data (mailbox.c:341) and refuses socketmap tables"
	case "mailbox_transport_maps", "fallback_transport_maps":
		return "local(8) asks it the bare local user name (mailbox.c:285, unknown.c:120); left with local(8)"
	case "local_recipient_maps":
		return "smtpd asks it bare localparts of local domains (mail_addr_find with the local-part strategy), which mapgate does not know"
	case "transport_maps":
		return "trivial-rewrite asks a socketmap (pattern) table only the full address; the domain and parent-domain keys a transport table holds are asked of fixed tables only (transport.c:222-223)"
	case "smtp_sasl_password_maps", "lmtp_sasl_password_maps":
		return "smtp(8) asks one table the sender address with the address search, then host and next-hop names as plain keys (smtp_sasl_glue.c:190-199); mapgate's address search would also cut a host name at recipient_delimiter (mail-relay at '-'), a wrong match for a password table"
	}
	switch {
	case strings.HasSuffix(param, "_transport_maps"):
		return "a transport table: trivial-rewrite asks a socketmap (pattern) table only the full address, never the domain keys (transport.c)"
	case strings.HasSuffix(param, "_checks"):
		return "content inspection: cleanup asks every table each whole header or body line as a plain key (header_body_checks.c:328, 353); mapgate could serve it exactly, but migrate does not move content filters"
	case strings.Contains(param, "restrictions"), strings.HasSuffix(param, "_access"):
		return "access tables are searched by smtpd with domain, parent-domain and partial-address keys, asked of fixed tables only (smtpd_check.c:2795-2796, 2880, 2936); a socketmap table receives only the full key"
	case param == "alias_database":
		return "newaliases builds it; not a lookup"
	}
	return "not checked against Postfix's source by mapgate: Postfix searches this table in its own way, and mapgate does not know that a socketmap table receives the same keys"
}

// DeliveryAgent returns the delivery agent's command that reads param as
// security-sensitive ("virtual", "local"), "" for none (see deliveryMaps).
func DeliveryAgent(param string) string { return deliveryMaps[param] }
