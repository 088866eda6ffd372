package pipeline

import (
	"fmt"

	"github.com/reprieve/reprieve/internal/config"
)

// ynode is a YAML value with the line it starts on (the config dialect
// shared with the policy file): the loader works on these so every
// message can name the line that is wrong.
type ynode = config.Node

// describe names a value for messages: "a mapping", "a list", "nothing",
// or the scalar itself (quoted when a string).
func describe(n *ynode) string {
	switch n.Kind {
	case config.Map:
		return "a mapping"
	case config.List:
		return "a list"
	case config.Null:
		return "nothing"
	}
	if s, ok := n.Value.(string); ok {
		return fmt.Sprintf("%q", s)
	}
	return fmt.Sprint(n.Value)
}
