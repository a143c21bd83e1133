package store

import "time"

//go:generate go run ./internal/genobserved

// Observer is told of every call of a Store method: the method's name, how long the call took
// and the error it returned (nil on success).
type Observer func(method string, took time.Duration, err error)

// Observe returns st with every call of a Store method reported to obs. The wrapper is generated
// from the Store interface (go generate ./store/); a method added since passes through unobserved
// until it is generated again, and a test says so.
func Observe(st Store, obs Observer) Store { return &observed{Store: st, obs: obs} }

// observed is the generated wrapper (observed_gen.go): one method per Store method.
type observed struct {
	Store
	obs Observer
}

func (o *observed) done(method string, start time.Time, err *error) {
	var e error
	if err != nil {
		e = *err
	}
	o.obs(method, time.Since(start), e)
}
