package store_test

import (
	"context"
	"reflect"
	"testing"
	"time"

	"rolegate/store"
)

// Every method of the Store interface is observed: a method added to the interface without
// go generate would pass through the wrapper unseen.
func TestEveryStoreMethodIsObserved(t *testing.T) {
	var seen []string
	st := store.Observe(nil, func(m string, _ time.Duration, _ error) { seen = append(seen, m) })
	typ := reflect.TypeFor[store.Store]()
	for i := range typ.NumMethod() {
		m := typ.Method(i)
		seen = nil
		fn := reflect.ValueOf(st).MethodByName(m.Name)
		args := make([]reflect.Value, fn.Type().NumIn())
		for j := range args {
			args[j] = reflect.Zero(fn.Type().In(j))
		}
		func() {
			defer func() { recover() }() // the nil inner Store panics once the call is under way
			if fn.Type().IsVariadic() {
				fn.CallSlice(args)
			} else {
				fn.Call(args)
			}
		}()
		if len(seen) != 1 || seen[0] != m.Name {
			t.Errorf("%s is not observed (saw %q): run go generate ./store/", m.Name, seen)
		}
	}
}

type notFoundStore struct{ store.Store }

func (notFoundStore) GetUser(context.Context, string) (*store.User, error) {
	return nil, store.Errorf(store.NotFound, "no user")
}

func (notFoundStore) GetAccount(_ context.Context, id string) (*store.Account, error) {
	return &store.Account{ID: id}, nil
}

func TestAnObservedCallReportsItsErrorAndPassesItsResultsOn(t *testing.T) {
	type call struct {
		method string
		code   store.Code
	}
	var got []call
	st := store.Observe(notFoundStore{}, func(m string, took time.Duration, err error) {
		if took < 0 {
			t.Errorf("%s took %v", m, took)
		}
		c := call{method: m}
		if err != nil {
			c.code = store.ErrorCode(err)
		}
		got = append(got, c)
	})
	if _, err := st.GetUser(context.Background(), "x"); !store.IsCode(err, store.NotFound) {
		t.Fatalf("GetUser: %v", err)
	}
	if a, err := st.GetAccount(context.Background(), "111122223333"); err != nil || a.ID != "111122223333" {
		t.Fatalf("GetAccount: %v %v", a, err)
	}
	want := []call{{"GetUser", store.NotFound}, {"GetAccount", ""}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("observed %v, want %v", got, want)
	}
}
