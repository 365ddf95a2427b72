package scenarios

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"time"
)

var contextRequestCancel = Scenario{
	ID:       "context-request-cancel",
	Title:    "A background job on the request's context",
	Category: "Wrong results",
	Statement: "An HTTP handler accepts an order, starts a goroutine to send the confirmation " +
		"e-mail with the request's context, and responds at once. The mail service takes " +
		"20 ms. Is the confirmation sent?",
	Failure: "No. The server cancels a request's context as soon as the handler returns, and " +
		"this handler returns at once, so the goroutine's context is cancelled long before the " +
		"mail service answers, and the send gives up with \"context canceled\". The work was " +
		"meant to outlive the request, but it inherited the request's lifetime. The scenario " +
		"runs a real HTTP server (net/http/httptest) and fails when the mail is not sent.",
	Fix: "Give the background work a context that keeps the request's values but not its " +
		"cancellation: context.WithoutCancel(r.Context()) (Go 1.21). Add a timeout of its own " +
		"so that the job still cannot run for ever.",
	File: "context_request_cancel.go",
	Variants: []Variant{
		{Name: "broken", Expect: Wrong, Run: requestCancelBroken},
		{Name: "fixed", Expect: OK, Run: requestCancelFixed},
	},
}

// sendConfirmation stands for a call to a mail service that honours ctx.
func sendConfirmation(ctx context.Context, order string) error {
	select {
	case <-time.After(20 * time.Millisecond):
		fmt.Println("confirmation sent for", order)
		return nil
	case <-ctx.Done():
		return fmt.Errorf("confirmation for %s not sent: %w", order, ctx.Err())
	}
}

// placeOrder serves one order request and waits for its confirmation.
// jobContext picks the context the background job runs with.
func placeOrder(jobContext func(r *http.Request) (context.Context, context.CancelFunc)) error {
	sent := make(chan error, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := jobContext(r)
		go func() {
			defer cancel()
			sent <- sendConfirmation(ctx, "order-1")
		}()
		fmt.Fprintln(w, "order accepted")
	}))
	defer srv.Close()

	resp, err := srv.Client().Post(srv.URL, "text/plain", nil)
	if err != nil {
		return fmt.Errorf("place order: %w", err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return fmt.Errorf("read response: %w", err)
	}
	fmt.Print("server: ", string(body))
	return <-sent
}

func requestCancelBroken(ctx context.Context) error {
	return placeOrder(func(r *http.Request) (context.Context, context.CancelFunc) {
		return r.Context(), func() {} // BUG: cancelled as soon as the handler returns
	})
}

func requestCancelFixed(ctx context.Context) error {
	return placeOrder(func(r *http.Request) (context.Context, context.CancelFunc) {
		ctx := context.WithoutCancel(r.Context())    // FIX: keeps values, not cancellation
		return context.WithTimeout(ctx, time.Second) // FIX: a limit of its own
	})
}
