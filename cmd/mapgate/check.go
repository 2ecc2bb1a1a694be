package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strings"
	"time"

	"mapgate/lookup"
)

// cmdCheck is serve --check.
func cmdCheck(args []string, stdout, stderr io.Writer) int {
	return cmdServe(append([]string{"--check"}, args...), stdout, stderr)
}

// checkTimeout bounds asking every host of a set to prepare and run its
// queries: a connection and three round trips (prepare, execute, close).
func checkTimeout(set *lookup.Set) time.Duration {
	o := set.Pools().Options()
	return o.DialTimeout + 3*o.QueryTimeout
}

// checkSet asks every host of every map of set to prepare the map's query
// and run it with a probe key (lookup.Set.Check).
func checkSet(set *lookup.Set) map[string]lookup.MapCheck {
	ctx, cancel := context.WithTimeout(context.Background(), checkTimeout(set))
	defer cancel()
	return set.Check(ctx)
}

// runCheck is `mapgate check` (serve --check): load the configuration,
// ask every host of every map to prepare its query and run it with a probe
// key, print what each said and which settings a reload applies,
// and exit 0 when every map has a host that can answer each of its .cf
// files, 3 otherwise. Nothing is served.
func runCheck(cfg *Config, stdout io.Writer, log *slog.Logger) int {
	set, err := lookup.Load(cfg.Maps, cfg.Pool, log, nil)
	if err != nil {
		fmt.Fprintf(stdout, "mapgate check: %v\n", err)
		return exitFailure
	}
	defer set.Close()
	checks := checkSet(set)
	names := make([]string, 0, len(checks))
	for n := range checks {
		names = append(names, n)
	}
	sort.Strings(names)
	bad := 0
	for _, n := range names {
		mc := checks[n]
		for _, f := range mc.Files {
			for _, h := range f.Hosts {
				status := "ok"
				if h.Err != nil {
					status = "FAILED: " + oneLine(h.Err.Error())
				}
				fmt.Fprintf(stdout, "%s\t%s\t%s\t%s\n", n, f.Path, h.Host, status)
			}
		}
		if !mc.OK() {
			bad++
			fmt.Fprintf(stdout, "%s: no host can answer; every lookup would be TEMP\n", n)
		}
	}
	reload, restart := reloadSplit(cfg.Given)
	if len(reload) > 0 {
		fmt.Fprintf(stdout, "a reload (SIGHUP) applies a change of: %s\n", strings.Join(reload, ", "))
	}
	if len(restart) > 0 {
		fmt.Fprintf(stdout, "a change of these takes a restart: %s\n", strings.Join(restart, ", "))
	}
	if bad > 0 {
		fmt.Fprintf(stdout, "mapgate check: %d of %d maps cannot be served\n", bad, len(names))
		return exitFailure
	}
	fmt.Fprintf(stdout, "mapgate check: %d maps ok\n", len(names))
	return exitOK
}

func oneLine(s string) string { return strings.ReplaceAll(s, "\n", "; ") }
