package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestParseNamesTheMisindentedLine: a syntax error caused by one line's
// indentation is reported at that line, not at the parser's.
func TestParseNamesTheMisindentedLine(t *testing.T) {
	for _, tt := range []struct{ name, src, want string }{
		{"deeper than a key with a value", "modules:\n  out:\n    module: output.stdout\n     arguments:\n      format: json\n",
			"4: indented 5 spaces, deeper than the line before, which opens no block beneath it; indent it as the lines of its block (with spaces)"},
		{"between two levels", "modules:\n  gen:\n    module: input.generator\n   out:\n    module: output.stdout\n",
			"4: indented 3 spaces, which lines up with no enclosing block (those use 0, 2); indent it as the lines of its block (with spaces)"},
		{"in a list of mappings", "tests:\n  - name: a\n    input: x\n     expect: y\n",
			"4: indented 5 spaces, deeper than the line before, which opens no block beneath it; indent it as the lines of its block (with spaces)"},
	} {
		_, err := Parse([]byte(tt.src))
		if err == nil || err.Error() != tt.want {
			t.Errorf("%s: %v\nwant %s", tt.name, err, tt.want)
		}
	}
}

// TestIndentMistakeAcceptsTheRepositorysYAML: every YAML file of the
// repository (pipelines, their tests, policies) reads as consistently
// indented.
func TestIndentMistakeAcceptsTheRepositorysYAML(t *testing.T) {
	var files []string
	filepath.WalkDir("../..", func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && (strings.HasSuffix(path, ".yaml") || strings.HasSuffix(path, ".yml")) && !strings.Contains(path, "/.git") {
			files = append(files, path)
		}
		return nil
	})
	if len(files) < 5 {
		t.Fatalf("found only %v", files)
	}
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Parse(src); err != nil {
			continue // a file that is wrong on purpose (testdata)
		}
		if l, what := indentMistake(src); l != 0 {
			t.Errorf("%s:%d: %s", f, l, what)
		}
	}
}
