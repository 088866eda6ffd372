package jobcodec

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/reprieve/reprieve/internal/job"
)

var errBad = errors.New("test: bad")

func fullJob() *job.Job {
	at := time.Unix(1_700_000_000, 123)
	return &job.Job{ID: 7, Tube: "emails", Body: []byte("hello"), Priority: 1 << 31, Delay: -time.Second, TTR: time.Minute,
		State: job.Buried, Created: at, Deadline: at.Add(time.Hour), Reserves: 1, Timeouts: 2, Releases: 3, Buries: 4, Kicks: 5,
		Failure: &job.Failure{Attempts: 3, FirstError: "a", LastError: "b", FirstAt: at, LastAt: at.Add(time.Second),
			RetryFrom: at, Origin: "o", GaveUp: "buried", Kicks: 1, KickedAt: at.Add(2 * time.Second)}}
}

func TestJobRoundTrip(t *testing.T) {
	for _, want := range []*job.Job{fullJob(), {ID: 7, Tube: "t", State: job.Ready, Body: []byte{}}} {
		d := Decoder{B: AppendJob(nil, want), Bad: errBad}
		got := &job.Job{ID: want.ID}
		d.Job(got)
		if err := d.End(); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("decoded\n%+v\nwant\n%+v", got, want)
		}
	}
}

// TestTruncatedAndTrailing: every prefix of an encoded job fails with
// the format's sentinel, naming a field; a trailing byte fails End.
func TestTruncatedAndTrailing(t *testing.T) {
	b := AppendJob(nil, fullJob())
	for n := range len(b) {
		d := Decoder{B: b[:n], Bad: errBad}
		d.Job(&job.Job{})
		if err := d.End(); !errors.Is(err, errBad) {
			t.Fatalf("prefix of %d of %d bytes: %v, want errBad", n, len(b), err)
		}
	}
	d := Decoder{B: append(b, 0), Bad: errBad}
	d.Job(&job.Job{})
	if err := d.End(); !errors.Is(err, errBad) || err.Error() != "test: bad: bad length (trailing bytes)" {
		t.Fatalf("trailing byte: %v", err)
	}
	bad := Decoder{B: []byte{9}, Bad: errBad}
	if bad.State(); bad.Err == nil || bad.Err.Error() != "test: bad: bad state" {
		t.Fatalf("state 9: %v", bad.Err)
	}
}
