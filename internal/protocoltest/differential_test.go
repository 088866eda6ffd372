package protocoltest

import (
	"fmt"
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"

	"github.com/reprieve/reprieve/internal/beanstalk"
)

// TestDifferentialRandom sends the same random command streams to Reprieve
// and to beanstalkd and compares the replies byte for byte (the values of
// stats dictionaries excepted: ages, pids and times differ).
func TestDifferentialRandom(t *testing.T) {
	const streams, commands = 24, 150
	for i := 0; i < streams; i++ {
		t.Run(fmt.Sprint("seed", i), func(t *testing.T) {
			t.Parallel()
			rng := rand.New(rand.NewPCG(uint64(i), 42))
			stream := randomStream(rng, commands)
			ours := exchange(t, startReprieve(t, Config{MaxJobSize: 100}).Addr, stream)
			theirs := exchange(t, startBeanstalkd(t, Config{MaxJobSize: 100}).Addr, stream)
			if ours == "" {
				t.Fatalf("reprieve sent no reply to stream %q", stream)
			}
			if ours != theirs {
				i := 0
				for i < len(ours) && i < len(theirs) && ours[i] == theirs[i] {
					i++
				}
				from := max(0, i-200)
				t.Fatalf("replies differ at byte %d for stream %q:\nreprieve:   ...%q\nbeanstalkd: ...%q",
					i, stream, ours[from:min(len(ours), i+200)], theirs[from:min(len(theirs), i+200)])
			}
		})
	}
}

var (
	words = []string{
		"put", "peek", "peek-ready", "peek-delayed", "peek-buried", "reserve-with-timeout", "reserve-job",
		"delete", "release", "bury", "kick", "kick-job", "touch", "stats-job", "stats-tube", "stats", "use",
		"watch", "ignore", "list-tubes", "list-tube-used", "list-tubes-watched", "pause-tube", "bogus", "",
	}
	numbers = []string{
		"0", "1", "2", "3", "7", "1023", "1024", "4294967295", "4294967296", "18446744073709551615",
		"18446744073709551616", "-1", "+1", "x", "1x", "", " 1", "01", "99999999999999999999999",
	}
	tubes = []string{"default", "a", "b", "x_y", "-a", "a b", "a*", strings.Repeat("t", 200), strings.Repeat("t", 201), "(+/;.$)"}
	gaps  = []string{" ", " ", " ", "  ", "\t", ""}
)

// maxSkipped bounds the size of a put refused as too big in a stream: the
// servers skip its body, which the stream sends whole.
const maxSkipped = 2048

// randomStream builds commands mostly well formed, often not. A put that
// parses is followed by a body of its size, so both servers stay in step.
func randomStream(rng *rand.Rand, n int) string {
	var b strings.Builder
	pick := func(a []string) string { return a[rng.IntN(len(a))] }
	small := func() string { return fmt.Sprint(rng.IntN(6)) }
	put := func() string { return fmt.Sprintf("put %d %d 60 %d", rng.IntN(3)*1000, rng.IntN(2)*100, rng.IntN(106)) }
	valid := []func() string{
		put, put, put, put,
		func() string { return "reserve-with-timeout 0" },
		func() string { return "reserve-job " + small() },
		func() string { return "delete " + small() },
		func() string { return "release " + small() + " " + small() + " " + pick([]string{"0", "100"}) },
		func() string { return "bury " + small() + " " + small() },
		func() string { return "touch " + small() },
		func() string { return "kick " + small() },
		func() string { return "kick-job " + small() },
		func() string { return "peek " + small() },
		func() string { return pick([]string{"peek-ready", "peek-delayed", "peek-buried"}) },
		func() string { return "stats-job " + small() },
		func() string {
			return pick([]string{"use", "watch", "ignore", "stats-tube"}) + " " + pick([]string{"default", "a", "b"})
		},
		func() string { return pick([]string{"list-tubes", "list-tube-used", "list-tubes-watched"}) },
	}
	for i := 0; i < n; i++ {
		if rng.IntN(2) == 0 {
			line := valid[rng.IntN(len(valid))]()
			b.WriteString(line + "\r\n")
			var c beanstalk.Command
			if beanstalk.ParseCommand([]byte(line), &c); c.Op == beanstalk.OpPut {
				b.WriteString(strings.Repeat("v", int(c.Size)) + "\r\n")
			}
			continue
		}
		w := pick(words)
		line := w
		args := rng.IntN(5)
		if w == "put" && rng.IntN(3) > 0 {
			args = 4
		}
		for a := 0; a < args; a++ {
			if w == "use" || w == "watch" || w == "ignore" || w == "stats-tube" || (w == "pause-tube" && a == 0) {
				line += pick(gaps) + pick(tubes)
			} else {
				line += pick(gaps) + pick(numbers)
			}
		}
		if w == "reserve-with-timeout" {
			line = w + " " + pick([]string{"0", "", "abc", "-0", "0x"}) // never block
		}
		if w == "pause-tube" && args > 0 {
			line = "pause-tube " + pick(tubes) + " 0"
		}
		if rng.IntN(30) == 0 {
			line += "\x00"
		}
		var c beanstalk.Command
		err := beanstalk.ParseCommand([]byte(line), &c)
		if c.Op == beanstalk.OpPut && c.Size > maxSkipped {
			continue // the servers would skip more than the rest of the stream
		}
		b.WriteString(line + "\r\n")
		if c.Op == beanstalk.OpPut && (err == nil || c.Size > 100) {
			b.WriteString(strings.Repeat("b", int(c.Size)) + "\r\n")
		}
	}
	return b.String()
}

// endTube names the tube of the command sent after each stream: its reply
// marks the end of the stream's replies, since no stream uses that tube.
const endTube = "end.of.stream"

// exchange sends stream and then "use endTube" on a new connection and
// returns every reply before USING endTube, read by the protocol's framing
// (a line, and the data it announces), with stats dictionaries reduced to
// their keys. Every wait for a reply is bounded by replyTimeout.
func exchange(t *testing.T, addr, stream string) string {
	t.Helper()
	c := Dial(t, addr)
	c.Send(stream + "use " + endTube + "\r\n")
	var out strings.Builder
	for {
		r := c.Reply()
		if r == "USING "+endTube+"\r\n" {
			break
		}
		out.WriteString(r)
	}
	c.Close()
	return dictReply.ReplaceAllString(out.String(), "OK <dict $1>\r\n")
}

// dictReply matches a stats reply; its first key tells which it is.
var dictReply = regexp.MustCompile(`OK \d+\r\n---\n([a-z-]+): [^\r]*\r\n`)
