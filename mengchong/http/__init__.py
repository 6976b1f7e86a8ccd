"""HTTP conventions of DESIGN.md: envelope, error codes, validation, pagination, request pipeline."""
