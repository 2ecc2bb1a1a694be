package main

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestManCoversHelp: every flag of every command's -h and every
// configuration parameter is in the manual page, and man(1) formats it
// without a warning.
func TestManCoversHelp(t *testing.T) {
	t.Parallel()
	var man bytes.Buffer
	require.Equal(t, exitOK, run([]string{"help", "man"}, &man, io.Discard))
	page := man.String()
	flagLine := regexp.MustCompile(`(?m)^  (-[a-z-]+)`)
	for _, c := range commands {
		if c.name == "version" || c.name == "help" {
			continue
		}
		var help bytes.Buffer
		run([]string{c.name, "-h"}, io.Discard, &help)
		flags := flagLine.FindAllStringSubmatch(help.String(), -1)
		require.NotEmpty(t, flags, c.name)
		for _, f := range flags {
			assert.Contains(t, page, ".B "+roffEscape(f[1]), "%s %s", c.name, f[1])
		}
	}
	for _, p := range params {
		assert.Contains(t, page, ".B "+roffEscape(p.Name()))
	}

	manCmd, err := exec.LookPath("man")
	if err != nil {
		t.Log("man not installed: formatting not checked")
		return
	}
	path := filepath.Join(t.TempDir(), "mapgate.8")
	require.NoError(t, os.WriteFile(path, man.Bytes(), 0o644))
	cmd := exec.Command(manCmd, "--warnings", "-E", "UTF-8", "-l", "-Tutf8", "-Z", path)
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = io.Discard, &stderr
	require.NoError(t, cmd.Run(), stderr.String())
	assert.Empty(t, strings.TrimSpace(stderr.String()), "man --warnings")
}

func TestRoffEscape(t *testing.T) {
	t.Parallel()
	assert.Equal(t, `\-\-listen`, roffEscape("--listen"))
	assert.Equal(t, `\&.socket \e`, roffEscape(`.socket \`))
	assert.Equal(t, `\[u307B]`, roffEscape("ほ"))
}
