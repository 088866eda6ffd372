package module

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// The committed offset moves only over a finished prefix of the records,
// whatever order they finish in, and the file follows it.
func TestCommitterOutOfOrder(t *testing.T) {
	tests := []struct {
		name   string
		ends   []int64
		order  []int // indexes into ends, in finishing order
		commit []int64
	}{
		{"in order", []int64{10, 20, 30}, []int{0, 1, 2}, []int64{10, 20, 30}},
		{"reversed", []int64{10, 20, 30}, []int{2, 1, 0}, []int64{0, 0, 30}},
		{"middle first", []int64{10, 20, 30}, []int{1, 0, 2}, []int64{0, 20, 30}},
		{"twice", []int64{10, 20}, []int{0, 0, 1}, []int64{10, 10, 20}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "off")
			c, err := openCommitter(path, 1<<30)
			if err != nil {
				t.Fatal(err)
			}
			seqs := make([]uint64, len(tt.ends))
			for i, e := range tt.ends {
				seqs[i] = c.add(e)
			}
			for i, idx := range tt.order {
				c.done(seqs[idx])
				if got := c.position(); got != tt.commit[i] {
					t.Fatalf("after finishing #%d: committed %d, want %d", idx, got, tt.commit[i])
				}
			}
			if err := c.wait(context.Background()); err != nil {
				t.Fatal(err)
			}
			// commit_every is huge, so the file was written when nothing
			// was left in flight.
			b, _ := os.ReadFile(path)
			if want := tt.commit[len(tt.commit)-1]; string(b) != strconv.FormatInt(want, 10)+"\n" {
				t.Fatalf("offset file %q, want %d", b, want)
			}
			again, err := openCommitter(path, 1)
			if err != nil || again.position() != tt.commit[len(tt.commit)-1] {
				t.Fatalf("reopened at %d (%v)", again.position(), err)
			}
		})
	}
}

func TestCommitterAbortAndBadFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "off")
	c, _ := openCommitter(path, 1)
	s1 := c.add(5)
	s2 := c.add(9)
	c.abort(s2) // never emitted
	c.done(s1)
	if c.position() != 5 {
		t.Fatalf("position %d, want 5", c.position())
	}
	if err := c.wait(context.Background()); err != nil {
		t.Fatal("wait blocked on an aborted record")
	}
	os.WriteFile(path, []byte("banana\n"), 0o644)
	if _, err := openCommitter(path, 1); !errors.Is(err, ErrBadOffset) {
		t.Fatalf("bad file: %v", err)
	}
}
