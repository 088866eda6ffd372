package client_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/reprieve/reprieve/client"
)

func TestParseStats(t *testing.T) {
	for _, tc := range []struct {
		body     string
		keys     string
		version  string
		wantFail bool
	}{
		{body: "---\nid: 1\nversion: \"1.12\"\n", keys: "[id version]", version: "1.12"},
		{body: "---\nos: #1 SMP PREEMPT: x\nversion: 1.12\n", keys: "[os version]", version: "1.12"},
		{body: "---\n", keys: "[]"},
		{body: "", keys: "[]"},
		{body: "id: 1\n", wantFail: true},
		{body: "---\nno colon here\n", wantFail: true},
	} {
		s, keys, err := client.ParseStats([]byte(tc.body))
		if tc.wantFail {
			if err == nil {
				t.Errorf("ParseStats(%q) = %v; want an error", tc.body, s)
			}
			continue
		}
		if err != nil || fmt.Sprint(keys) != tc.keys || s.Text("version") != tc.version {
			t.Errorf("ParseStats(%q) = %v %v, %v; want keys %s version %q", tc.body, s, keys, err, tc.keys, tc.version)
		}
	}
	s, _, _ := client.ParseStats([]byte("---\nos: #1 SMP PREEMPT: x\n"))
	if s.Text("os") != "#1 SMP PREEMPT: x" {
		t.Errorf("os = %q", s.Text("os"))
	}
}

func TestParseList(t *testing.T) {
	for _, tc := range []struct {
		body, want string
		fail       bool
	}{
		{body: "---\n- default\n- a;b\n", want: "[default a;b]"},
		{body: "---\n", want: "[]"},
		{body: "---\ndefault\n", fail: true},
	} {
		got, err := client.ParseList([]byte(tc.body))
		if (err != nil) != tc.fail || (!tc.fail && fmt.Sprint(got) != tc.want) {
			t.Errorf("ParseList(%q) = %v, %v; want %s (fail %v)", tc.body, got, err, tc.want, tc.fail)
		}
	}
}

func TestStatsAccessors(t *testing.T) {
	s := client.Stats{"n": "-3", "u": "7", "f": "0.25", "b": "true", "t": "text"}
	if v, err := s.Int("n"); v != -3 || err != nil {
		t.Errorf("Int = %d, %v", v, err)
	}
	if v, err := s.Uint("u"); v != 7 || err != nil {
		t.Errorf("Uint = %d, %v", v, err)
	}
	if v, err := s.Duration("f"); v.Milliseconds() != 250 || err != nil {
		t.Errorf("Duration = %v, %v", v, err)
	}
	if v, err := s.Bool("b"); !v || err != nil {
		t.Errorf("Bool = %v, %v", v, err)
	}
	for _, bad := range []func() error{
		func() error { _, err := s.Int("t"); return err },
		func() error { _, err := s.Uint("n"); return err },
		func() error { _, err := s.Bool("t"); return err },
		func() error { _, err := s.Float("missing"); return err },
	} {
		if err := bad(); !errors.Is(err, client.ErrStatsKey) {
			t.Errorf("bad accessor = %v; want ErrStatsKey", err)
		}
	}
}

func TestValidTubeName(t *testing.T) {
	long := make([]byte, 201)
	for i := range long {
		long[i] = 'a'
	}
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"default", true}, {"a-b+c/d;e.f$g_h(i)", true}, {string(long[:200]), true},
		{"", false}, {"-x", false}, {"a b", false}, {"é", false}, {string(long), false}, {"a*", false},
	} {
		err := client.ValidTubeName(tc.name)
		if (err == nil) != tc.ok || (err != nil && !errors.Is(err, client.ErrBadTubeName)) {
			t.Errorf("ValidTubeName(%q) = %v; want ok=%v", tc.name, err, tc.ok)
		}
	}
}
