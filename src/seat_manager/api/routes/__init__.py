"""HTTP routes, one module per audience (operator, admin, public)."""
