"""Safety: rate limits now; adult-only rules, likeness consent and healthy-use nudges next."""
