package beanstalk

import (
	"reflect"
	"testing"
	"time"
)

func TestDictBytesAndKeyValues(t *testing.T) {
	var d Dict
	d.Uint("current-jobs-ready", 3)
	d.Int("binlog-oldest-index", -1)
	d.Micros("rusage-utime", 1500*time.Microsecond)
	d.Seconds("uptime", 2500*time.Millisecond)
	d.Quoted("version", "0.1.0")
	d.Str("name", "mail")
	d.Bool("draining", false)
	d.Add(KeyValue{"wal-fsync", "interval"})
	want := "---\ncurrent-jobs-ready: 3\nbinlog-oldest-index: -1\nrusage-utime: 0.001500\nuptime: 2\nversion: \"0.1.0\"\nname: mail\ndraining: false\nwal-fsync: interval\n"
	if got := string(d.Bytes()); got != want {
		t.Fatalf("Bytes:\n%q\nwant\n%q", got, want)
	}
	kvs := d.KeyValues()
	wantKVs := []KeyValue{
		{"current-jobs-ready", "3"}, {"binlog-oldest-index", "-1"}, {"rusage-utime", "0.001500"},
		{"uptime", "2"}, {"version", "0.1.0"}, {"name", "mail"}, {"draining", "false"}, {"wal-fsync", "interval"},
	}
	if !reflect.DeepEqual(kvs, wantKVs) {
		t.Errorf("KeyValues:\n%v\nwant\n%v", kvs, wantKVs)
	}
	d.Reset()
	if kvs := d.KeyValues(); len(kvs) != 0 {
		t.Errorf("KeyValues after Reset = %v, want none", kvs)
	}
}
