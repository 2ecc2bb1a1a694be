package pfinst

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

const alternatesParam = "alternate_config_directories"

// alternatesFile is the main.cf editAlternates edits: DefaultMainCF (tests
// of the edit itself point it elsewhere).
var alternatesFile = DefaultMainCF

// createdMarker heads a DefaultMainCF that editAlternates created because
// there was none (Postfix installed with "No configuration"). Such a file
// is removed again when its last entry goes, so that the tests leave the
// machine as they found it.
const createdMarker = "# Created by mapgate's internal/pfinst for private test instances; removed when the last one stops.\n"

// editAlternates adds dir to (add) or removes it from (!add) the
// alternate_config_directories of DefaultMainCF, creating the file (with
// createdMarker) when it is missing, and removing a file it created once no
// directory is left in it. Other settings and other directories in the
// list are kept. The edit holds an exclusive flock on the file's directory,
// so concurrent test processes do not lose each other's entries, and
// replaces the file atomically.
func editAlternates(dir string, add bool) error {
	etc := filepath.Dir(alternatesFile)
	if err := os.MkdirAll(etc, 0o755); err != nil {
		return err
	}
	lock, err := os.Open(etc)
	if err != nil {
		return err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("pfinst: lock %s: %w", etc, err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)

	old, err := os.ReadFile(alternatesFile)
	switch {
	case os.IsNotExist(err) && add:
		old = []byte(createdMarker)
	case err != nil && !os.IsNotExist(err):
		return err
	}
	if !add && !bytes.Contains(old, []byte(dir)) {
		if string(old) == createdMarker {
			// Created here; its last entry was removed by a program that
			// does not remove the file.
			return os.Remove(alternatesFile)
		}
		return nil
	}
	updated := setAlternates(string(old), dir, add)
	if !add && updated == createdMarker {
		return os.Remove(alternatesFile)
	}
	mode := os.FileMode(0o644)
	if st, err := os.Stat(alternatesFile); err == nil {
		mode = st.Mode().Perm()
	}
	tmp := alternatesFile + ".pfinst-tmp"
	if err := os.WriteFile(tmp, []byte(updated), mode); err != nil {
		return err
	}
	if err := os.Rename(tmp, alternatesFile); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// setAlternates returns main.cf text with dir added to or removed from the
// last alternate_config_directories setting (a logical line: continuation
// lines start with white space). A setting left empty by a removal is
// dropped; a missing one is appended.
func setAlternates(text, dir string, add bool) string {
	lines := strings.SplitAfter(text, "\n")
	if len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	start, end := -1, -1 // the setting's lines [start, end)
	for i := 0; i < len(lines); i++ {
		name, _, ok := strings.Cut(lines[i], "=")
		if !ok || lines[i] == "" || lines[i][0] == ' ' || lines[i][0] == '\t' || lines[i][0] == '#' {
			continue
		}
		if strings.TrimSpace(name) != alternatesParam {
			continue
		}
		j := i + 1
		for j < len(lines) && len(lines[j]) > 0 && (lines[j][0] == ' ' || lines[j][0] == '\t') {
			j++
		}
		start, end = i, j
	}
	var vals []string
	if start >= 0 {
		logical := strings.Join(lines[start:end], " ")
		_, v, _ := strings.Cut(logical, "=")
		vals = strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' || r == '\r' })
	}
	kept := vals[:0:0]
	for _, v := range vals {
		if v != dir {
			kept = append(kept, v)
		}
	}
	if add {
		kept = append(kept, dir)
	}
	var setting []string
	if len(kept) > 0 {
		setting = []string{alternatesParam + " = " + strings.Join(kept, " ") + "\n"}
	}
	var out []string
	if start >= 0 {
		out = append(append(append(out, lines[:start]...), setting...), lines[end:]...)
	} else {
		out = lines
		if len(out) > 0 && !strings.HasSuffix(out[len(out)-1], "\n") {
			out[len(out)-1] += "\n"
		}
		out = append(out, setting...)
	}
	return strings.Join(out, "")
}
