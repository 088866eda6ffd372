package policy

import (
	"fmt"
	"sort"
	"strings"
)

// checkCycles reports every entry whose dead-letter tube leads, through
// the dead-letter tubes of the policies that match it, back to a tube
// already on the way: a dead letter that failed again there would go
// round for ever.
func checkCycles(set *Set, entries map[string]*Policy, def *Policy, defLine int, dlLines map[string]int, ps *problems) {
	names := make([]string, 0, len(entries)+1)
	for n, p := range entries {
		if p.GiveUp.Action == DeadLetter && p.GiveUp.Tube != "" {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	all := map[string]*Policy{}
	for k, v := range entries {
		all[k] = v
	}
	if def != nil && def.GiveUp.Action == DeadLetter && def.GiveUp.Tube != "" {
		names = append(names, "default")
		all["default"] = def
	}
	for _, n := range names {
		p := all[n]
		// The chain starts at the entry's own tube when it is a plain name.
		var chain []string
		seen := map[string]bool{}
		if n != "default" && !IsPattern(n) {
			chain = append(chain, n)
			seen[n] = true
		}
		t := p.GiveUp.Tube
		for {
			if seen[t] {
				chain = append(chain, t)
				path := "default.give-up.tube"
				if n != "default" {
					path = "tubes." + n + ".give-up.tube"
				}
				l := dlLines[n]
				if l == 0 {
					l = defLine
				}
				ps.add(l, path,
					fmt.Sprintf("dead-letter tubes form a cycle (%s)", strings.Join(chain, " → ")),
					fmt.Sprintf("give %q an entry of its own with give-up bury or delete", p.GiveUp.Tube))
				break
			}
			seen[t] = true
			chain = append(chain, t)
			next := set.Lookup(t)
			if next == nil || next.GiveUp.Action != DeadLetter || next.GiveUp.Tube == "" {
				break
			}
			t = next.GiveUp.Tube
		}
	}
}
