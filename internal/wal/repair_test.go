package wal

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRepairSalvagesAroundDamage damages two records in the middle of a
// segment: Open refuses, Repair keeps every other record and says what it
// dropped, and Open then recovers the jobs of the surviving records.
func TestRepairSalvagesAroundDamage(t *testing.T) {
	seg, offs := writeScript(t)
	bad := append([]byte(nil), seg...)
	bad[offs[2]+frameHeaderSize+20] ^= 0xff // the put of job 2
	bad[offs[7]+3] ^= 0x01                  // the length of job 3's delete
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "hot"), 0o755)
	path := filepath.Join(dir, "hot", segmentName(1))
	os.WriteFile(path, bad, 0o644)
	if _, _, err := Open(testOptions(dir)); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Open before repair: %v", err)
	}

	dry, err := Repair(dir, true)
	if err != nil || len(dry.Damaged) != 1 || !dry.DryRun || !strings.HasPrefix(dry.BackupDir, filepath.Join(dir, "repair-")) {
		t.Fatalf("dry run: %+v, %v", dry, err)
	}
	if text := dry.String(); !strings.Contains(text, "originals would be kept in "+dry.BackupDir) || !strings.Contains(text, "dropped records of job(s) 2, 3") {
		t.Fatalf("dry run report does not name the backup directory and the jobs:\n%s", text)
	}
	if _, err := os.Stat(dry.BackupDir); !os.IsNotExist(err) {
		t.Fatalf("dry run created %s: %v", dry.BackupDir, err)
	}
	if b, _ := os.ReadFile(path); string(b) != string(bad) {
		t.Fatal("dry run changed the segment")
	}

	rep, err := Repair(dir, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Damaged) != 1 || len(rep.Damaged[0].Dropped) != 2 || rep.Damaged[0].Kept != len(offs)-2 {
		t.Fatalf("report: %+v", rep)
	}
	if d := rep.Damaged[0].Dropped; d[0].Off != int64(offs[2]) || d[1].Off != int64(offs[7]) {
		t.Fatalf("dropped ranges %+v, want offsets %d and %d", d, offs[2], offs[7])
	}
	text := rep.String()
	for _, want := range []string{segmentName(1), "kept 12 records", "checksum mismatch", "originals kept in " + rep.BackupDir, "dropped records of job(s) 2, 3"} {
		if !strings.Contains(text, want) {
			t.Fatalf("report does not mention %q:\n%s", want, text)
		}
	}
	if b, err := os.ReadFile(filepath.Join(rep.BackupDir, "hot", segmentName(1))); err != nil || string(b) != string(bad) {
		t.Fatalf("backup of the damaged segment missing or different: %v", err)
	}

	l, rec := openLog(t, testOptions(dir))
	mustClose(t, l)
	got := jobsByID(rec)
	// Job 2's put is lost (its updates are orphans); job 3's delete is
	// lost, so job 3 comes back; the rest is as the script left it.
	want := model(len(script))
	delete(want, 2)
	want[3] = 1024
	if len(got) != len(want) {
		t.Fatalf("after repair %d jobs, want %d: %v", len(got), len(want), got)
	}
	for id, pri := range want {
		if got[id] == nil || got[id].Priority != pri {
			t.Fatalf("after repair job %d = %+v, want priority %d", id, got[id], pri)
		}
	}
	again, err := Repair(dir, false)
	if err != nil || len(again.Damaged) != 0 {
		t.Fatalf("second repair: %+v, %v", again, err)
	}
}

func TestRepairRefusesWhileOpen(t *testing.T) {
	dir := t.TempDir()
	l, _ := openLog(t, testOptions(dir))
	defer mustClose(t, l)
	if _, err := Repair(dir, false); !errors.Is(err, ErrLocked) {
		t.Fatalf("Repair beside an open log: %v", err)
	}
}
