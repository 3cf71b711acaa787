"""What each GraphQL operation does; one module per operation."""
