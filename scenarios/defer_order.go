package scenarios

import (
	"context"
	"fmt"
)

var deferOrder = Scenario{
	ID:       "defer-order",
	Title:    "When deferred calls run, and what they see",
	Category: "Gotchas",
	Statement: "withdraw locks an account, defers the unlock, defers a log of the closing " +
		"balance, then takes 30 from a balance of 100. In which order do the deferred calls " +
		"run, and which balance is logged?",
	Failure: "Deferred calls run last-in first-out when the function returns, so the log of " +
		"the balance runs before the unlock. And a deferred call's arguments are evaluated at " +
		"the defer statement, not when the call runs: the log was handed the balance while it " +
		"was still 100, and it logs 100 although the account holds 70.",
	Fix: "Defer a closure instead: defer func() { log(balance) }(). The closure's call has no " +
		"arguments to evaluate early; its body reads balance when it runs, after the " +
		"withdrawal, and logs 70. The order stays last-in first-out.",
	File: "defer_order.go",
	Variants: []Variant{
		{Name: "broken", Expect: Wrong, Run: deferOrderBroken},
		{Name: "fixed", Expect: OK, Run: deferOrderFixed},
	},
}

// account shows each step on the timeline and remembers the logged balance.
type account struct {
	ctx    context.Context
	logged int
}

func (a *account) step(what string) { show(a.ctx, "step", "%s", what) }

func (a *account) logBalance(balance int) {
	a.logged = balance
	show(a.ctx, "step", "closing balance %d", balance)
}

func withdrawBroken(a *account, amount int) {
	balance := 100
	a.step("lock")
	defer a.step("unlock")      // deferred first: runs last
	defer a.logBalance(balance) // BUG: balance is evaluated here, while it is still 100
	balance -= amount
	a.step(fmt.Sprintf("withdrew %d", amount))
}

func withdrawFixed(a *account, amount int) {
	balance := 100
	a.step("lock")
	defer a.step("unlock")                   // deferred first: runs last
	defer func() { a.logBalance(balance) }() // FIX: reads balance when it runs
	balance -= amount
	a.step(fmt.Sprintf("withdrew %d", amount))
}

// checkBalance is the scenario's check of the logged balance.
func checkBalance(a *account) error {
	if a.logged != 70 {
		return fmt.Errorf("closing balance logged as %d, want 70", a.logged)
	}
	return nil
}

func deferOrderBroken(ctx context.Context) error {
	a := &account{ctx: ctx}
	withdrawBroken(a, 30)
	return checkBalance(a)
}

func deferOrderFixed(ctx context.Context) error {
	a := &account{ctx: ctx}
	withdrawFixed(a, 30)
	return checkBalance(a)
}
