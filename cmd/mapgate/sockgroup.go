package main

import (
	"log/slog"
	"os"
	"os/exec"
	"os/user"
	"slices"
	"strconv"
	"strings"
)

// postfixGroup is the default socket_group: the group Postfix's daemons run
// as, the primary group of mail_owner (postconf -h mail_owner; Postfix's
// default, "postfix", when postconf cannot say). With the default
// socket_mode 0660 that group, and the socket's owner, can connect; no other
// local user can.
//
// It returns "" (the socket keeps this process's group) when there is no
// such user, or when this process could not give a file that group (it is
// neither root nor a member), and logs why: Postfix then cannot connect
// until socket_group or the service's groups are fixed.
func postfixGroup(log *slog.Logger) string {
	owner := "postfix"
	if out, err := exec.Command("postconf", "-h", "mail_owner").Output(); err == nil && strings.TrimSpace(string(out)) != "" {
		owner = strings.TrimSpace(string(out))
	}
	u, err := user.Lookup(owner)
	if err != nil {
		log.Warn("socket_group not set and Postfix's mail_owner is unknown here: the unix socket keeps this process's group",
			"mail_owner", owner, "err", err)
		return ""
	}
	gid, err := strconv.Atoi(u.Gid)
	if err != nil {
		return ""
	}
	if os.Geteuid() != 0 && os.Getegid() != gid {
		groups, _ := os.Getgroups()
		if !slices.Contains(groups, gid) {
			log.Warn("socket_group not set, and this process is not in the group of Postfix's mail_owner: the unix socket keeps this process's group, so Postfix cannot connect; set socket_group or add the user to that group",
				"mail_owner", owner, "gid", gid)
			return ""
		}
	}
	return u.Gid
}
