package main

import (
	"os"
	"path/filepath"
	"strings"
)

// masterService is one master.cf service.
type masterService struct {
	name, typ, command string
}

// parseMasterCF returns master.cf's services: logical lines (a line that
// starts with white space continues the previous one; '#' lines are
// comments), fields service, type, private, unpriv, chroot, wakeup,
// maxproc, command.
func parseMasterCF(text string) []masterService {
	var out []masterService
	var logical []string
	flush := func() {
		f := strings.Fields(strings.Join(logical, " "))
		logical = logical[:0]
		if len(f) >= 8 {
			out = append(out, masterService{name: f[0], typ: f[1], command: filepath.Base(f[7])})
		}
	}
	for _, line := range strings.Split(text, "\n") {
		trimmed := strings.TrimSpace(line)
		switch {
		case trimmed == "" || strings.HasPrefix(trimmed, "#"):
			continue
		case line[0] == ' ' || line[0] == '\t':
			if len(logical) > 0 {
				logical = append(logical, trimmed)
			}
		default:
			flush()
			logical = append(logical, trimmed)
		}
	}
	flush()
	return out
}

// agentServices returns the "name/type" of every service that runs the
// delivery agent command ("virtual", "local"). With no master.cf to read
// (known false), it assumes Postfix's stock service of that name.
func agentServices(services []masterService, known bool, command string) []string {
	if !known {
		return []string{command + "/unix"}
	}
	var out []string
	for _, s := range services {
		if s.command == command {
			out = append(out, s.name+"/"+s.typ)
		}
	}
	return out
}

// readMasterCF reads dir/master.cf; ok is false when there is none.
func readMasterCF(dir string) (services []masterService, ok bool) {
	b, err := os.ReadFile(filepath.Join(dir, "master.cf"))
	if err != nil {
		return nil, false
	}
	return parseMasterCF(string(b)), true
}
