"""Payments through Stripe: Checkout Sessions for Spark packs and monthly plans, the customer
portal, and signed webhooks applied exactly once to the Spark ledger."""
