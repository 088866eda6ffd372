package broker

import "unsafe"

// A put costs two allocations when its body and its record are allocated
// apart: the body when the command is read, the record when the job is
// made. BodyBuffer lets the reader of a put ask the session for the body's
// buffer before the job exists, and hands out one that lives in the same
// allocation as the record the next Put will use.

// The record types with room for a body after the record. Each is sized
// to one of the runtime's size classes (208, 224, 256, 320, 448, 640
// bytes), so that nothing of an allocation is left unused; with rec at 192
// bytes a 64-byte body and its record take 256 bytes. An object over 512
// bytes that holds pointers carries the runtime's 8-byte malloc header in
// its allocation, so the largest type is 8 bytes short of its class. A
// rec that grows past 208 bytes stops the build here: shrink it, or redo
// the classes.
type (
	recBody208 struct {
		rec
		body [208 - unsafe.Sizeof(rec{})]byte
	}
	recBody224 struct {
		rec
		body [224 - unsafe.Sizeof(rec{})]byte
	}
	recBody256 struct {
		rec
		body [256 - unsafe.Sizeof(rec{})]byte
	}
	recBody320 struct {
		rec
		body [320 - unsafe.Sizeof(rec{})]byte
	}
	recBody448 struct {
		rec
		body [448 - unsafe.Sizeof(rec{})]byte
	}
	recBody640 struct {
		rec
		body [640 - mallocHeader - unsafe.Sizeof(rec{})]byte
	}
)

// mallocHeader is what the runtime adds to an allocation of more than 512
// bytes that holds pointers.
const mallocHeader = 8

// maxJointBody is the largest body allocated with its record.
const maxJointBody = 640 - mallocHeader - int(unsafe.Sizeof(rec{}))

func (x *recBody208) parts() (*rec, []byte) { return &x.rec, x.body[:] }
func (x *recBody224) parts() (*rec, []byte) { return &x.rec, x.body[:] }
func (x *recBody256) parts() (*rec, []byte) { return &x.rec, x.body[:] }
func (x *recBody320) parts() (*rec, []byte) { return &x.rec, x.body[:] }
func (x *recBody448) parts() (*rec, []byte) { return &x.rec, x.body[:] }
func (x *recBody640) parts() (*rec, []byte) { return &x.rec, x.body[:] }

// joint allocates a T and returns its record and a body of size bytes in
// it (size must fit).
func joint[T any, P interface {
	*T
	parts() (*rec, []byte)
}](size int) (*rec, []byte) {
	r, room := P(new(T)).parts()
	return r, room[:size:size]
}

// newRecBody returns a record and a body buffer of exactly size bytes in
// one allocation, or nil, nil for a body larger than maxJointBody.
func newRecBody(size int) (*rec, []byte) {
	const r = int(unsafe.Sizeof(rec{}))
	switch {
	case size <= 208-r:
		return joint[recBody208](size)
	case size <= 224-r:
		return joint[recBody224](size)
	case size <= 256-r:
		return joint[recBody256](size)
	case size <= 320-r:
		return joint[recBody320](size)
	case size <= 448-r:
		return joint[recBody448](size)
	case size <= maxJointBody:
		return joint[recBody640](size)
	}
	return nil, nil
}

// BodyBuffer returns a buffer of exactly size bytes for the body of the
// session's next Put. A body of up to maxJointBody (440) bytes shares one
// allocation with the record of the job that Put makes of it (one
// allocation per put instead of two); a larger one is a plain slice. Any buffer can be given
// to Put; this one saves the allocation only if it is given to the next
// Put unchanged in length. Like Put, it must be called by the goroutine
// using the session.
func (s *Session) BodyBuffer(size int) []byte {
	r, body := newRecBody(size)
	if r == nil {
		s.spare = nil
		return make([]byte, size)
	}
	r.Body = body
	s.spare = r
	return body
}

// takeRec returns the record allocated with body by BodyBuffer, if body
// is that buffer, else a new record; either way the session's spare is
// used up.
func (s *Session) takeRec(body []byte) *rec {
	r := s.spare
	s.spare = nil
	if r != nil && len(body) == len(r.Body) && (len(body) == 0 || &body[0] == &r.Body[0]) {
		return r
	}
	return new(rec)
}
