package daemon

import (
	"testing"

	"mapgate/lookup"
)

// TestFrontOptions: the front's maps run no search of their own; the
// socketmap maps keep theirs.
func TestFrontOptions(t *testing.T) {
	o := lookup.DefaultMapOptions("+")
	o.PropagateExtension = true
	o.DomainSearch = lookup.DomainParent
	got := frontOptions(o)
	if got.AddressSearch || got.PropagateExtension || got.FoldCase || got.DomainSearch != lookup.DomainExact {
		t.Errorf("front options %+v: want every search off", got)
	}
	if !o.AddressSearch || !o.PropagateExtension {
		t.Errorf("frontOptions changed the socketmap options: %+v", o)
	}
	if got.SMTPUTF8 != o.SMTPUTF8 || got.RecipientDelimiter != o.RecipientDelimiter {
		t.Errorf("front options %+v: want smtputf8 and the delimiter kept", got)
	}
}
