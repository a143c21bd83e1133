package store

import (
	"errors"
	"fmt"
)

// Code classifies an error. Each code maps to one HTTP status and one CLI exit status.
type Code string

const (
	Invalid      Code = "invalid"
	Unauthorized Code = "unauthorized"
	Forbidden    Code = "forbidden"
	NotFound     Code = "not_found"
	Conflict     Code = "conflict"
	Internal     Code = "internal"
	// Unavailable says the database cannot be reached or written now (down, restarting, disk
	// full, read-only): nothing the request did, and worth trying again later.
	Unavailable Code = "unavailable"
)

// Error is an application error: a code and a message fit to show the user.
// Err, when set, carries detail for the log only.
type Error struct {
	Code    Code
	Message string
	Err     error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Message + ": " + e.Err.Error()
	}
	return e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with a formatted user-facing message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, or Internal.
func ErrorCode(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return Internal
}

// ErrorMessage returns the user-facing message of err; internal errors say nothing of their cause.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) && e.Code != Internal {
		return e.Message
	}
	return "internal error"
}

// IsCode reports whether err carries code.
func IsCode(err error, code Code) bool {
	return err != nil && ErrorCode(err) == code
}

// UnavailableError returns an Unavailable error: msg names the problem for the user, err is the
// driver's error, for the log.
func UnavailableError(msg string, err error) *Error {
	return &Error{Code: Unavailable, Message: msg, Err: err}
}

// Fault reports whether err is the system's fault rather than the request's: internal, or the
// database unavailable. Such an error is never an answer about the request (never "not allowed").
func Fault(err error) bool {
	c := ErrorCode(err)
	return err != nil && (c == Internal || c == Unavailable)
}
