package broker

import "time"

// OldestReady returns how long ago the oldest ready job of the tube called
// name was put, and false if the tube has no ready job or does not exist.
// It looks at every ready job of the tube under the engine's lock: a
// scrape's cost, linear in the tube's ready jobs.
func (b *Broker) OldestReady(name string) (time.Duration, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	t := b.tubes[name]
	if t == nil || len(t.ready.a) == 0 {
		return 0, false
	}
	oldest := t.ready.a[0].Created
	for _, r := range t.ready.a[1:] {
		if r.Created.Before(oldest) {
			oldest = r.Created
		}
	}
	return b.now().Sub(oldest), true
}
