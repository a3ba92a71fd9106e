"""Background jobs: one model, one runner, one progress writer, one sweeper; and the checks and
decoders every upload goes through. See docs/architecture.md, "Adding a background job"."""
