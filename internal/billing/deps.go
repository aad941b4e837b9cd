package billing

import (
	_ "github.com/stripe/stripe-go/v82"
	_ "github.com/stripe/stripe-go/v82/webhook"
)
