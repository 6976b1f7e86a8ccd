"""HTTP conventions of DESIGN.md: the envelope, error codes, validation, pagination and middlewares."""
