package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite golden files")

// golden compares got with testdata/NAME, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	p := filepath.Join("testdata", name)
	if *update {
		require.NoError(t, os.WriteFile(p, got, 0o644))
	}
	want, err := os.ReadFile(p)
	require.NoError(t, err)
	assert.Equal(t, string(want), string(got))
}

func TestMigratePostfixAdminMainCF(t *testing.T) {
	var out, errb bytes.Buffer
	code := run([]string{"migrate", "--main-cf", "testdata/postfixadmin-main.cf"}, &out, &errb)
	require.Equal(t, exitOK, code, errb.String())
	golden(t, "migrate-postfixadmin.golden", out.Bytes())

	// The generated configuration is one mapgate accepts (the .cf files
	// themselves are the admin's and are not read here).
	s := newSettings()
	cfgPath := filepath.Join(t.TempDir(), "mapgate.cf")
	var cfgText bytes.Buffer
	for _, line := range bytes.Split(out.Bytes(), []byte("\n")) {
		if bytes.HasPrefix(line, []byte("postconf")) || bytes.HasPrefix(line, []byte("#")) {
			continue
		}
		cfgText.Write(line)
		cfgText.WriteByte('\n')
	}
	require.NoError(t, os.WriteFile(cfgPath, cfgText.Bytes(), 0o644))
	require.NoError(t, s.loadFile(cfgPath))
	cfg, err := s.build()
	require.NoError(t, err)
	names := []string{}
	for _, m := range cfg.Maps {
		names = append(names, m.Name)
	}
	assert.Equal(t, []string{"relay_domains", "virtual_alias", "virtual_mailbox_domains", "virtual_mailbox"}, names)
	for _, m := range cfg.Maps {
		switch m.Name {
		case "virtual_alias":
			assert.Len(t, m.Paths, 3)
			assert.True(t, m.Opts.AddressSearch)
			assert.True(t, m.Opts.PropagateExtension)
		case "virtual_mailbox":
			assert.Len(t, m.Paths, 2)
			assert.True(t, m.Opts.AddressSearch)
			assert.False(t, m.Opts.PropagateExtension)
		default:
			assert.False(t, m.Opts.AddressSearch, m.Name)
		}
	}
}

func TestMigrateNothingToDo(t *testing.T) {
	p := filepath.Join(t.TempDir(), "main.cf")
	require.NoError(t, os.WriteFile(p, []byte("virtual_alias_maps = hash:/etc/postfix/virtual\n"), 0o644))
	var out, errb bytes.Buffer
	require.Equal(t, exitOK, run([]string{"migrate", "--main-cf", p}, &out, &errb))
	assert.Contains(t, out.String(), "no mysql: or proxy:mysql: table to migrate")
}
