package admin

import (
	"net/http"
	"time"

	"github.com/reprieve/reprieve/internal/broker"
)

// schedules answers GET /api/v1/schedules: the periodic jobs the engine
// runs, in file order, with their next run and the last tick fired (RFC
// 3339 in UTC, null when none: no tick yet, or drain mode holds the next).
func (h *Handler) schedules(w http.ResponseWriter, _ *http.Request) {
	list := []object{}
	for _, s := range h.b.Schedules() {
		list = append(list, scheduleObject(s))
	}
	writeJSON(w, http.StatusOK, object{{"schedules", list}})
}

func scheduleObject(s broker.ScheduleStatus) object {
	var o object
	o.add("name", s.Name)
	o.add("cron", s.Cron)
	o.add("timezone", s.Timezone)
	o.add("tube", s.Tube)
	o.add("catch-up", s.CatchUp)
	o.add("next", timeOrNull(s.Next))
	o.add("last", timeOrNull(s.Last))
	o.add("fired", s.Fired)
	return o
}

// timeOrNull gives t in RFC 3339 UTC, or null for the zero time.
func timeOrNull(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format(time.RFC3339)
}
