package migrate

import (
	"os"
	"path/filepath"
	"strings"
)

// Service is one master.cf service: its name, type and command.
type Service struct {
	Name, Type, Command string
}

// parseMasterCF returns master.cf's services: logical lines (a line that
// starts with white space continues the previous one; '#' lines are
// comments), fields service, type, private, unpriv, chroot, wakeup,
// maxproc, command.
func parseMasterCF(text string) []Service {
	var out []Service
	var logical []string
	flush := func() {
		f := strings.Fields(strings.Join(logical, " "))
		logical = logical[:0]
		if len(f) >= 8 {
			out = append(out, Service{Name: f[0], Type: f[1], Command: filepath.Base(f[7])})
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
func agentServices(services []Service, known bool, command string) []string {
	if !known {
		return []string{command + "/unix"}
	}
	var out []string
	for _, s := range services {
		if s.Command == command {
			out = append(out, s.Name+"/"+s.Type)
		}
	}
	return out
}

// readMasterCF reads dir/master.cf; ok is false when there is none.
func readMasterCF(dir string) (services []Service, ok bool) {
	b, err := os.ReadFile(filepath.Join(dir, "master.cf"))
	if err != nil {
		return nil, false
	}
	return parseMasterCF(string(b)), true
}
