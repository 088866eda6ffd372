package config

import (
	"testing"
	"time"
)

func TestParseDuration(t *testing.T) {
	cases := []struct {
		in   string
		want time.Duration
		err  string
	}{
		{"1m", time.Minute, ""},
		{"72h", 72 * time.Hour, ""},
		{"3d", 72 * time.Hour, ""},
		{"1d12h", 36 * time.Hour, ""},
		{"2w", 14 * 24 * time.Hour, ""},
		{"1.5h", 90 * time.Minute, ""},
		{"1m30s", 90 * time.Second, ""},
		{"500ms", 500 * time.Millisecond, ""},
		{"0", 0, ""},
		{"30", 30 * time.Second, ""},
		{"0.5", 500 * time.Millisecond, ""},
		{" 10 ", 10 * time.Second, ""},
		{"-1m", -time.Minute, ""},
		{"-5", -5 * time.Second, ""},
		{"1y", 0, `"1y" has an unknown unit "y"`},
		{"1e3", 0, `"1e3" has an unknown unit "e"`},
		{"NaN", 0, `"NaN" is not a duration`},
		{"m", 0, `"m" is not a duration`},
		{"", 0, "empty duration"},
		{"300000000000d", 0, `"300000000000d" is too long`},
	}
	for _, tc := range cases {
		d, err := ParseDuration(tc.in)
		if tc.err != "" {
			if err == nil || err.Error() != tc.err {
				t.Errorf("ParseDuration(%q) = %v, error %v; want error %s", tc.in, d, err, tc.err)
			}
			continue
		}
		if err != nil || d != tc.want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", tc.in, d, err, tc.want)
		}
	}
	for d, want := range map[time.Duration]string{time.Minute: "1m", 90 * time.Second: "1m30s", time.Hour: "1h", 10 * time.Second: "10s",
		72 * time.Hour: "3d", 36 * time.Hour: "1d12h", 0: "0", 30 * time.Minute: "30m", -time.Minute: "-1m"} {
		if got := FormatDuration(d); got != want {
			t.Errorf("FormatDuration(%v) = %q, want %q", d, got, want)
		}
		if back, err := ParseDuration(want); err != nil || back != d {
			t.Errorf("ParseDuration(FormatDuration(%v)) = %v, %v", d, back, err)
		}
	}
}

func TestParseSize(t *testing.T) {
	ok := map[string]int64{
		"0": 0, "1000": 1000, "1_000": 1000, "10b": 10, "10B": 10,
		"64m": 64 << 20, "64M": 64 << 20, "64MB": 64 << 20, "64mb": 64 << 20, "64MiB": 64 << 20, "64 MiB": 64 << 20,
		"16k": 16 << 10, "16KB": 16 << 10, "1.5KiB": 1536, "2 GB": 2 << 30, "1g": 1 << 30, "1t": 1 << 40, "-1MB": -(1 << 20),
	}
	for in, want := range ok {
		if got, err := ParseSize(in); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	bad := map[string]string{
		"":          `"" is not a size`,
		"MB":        `"MB" is not a size`,
		"5 parsecs": `"5 parsecs" has an unknown unit "parsecs"`,
		"12q":       `"12q" has an unknown unit "q"`,
		"9000000t":  `"9000000t" is too large`,
	}
	for in, want := range bad {
		if got, err := ParseSize(in); err == nil || err.Error() != want {
			t.Errorf("ParseSize(%q) = %d, %v; want error %s", in, got, err, want)
		}
	}
	for n, want := range map[int64]string{64 << 20: "64MiB", 1536: "1536", 3 << 10: "3KiB", 0: "0", 1 << 40: "1TiB"} {
		if got := FormatSize(n); got != want {
			t.Errorf("FormatSize(%d) = %q, want %q", n, got, want)
		}
	}
}
