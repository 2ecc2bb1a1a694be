package migrate

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRetryIntervalRead(t *testing.T) {
	for v, want := range map[string][2]bool{
		"3.7.11": {false, true}, "3.8.6": {false, true}, "3.9.0": {true, true}, "3.10-20250207": {true, true},
		"4.0": {true, true}, "": {false, false}, "x": {false, false},
	} {
		read, known := RetryIntervalRead(v)
		if read != want[0] || known != want[1] {
			t.Errorf("%q: read %v known %v, want %v", v, read, known, want)
		}
	}
}

// TestPlanFront: every mysql: table, delivery agents' too, gets a front
// .cf; types and prefixes stay; $references stay; proxy_read_maps follows.
func TestPlanFront(t *testing.T) {
	dir := t.TempDir()
	p := func(n string) string { return filepath.Join(dir, n+".cf") }
	vals := map[string]string{
		"virtual_alias_maps":   "proxy:mysql:" + p("alias") + ", hash:/etc/postfix/virtual",
		"virtual_mailbox_maps": "proxy:mysql:" + p("mailbox"),
		"alias_maps":           "mysql:" + p("alias"),
		"proxy_read_maps":      "$virtual_alias_maps proxy:mysql:" + p("mailbox"),
		"relay_domains":        "$mydestination",
	}
	f := NewFrontPlan(&Postfix{Values: vals, Version: "3.9.1"})
	got := map[string]string{}
	for _, pp := range f.Params {
		got[pp.Name] = pp.New
	}
	want := map[string]string{
		"virtual_alias_maps":   "proxy:mysql:" + filepath.Join(dir, "alias.mapgate.cf") + ", hash:/etc/postfix/virtual",
		"virtual_mailbox_maps": "proxy:mysql:" + filepath.Join(dir, "mailbox.mapgate.cf"),
		"alias_maps":           "mysql:" + filepath.Join(dir, "alias.mapgate.cf"),
		"proxy_read_maps":      "$virtual_alias_maps, proxy:mysql:" + filepath.Join(dir, "mailbox.mapgate.cf"),
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	if _, ok := got["relay_domains"]; ok || len(got) != len(want) {
		t.Errorf("rewrote %v", got)
	}
	if len(f.Tables) != 2 {
		t.Fatalf("%d tables, want 2 (alias used twice)", len(f.Tables))
	}
	if err := f.WriteFiles("unix:mapgate/mysql.sock", "postfix", "pw"); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "alias.mapgate.cf"))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range []string{"hosts = unix:mapgate/mysql.sock unix:mapgate/mysql.sock", "dbname = alias", "query = '%s'", "retry_interval = 1", "password = pw"} {
		if !strings.Contains(string(b), l+"\n") {
			t.Errorf("front .cf lacks %q:\n%s", l, b)
		}
	}
	if f.ReadPassword() != "pw" {
		t.Errorf("password of the earlier run not reused")
	}
	// A file migrate did not write is never overwritten.
	if err := os.WriteFile(filepath.Join(dir, "mailbox.mapgate.cf"), []byte("admin's own\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := f.WriteFiles("unix:x", "postfix", "pw"); err == nil {
		t.Errorf("overwrote a file migrate did not write")
	}
}
