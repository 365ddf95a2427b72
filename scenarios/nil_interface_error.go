package scenarios

import (
	"context"
	"fmt"
)

var nilInterfaceError = Scenario{
	ID:       "nil-interface-error",
	Title:    "A nil error that is not nil",
	Category: "Gotchas",
	Statement: "mayFail declares var err *MyError, never sets it, and returns it as an error. " +
		"The caller checks err != nil. Which branch runs?",
	Failure: "An interface value is a pair (dynamic type, value) and equals nil only when both " +
		"are nil. Returning a nil *MyError as error stores the type *MyError with a nil pointer, " +
		"so err != nil is true. The caller then calls err.Error(), which reads e.msg through the " +
		"nil pointer and panics. The module this puzzle comes from says that " +
		"fmt.Println(\"error:\", err) panics here: it does not. fmt recovers the nil-receiver " +
		"panic inside Error and prints <nil>, which hides the bug. Calling the method directly " +
		"shows it.",
	Fix: "Return a literal nil when there is no error, so that the interface is the nil pair. " +
		"Declare error results with the error interface type, never a concrete pointer type.",
	File: "nil_interface_error.go",
	Variants: []Variant{
		{Name: "broken", Expect: Panic, Run: nilInterfaceBroken},
		{Name: "fixed", Expect: OK, Run: nilInterfaceFixed},
	},
}

// MyError is an error type with a pointer receiver, as most are.
type MyError struct {
	msg string
}

func (e *MyError) Error() string {
	return "my error: " + e.msg
}

// mayFailBroken returns a nil *MyError, which becomes a non-nil error.
func mayFailBroken() error {
	var err *MyError // nothing goes wrong, so err stays nil
	return err       // BUG: the error holds (type *MyError, value nil): not nil
}

// mayFailFixed returns a literal nil when nothing went wrong.
func mayFailFixed() error {
	var err *MyError
	if err != nil {
		return err
	}
	return nil // FIX: the nil interface: no type, no value
}

// describe prints what the caller compares against nil.
func describe(err error) {
	fmt.Printf("err != nil: %v, dynamic type %T, value %#v\n", err != nil, err, err)
}

// nilInterfaceBroken takes the error branch and calls Error on a nil pointer.
func nilInterfaceBroken(ctx context.Context) error {
	err := mayFailBroken()
	describe(err)
	if err != nil {
		fmt.Println("error:", err.Error()) // BUG: Error dereferences the nil *MyError and panics
	}
	return nil
}

// nilInterfaceFixed sees a real nil and takes the success branch.
func nilInterfaceFixed(ctx context.Context) error {
	err := mayFailFixed()
	describe(err)
	if err != nil {
		fmt.Println("error:", err.Error())
		return fmt.Errorf("mayFail reported %T, want nil", err)
	}
	fmt.Println("no error")
	return nil
}
