package main

// This file lets every flag of serve and run come from an environment
// variable or from a section of a YAML file as well as from the command
// line: flag > environment > file > default. It works over any
// flag.FlagSet: the command line is parsed first, then each flag it did not
// set is set from REPRIEVE_<NAME> (upper case, - as _) if that is set, else
// from the key NAME of the file's section (serve: or run:).

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"strings"

	"github.com/reprieve/reprieve/internal/config"
)

// setting is one flag's effective value and where it came from.
type setting struct {
	Value  string `json:"value"`
	Source string `json:"source"` // "flag", "env REPRIEVE_…", "FILE:LINE" or "default"
}

// settings are a command's effective flags, by name.
type settings map[string]setting

// effective holds the settings of the serve or run command this process
// runs, set once before it starts serving; the debug log and the admin
// API show them.
var effective settings

// envName is the environment variable of flag name.
func envName(name string) string {
	return "REPRIEVE_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

// loadSettings completes fs, parsed from the command line, from the
// process's environment and the section of file (or of $REPRIEVE_CONFIG
// when file is ""), and keeps the result in effective.
func loadSettings(fs *flag.FlagSet, section, file string) error {
	if file == "" {
		file = os.Getenv(envName("config"))
	}
	st, err := applySettings(fs, section, file, os.Getenv)
	if err != nil {
		return err
	}
	effective = st
	return nil
}

// applySettings completes fs, already parsed from the command line, from
// the environment and from section of file ("" for none), and returns the
// effective value of every flag. Errors name the variable or the file's
// line and the flag's complaint.
func applySettings(fs *flag.FlagSet, section, file string, getenv func(string) string) (settings, error) {
	out := settings{}
	fs.Visit(func(f *flag.Flag) { out[f.Name] = setting{f.Value.String(), "flag"} })
	var fields map[string]config.Field
	if file != "" {
		var err error
		if fields, err = readSection(file, section); err != nil {
			return nil, err
		}
		for key, f := range fields {
			if fs.Lookup(key) == nil {
				return nil, fmt.Errorf("%s:%d: %s.%s: no such flag of reprieve %s (reprieve %s --help lists them)", file, f.Line, section, key, fs.Name(), fs.Name())
			}
		}
	}
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		if _, set := out[f.Name]; set {
			return
		}
		if v := getenv(envName(f.Name)); v != "" {
			if err := fs.Set(f.Name, v); err != nil {
				errs = append(errs, fmt.Errorf("%s=%s: %w", envName(f.Name), v, err))
				return
			}
			out[f.Name] = setting{f.Value.String(), "env " + envName(f.Name)}
			return
		}
		if fd, ok := fields[f.Name]; ok {
			vals, err := scalars(fd.Value)
			for _, v := range vals {
				if err == nil {
					err = fs.Set(f.Name, v)
				}
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("%s:%d: %s.%s: %w", file, fd.Line, section, f.Name, err))
				return
			}
			out[f.Name] = setting{f.Value.String(), fmt.Sprintf("%s:%d", file, fd.Line)}
			return
		}
		out[f.Name] = setting{f.Value.String(), "default"}
	})
	return out, errors.Join(errs...)
}

// readSection reads the keys of section in the YAML file; a file without
// the section gives none.
func readSection(file, section string) (map[string]config.Field, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	root, err := config.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s:%w", file, err)
	}
	out := map[string]config.Field{}
	sec := root.Get(section)
	if sec == nil || sec.Kind == config.Null {
		return out, nil
	}
	if sec.Kind != config.Map {
		return nil, fmt.Errorf("%s:%d: %s: is %s; write the flags as keys beneath it (e.g. %s:\\n  listen: 127.0.0.1:11300)", file, sec.Line, section, sec.Describe(), section)
	}
	for _, f := range sec.Fields {
		out[f.Key] = f
	}
	return out, nil
}

// scalars returns a key's value as flag values: one for a scalar, one per
// item for a list (a repeatable flag).
func scalars(n *config.Node) ([]string, error) {
	switch n.Kind {
	case config.Scalar:
		return []string{n.Text}, nil
	case config.List:
		var out []string
		for _, it := range n.Items {
			if it.Kind != config.Scalar {
				return nil, fmt.Errorf("a list item is %s; write single values", it.Describe())
			}
			out = append(out, it.Text)
		}
		return out, nil
	case config.Null:
		return []string{""}, nil
	}
	return nil, fmt.Errorf("is %s; write a single value", n.Describe())
}

// secret reports whether a flag's value must not be shown.
func secret(name string) bool {
	return strings.Contains(name, "token") && !strings.HasSuffix(name, "-file")
}

// shown returns s with secret values replaced.
func (s settings) shown() settings {
	out := make(settings, len(s))
	for k, v := range s {
		if secret(k) && v.Value != "" {
			v.Value = "(set, not shown)"
		}
		out[k] = v
	}
	return out
}

// log writes the effective settings at debug level, one line per flag.
func (s settings) log(log *slog.Logger) {
	names := make([]string, 0, len(s))
	for k := range s {
		names = append(names, k)
	}
	sort.Strings(names)
	shown := s.shown()
	for _, k := range names {
		log.Debug("setting", "flag", k, "value", shown[k].Value, "source", shown[k].Source)
	}
}
