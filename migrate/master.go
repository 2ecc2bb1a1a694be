package migrate

import (
	"os"
	"path/filepath"
	"strings"
)

// Service is one master.cf service: its name, type, command, whether it
// runs chrooted, and its "-o name=value" overrides.
type Service struct {
	Name, Type, Command string
	Chroot              bool // the chroot column is "y" ("-" is n since Postfix 3.0)
	Opts                []Opt
}

// Opt is one "-o name=value" (or "-o { name = value }") of a service.
type Opt struct{ Name, Value string }

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
			out = append(out, Service{Name: f[0], Type: f[1], Command: filepath.Base(f[7]), Chroot: f[4] == "y", Opts: parseOpts(f[8:])})
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

// parseOpts returns the -o overrides of a service's arguments: "-o
// name=value", and Postfix 3.0's "-o { name = value }" (white space inside
// the braces kept as one space).
func parseOpts(args []string) []Opt {
	var out []Opt
	for i := 0; i+1 < len(args); i++ {
		if args[i] != "-o" {
			continue
		}
		i++
		setting := args[i]
		if strings.HasPrefix(setting, "{") {
			j := i
			for j < len(args)-1 && !strings.HasSuffix(args[j], "}") {
				j++
			}
			setting = strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(strings.Join(args[i:j+1], " "), "{"), "}"))
			i = j
		}
		name, value, ok := strings.Cut(setting, "=")
		if ok {
			out = append(out, Opt{Name: strings.TrimSpace(name), Value: strings.TrimSpace(value)})
		}
	}
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
