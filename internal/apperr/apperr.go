// Package apperr is the error vocabulary shared by services and controllers: services say what went wrong
// (a Kind and a message), controllers turn the Kind into an HTTP status or a socket ack.
package apperr

import (
	"errors"
	"fmt"
	"time"
)

// Kind classifies an error for the client. The string is the wire `code`.
type Kind string

const (
	Invalid            Kind = "invalid_input"
	Unauthorized       Kind = "unauthorized"
	TokenExpired       Kind = "token_expired"
	InvalidCredentials Kind = "invalid_credentials"
	Forbidden          Kind = "forbidden"
	NotFound           Kind = "not_found"
	Conflict           Kind = "conflict"
	Gone               Kind = "gone"
	TooLarge           Kind = "payload_too_large"
	RateLimited        Kind = "rate_limited"
	LimitReached       Kind = "limit_reached" // a quota (servers per user, channels per server, ...) is full
	// EncryptionRequired: plaintext sent into an end-to-end encrypted DM; seal it and send it again.
	EncryptionRequired Kind = "encryption_required"
	// RotationOverdue: the key service refuses messages in the MLS group's epoch until a member commits a rotation.
	RotationOverdue Kind = "rotation_overdue"
	// StaleEpoch: the message was sealed in an epoch the group has moved past; catch up on its Commits and reseal.
	StaleEpoch  Kind = "stale_epoch"
	Unavailable Kind = "unavailable"
	Internal    Kind = "internal"
)

// Error is an error a client may see. Field names the offending input for Invalid errors.
type Error struct {
	Kind       Kind
	Message    string
	Field      string
	RetryAfter time.Duration // for RateLimited
	Err        error         // the cause, logged but never shown to clients
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Kind, e.Message, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Kind, e.Message)
}

func (e *Error) Unwrap() error { return e.Err }

// Retryable says whether the same request may succeed later without change.
func (e *Error) Retryable() bool {
	return e.Kind == RateLimited || e.Kind == Unavailable || e.Kind == Internal
}

// New makes an error of a kind with a client-facing message.
func New(kind Kind, message string) *Error {
	return &Error{Kind: kind, Message: message}
}

// InvalidField is a validation error naming the field.
func InvalidField(field, message string) *Error {
	return &Error{Kind: Invalid, Field: field, Message: message}
}

// Wrap hides an internal cause behind a generic message of the given kind.
func Wrap(kind Kind, err error, message string) *Error {
	return &Error{Kind: kind, Message: message, Err: err}
}

// RateLimit says the caller must wait.
func RateLimit(retryAfter time.Duration) *Error {
	return &Error{Kind: RateLimited, Message: "too many requests, slow down", RetryAfter: retryAfter}
}

// As returns the *Error inside err, or an Internal error wrapping it.
func As(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Kind: Internal, Message: "internal error", Err: err}
}

// Is reports whether err is an *Error of the given kind.
func Is(err error, kind Kind) bool {
	var e *Error
	return errors.As(err, &e) && e.Kind == kind
}
