package stats

import (
	"reflect"
	"testing"
	"time"

	"github.com/reprieve/reprieve/internal/beanstalk"
)

// Each kind of value, as the wire prints it and as JSON types it.
func TestValueWireAndJSON(t *testing.T) {
	at := time.Date(2026, 3, 4, 5, 6, 7, 0, time.FixedZone("x", 3600))
	for _, tt := range []struct {
		v    Value
		wire string
		json any
	}{
		{Uint(uint32(7)), "7", uint64(7)},
		{Int(-1), "-1", int64(-1)},
		{Bool(true), "true", true},
		{Text("1234"), "1234", "1234"},
		{Quoted("a \"b\""), `"a \"b\""`, `a "b"`},
		{Seconds(2999 * time.Millisecond), "2", int64(2)},
		{Micros(1500 * time.Microsecond), "0.001500", 0.0015},
		{Time(at), `"2026-03-04T04:06:07Z"`, "2026-03-04T04:06:07Z"},
		{Time(time.Time{}), `""`, nil},
		{Raw("12"), "12", int64(12)},
		{Raw("18446744073709551615"), "18446744073709551615", uint64(18446744073709551615)},
		{Raw("0.5"), "0.5", 0.5},
		{Raw("false"), "false", false},
		{Raw("interval=50ms"), "interval=50ms", "interval=50ms"},
		{Raw("1e3"), "1e3", "1e3"},
	} {
		var d beanstalk.Dict
		tt.v.write(&d, "k")
		if got, want := string(d.Bytes()), "---\nk: "+tt.wire+"\n"; got != want {
			t.Errorf("%+v on the wire: %q, want %q", tt.v, got, want)
		}
		if got := tt.v.JSON(); !reflect.DeepEqual(got, tt.json) {
			t.Errorf("%+v as JSON: %#v, want %#v", tt.v, got, tt.json)
		}
	}
}
